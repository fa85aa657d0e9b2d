package compute

import "testing"

// TestAnnouncedMicroversions: 2.100 is the announced maximum, since every
// change up to it is implemented (2.86's extra spec validation the last), and
// negotiation holds to it: 2.100 and latest answer as 2.100, 2.101 is 406.
func TestAnnouncedMicroversions(t *testing.T) {
	e := newTestEnv(t, nil)
	doc := e.Must(200, "GET", "/v2.1", "", nil)["version"].(map[string]any)
	if doc["version"] != "2.100" || doc["min_version"] != "2.1" {
		t.Errorf("GET /v2.1 announces %v to %v, want 2.1 to 2.100", doc["min_version"], doc["version"])
	}
	list := e.Must(200, "GET", "/", "", nil)["versions"].([]any)
	if v := list[0].(map[string]any)["version"]; v != "2.100" {
		t.Errorf("GET / announces %v, want 2.100", v)
	}
	for _, version := range []string{"2.100", "latest"} {
		status, _, hdr := e.doAt(version, "GET", "/v2.1/flavors", e.DemoToken, nil)
		if got := hdr.Get("OpenStack-API-Version"); status != 200 || got != "compute 2.100" {
			t.Errorf("at %s: status %d, echoed %q; want 200 and compute 2.100", version, status, got)
		}
	}
	out := e.mustAt(406, "2.101", "GET", "/v2.1/flavors", e.DemoToken, nil)
	want := "Version 2.101 is not supported by the API. Minimum is 2.1 and maximum is 2.100."
	if msg := out["notAcceptable"].(map[string]any)["message"]; msg != want {
		t.Errorf("2.101 answers %v, want %q", out, want)
	}
}
