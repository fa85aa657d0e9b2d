package compute

import "testing"

// TestConsoleText: upstream's _tail_log and control-character filter
// (nova/compute/manager.py, nova/api/openstack/compute/console_output.py).
func TestConsoleText(t *testing.T) {
	n := func(v int) *int { return &v }
	log := "one\r\ntwo\r\n\x1b[0mthree\r\n"
	for _, tc := range []struct {
		name   string
		length *int
		want   string
	}{
		{"no length: all of it, stripped", nil, "one\ntwo\n[0mthree\n"},
		{"a log ending in a newline: N-1 lines and an empty piece", n(2), "[0mthree\n"},
		{"one: the empty last piece", n(1), ""},
		{"zero: nothing", n(0), ""},
		{"more than there are", n(10), "one\ntwo\n[0mthree\n"},
		{"-1: upstream's slice [1:] drops the first piece", n(-1), "two\n[0mthree\n"},
	} {
		if got := consoleText(log, tc.length); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := consoleText("a\x00b\x08c\td\ne\x0bf\x1fg\x7f", nil); got != "abc\td\nefg\x7f" {
		t.Errorf("control characters: %q", got)
	}
}
