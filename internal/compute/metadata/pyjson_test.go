package metadata

import (
	"encoding/json"
	"testing"
)

// TestPyJSON checks the serialiser against what Python's json.dumps writes, e.g.
// python3 -c 'import json; print(json.dumps({"a": "é<>&\u2028", "b": [1, {}], "c": "\x08\x0c\x01"}))'.
func TestPyJSON(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{object{{"a", "é<>&\u2028"}, {"b", []any{1, object{}}}, {"c", "\b\f\x01"}}, `{"a": "\u00e9<>&\u2028", "b": [1, {}], "c": "\b\f\u0001"}`},
		{object{{"z", nil}, {"a", true}, {"q", `"\` + "\n\r\t\x7f"}}, `{"z": null, "a": true, "q": "\"\\\n\r\t\u007f"}`},
		{"😀", `"\ud83d\ude00"`},
		{"\xff", `"\ufffd"`},
		{map[string]string{"b": "2", "a": "1"}, `{"a": "1", "b": "2"}`},
		{[]string{}, `[]`},
		{[]string{"x", "y"}, `["x", "y"]`},
		{int64(-3), `-3`},
	} {
		if got := string(pyJSON(tc.v)); got != tc.want {
			t.Errorf("pyJSON(%#v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// TestPyFloat checks Python's float repr: python3 -c 'print(repr(1e16), repr(1e-05), ...)'.
func TestPyFloat(t *testing.T) {
	for in, want := range map[string]string{
		"1.50": "1.5", "1e5": "100000.0", "1e16": "1e+16", "1.5e16": "1.5e+16", "0.0001": "0.0001",
		"1e-5": "1e-05", "123e-7": "1.23e-05", "-2.0": "-2.0", "0.0": "0.0", "1e400": "Infinity",
		"123456789012345.6": "123456789012345.6", "3": "3",
	} {
		v, err := parsePyJSON([]byte(in))
		if err != nil {
			t.Fatalf("parse %s: %v", in, err)
		}
		if got := string(v.(json.Number)); got != want {
			t.Errorf("%s comes out %s, want %s", in, got, want)
		}
	}
}
