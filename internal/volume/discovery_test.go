package volume

import (
	"net/http"
	"strings"
	"testing"
)

func TestVolumeDiscovery(t *testing.T) {
	e := newTestEnv(t, nil)
	body := e.Must(http.StatusMultipleChoices, "GET", "/", "", nil)
	versions := body["versions"].([]any)
	v := versions[0].(map[string]any)
	if v["id"] != "v3.0" || v["version"] != "3.70" || v["min_version"] != "3.0" || v["status"] != "CURRENT" {
		t.Fatalf("version document %v", v)
	}
	if e.Must(http.StatusOK, "GET", "/v3/", "", nil)["versions"] == nil {
		t.Fatal("GET /v3/ lists no versions")
	}
	status, _, _, h := e.Do("GET", "/v3", "", nil, nil)
	if status != http.StatusFound || !strings.HasSuffix(h.Get("Location"), "/v3/") {
		t.Fatalf("GET /v3: %d %s", status, h.Get("Location"))
	}
}

func TestVolumeMicroversionNegotiation(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct {
		header string
		status int
		echo   string
		msg    string
	}{
		{"", 200, "volume 3.0", ""},
		{"volume 3.27", 200, "volume 3.27", ""},
		{"volume latest", 200, "volume 3.70", ""},
		{"compute 2.1, volume 3.44", 200, "volume 3.44", ""},
		{"volume 3.99", 406, "", "Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.70."},
		{"volume 2.0", 406, "", "Version 2.0 is not supported by the API. Minimum is 3.0 and maximum is 3.70."},
		{"volume 3.x", 400, "", "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum."},
	} {
		h := map[string]string{}
		if tc.header != "" {
			h["OpenStack-API-Version"] = tc.header
		}
		status, body, raw, hdr := e.Do("GET", "/v3/types", e.DemoToken, nil, h)
		if status != tc.status {
			t.Errorf("%q: status %d, want %d (%s)", tc.header, status, tc.status, raw)
			continue
		}
		if tc.echo != "" && hdr.Get("OpenStack-API-Version") != tc.echo {
			t.Errorf("%q: echoed %q, want %q", tc.header, hdr.Get("OpenStack-API-Version"), tc.echo)
		}
		if tc.msg != "" {
			if _, msg := fault(body); msg != tc.msg {
				t.Errorf("%q: message %q, want %q", tc.header, msg, tc.msg)
			}
		}
	}
}

func TestVolumeProjectInURL(t *testing.T) {
	e := newTestEnv(t, nil)
	e.Must(http.StatusOK, "GET", "/v3/"+e.DemoProject+"/types", e.DemoToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/types", e.DemoToken, nil)
	status, body, _, _ := e.Do("GET", "/v3/0123456789abcdef0123456789abcdef/types", e.DemoToken, nil, nil)
	if kind, msg := fault(body); status != 400 || kind != "badRequest" || msg != "Malformed request url" {
		t.Fatalf("another project's URL: %d %s %q", status, kind, msg)
	}
	status, body, _, _ = e.Do("GET", "/v3/nosuchthing", e.DemoToken, nil, nil)
	if kind, _ := fault(body); status != 404 || kind != "itemNotFound" {
		t.Fatalf("unknown path: %d %s", status, kind)
	}
}
