package compute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// netUUID is a network with a UUID id, as 2.37's schema requires.
const netUUID = "8e6a2a34-7c4e-4e4f-9c35-3a2a7d0b6b11"

// doAt sends a request at compute microversion version.
func (e *testEnv) doAt(version, method, path, token string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	status, out, _, hdr := e.send(version, method, path, token, body)
	return status, out, hdr
}

func (e *testEnv) mustAt(want int, version, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, _ := e.doAt(version, method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s at %s: status %d, want %d: %v", method, path, version, status, want, out)
	}
	return out
}

// activeServer boots a server at version through the conductor and the fake
// agent on h1 and returns its id.
func (e *testEnv) activeServer(version string, attrs map[string]any) string {
	e.t.Helper()
	body := serverBody(map[string]any{"networks": []any{map[string]any{"uuid": netUUID}}})
	for k, v := range attrs {
		body["server"].(map[string]any)[k] = v
	}
	id := e.mustAt(202, version, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
	e.conduct()
	e.agent()
	return id
}

// agent converges h1 once with one fake driver for the whole test.
func (e *testEnv) agent() {
	e.t.Helper()
	if e.drivers == nil {
		e.drivers = map[string]*fake.Driver{}
	}
	d := e.drivers["h1"]
	if d == nil {
		d = fake.New(virt.HostResources{})
		e.drivers["h1"] = d
	}
	agentFor(e.t, e, "h1", d)()
}

func newMVEnv(t *testing.T) *testEnv {
	e := newTestEnv(t, nil)
	e.net.networks = map[string]NetworkInfo{netUUID: {ID: netUUID, Name: "private", ProjectID: e.DemoProject, MTU: 1450}}
	e.host("h1", 8, 8192, 100)
	return e
}

// TestServerViewByMicroversion: each field appears from the version upstream
// added it, for whom upstream's policy shows it; 2.1 is unchanged.
func TestServerViewByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	for _, tc := range []struct {
		version, token string
		present        []string
		absent         []string
	}{
		{"2.1", e.AdminToken, []string{"OS-EXT-SRV-ATTR:host"}, []string{"OS-EXT-SRV-ATTR:reservation_id", "locked", "description", "tags", "host_status"}},
		{"2.3", e.AdminToken, []string{"OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:launch_index", "OS-EXT-SRV-ATTR:hostname",
			"OS-EXT-SRV-ATTR:kernel_id", "OS-EXT-SRV-ATTR:ramdisk_id", "OS-EXT-SRV-ATTR:root_device_name", "OS-EXT-SRV-ATTR:user_data"}, []string{"locked"}},
		{"2.3", e.DemoToken, nil, []string{"OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:hostname"}},
		{"2.9", e.DemoToken, []string{"locked"}, []string{"host_status"}},
		{"2.16", e.AdminToken, []string{"host_status"}, []string{"description"}},
		{"2.16", e.DemoToken, nil, []string{"host_status"}},
		{"2.19", e.DemoToken, []string{"description"}, []string{"tags"}},
		{"2.26", e.DemoToken, []string{"tags"}, []string{"trusted_image_certificates"}},
		{"2.63", e.DemoToken, []string{"trusted_image_certificates"}, []string{"server_groups"}},
		{"2.71", e.DemoToken, []string{"server_groups"}, []string{"locked_reason"}},
		{"2.73", e.DemoToken, []string{"locked_reason"}, []string{"OS-EXT-SRV-ATTR:hostname"}},
		{"2.90", e.DemoToken, []string{"OS-EXT-SRV-ATTR:hostname"}, []string{"pinned_availability_zone", "OS-EXT-SRV-ATTR:host"}},
		{"2.96", e.DemoToken, []string{"pinned_availability_zone"}, []string{"scheduler_hints"}},
		{"2.100", e.DemoToken, []string{"scheduler_hints"}, nil},
	} {
		t.Run(tc.version, func(t *testing.T) {
			s := e.mustAt(200, tc.version, "GET", "/v2.1/servers/"+id, tc.token, nil)["server"].(map[string]any)
			for _, k := range tc.present {
				if _, ok := s[k]; !ok {
					t.Errorf("%s missing at %s", k, tc.version)
				}
			}
			for _, k := range tc.absent {
				if _, ok := s[k]; ok {
					t.Errorf("%s present at %s: %v", k, tc.version, s[k])
				}
			}
		})
	}
	s := e.mustAt(200, "2.100", "GET", "/v2.1/servers/"+id, e.AdminToken, nil)["server"].(map[string]any)
	for k, want := range map[string]any{"host_status": "UP", "locked": false, "description": "vm", "OS-EXT-SRV-ATTR:hostname": "vm",
		"OS-EXT-SRV-ATTR:launch_index": float64(0), "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda", "OS-EXT-SRV-ATTR:user_data": nil,
		"trusted_image_certificates": nil, "locked_reason": nil, "pinned_availability_zone": nil} {
		if fmt.Sprint(s[k]) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", k, s[k], want)
		}
	}
	flavor, _ := json.Marshal(s["flavor"])
	if want := `{"disk":1,"ephemeral":0,"extra_specs":{},"original_name":"m1.tiny","ram":512,"swap":0,"vcpus":1}`; string(flavor) != want {
		t.Errorf("2.47 flavor = %s, want %s", flavor, want)
	}
	image, _ := json.Marshal(s["image"].(map[string]any)["properties"])
	if want := `{"architecture":"x86_64","hypervisor_type":"qemu"}`; string(image) != want {
		t.Errorf("2.98 image properties = %s, want %s", image, want)
	}
	old := e.mustAt(200, "2.46", "GET", "/v2.1/servers/"+id, e.DemoToken, nil)["server"].(map[string]any)
	if f := old["flavor"].(map[string]any); f["id"] != "1" || f["links"] == nil {
		t.Errorf("2.46 flavor = %v, want the id and links", f)
	}
	// The detail list shows the same, except server_groups (show only).
	list := e.mustAt(200, "2.100", "GET", "/v2.1/servers/detail", e.DemoToken, nil)["servers"].([]any)
	if d := list[0].(map[string]any); d["server_groups"] != nil || d["tags"] == nil || d["OS-EXT-SRV-ATTR:hostname"] != "vm" {
		t.Errorf("detail at 2.100: %v", d)
	}
}

// TestHostStatus: 2.16's host_status follows the compute service.
func TestHostStatus(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	status := func() any {
		return e.mustAt(200, "2.16", "GET", "/v2.1/servers/"+id, e.AdminToken, nil)["server"].(map[string]any)["host_status"]
	}
	if st := status(); st != "UP" {
		t.Fatalf("host_status = %v, want UP", st)
	}
	for _, tc := range []struct {
		set  string
		want string
	}{
		{`UPDATE compute_services SET disabled = TRUE WHERE host = 'h1'`, "MAINTENANCE"},
		{`UPDATE compute_services SET forced_down = TRUE WHERE host = 'h1'`, "DOWN"},
		{`UPDATE compute_services SET disabled = FALSE, forced_down = FALSE, last_seen_at = '2000-01-01T00:00:00Z' WHERE host = 'h1'`, "UNKNOWN"},
	} {
		if _, err := e.Compute.db.ExecContext(t.Context(), tc.set); err != nil {
			t.Fatal(err)
		}
		if st := status(); st != tc.want {
			t.Errorf("after %q: host_status = %v, want %s", tc.set, st, tc.want)
		}
	}
}

// TestCreateByMicroversion: the create body's fields of each version, and the
// 400s for fields the version lacks or gets wrong.
func TestCreateByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	net := []any{map[string]any{"uuid": netUUID}}
	for _, tc := range []struct {
		name, version string
		attrs         map[string]any
		token         string
		status        int
		msg           string
	}{
		{"description before 2.19", "2.18", map[string]any{"description": "d"}, "", 400, "'description' was unexpected"},
		{"description too long", "2.19", map[string]any{"description": strings.Repeat("d", 256)}, "", 400, "description"},
		{"tags before 2.52", "2.51", map[string]any{"tags": []any{"a"}}, "", 400, "'tags' was unexpected"},
		{"tag with a slash", "2.52", map[string]any{"tags": []any{"a/b"}}, "", 400, "Invalid input for field/attribute 0. Value: a/b. 'a/b' does not match '^[^,/]*$'"},
		{"too many tags", "2.52", map[string]any{"tags": manyTags(51)}, "", 400, "too long"},
		{"networks required from 2.37", "2.37", map[string]any{"networks": nil}, "", 400, "'networks' is a required property"},
		{"networks not auto or none", "2.37", map[string]any{"networks": "some"}, "", 400, "Invalid input for field/attribute networks. Value: some. 'some' is not valid under any of the given schemas"},
		{"auto or none before 2.37", "2.36", map[string]any{"networks": "none"}, "", 400, "is not of type 'array'"},
		{"network uuid not a uuid", "2.37", map[string]any{"networks": []any{map[string]any{"uuid": "net-1"}}}, "", 400, "Invalid input for field/attribute networks. Value: [{'uuid': 'net-1'}]. [{'uuid': 'net-1'}] is not valid under any of the given schemas"},
		{"network tag in 2.37", "2.37", map[string]any{"networks": []any{map[string]any{"uuid": netUUID, "tag": "nic1"}}}, "", 400, "is not valid under any of the given schemas"},
		{"network tag in 2.31", "2.31", map[string]any{"networks": []any{map[string]any{"uuid": netUUID, "tag": "nic1"}}}, "", 400, "'tag' was unexpected"},
		{"bad network tag", "2.42", map[string]any{"networks": []any{map[string]any{"uuid": netUUID, "tag": "a,b"}}}, "", 400, "tag"},
		{"personality from 2.57", "2.57", map[string]any{"personality": []any{}}, "", 400, "'personality' was unexpected"},
		{"trusted certificates", "2.63", map[string]any{"trusted_image_certificates": []any{"c"}}, "", 400, "not supported"},
		{"host before 2.74", "2.73", map[string]any{"host": "h1"}, "", 400, "'host' was unexpected"},
		{"host as a member", "2.74", map[string]any{"host": "h1"}, "", 403, "requested_destination"},
		{"unknown host", "2.74", map[string]any{"host": "h9"}, "admin", 400, "Compute host h9 could not be found."},
		{"unknown node", "2.74", map[string]any{"hypervisor_hostname": "h9"}, "admin", 400, "Compute host h9 could not be found."},
		{"host and a forced host", "2.74", map[string]any{"host": "h1", "availability_zone": "nova:h1"}, "admin", 400, "mutually exclusive"},
		{"hostname before 2.90", "2.89", map[string]any{"hostname": "web"}, "", 400, "'hostname' was unexpected"},
		{"hostname with a dot in 2.90", "2.90", map[string]any{"hostname": "web.example"}, "", 400, "hostname"},
		{"hostname for several servers", "2.90", map[string]any{"hostname": "web", "max_count": 2}, "", 400, "single hostname to multiple instances"},
		{"hostname not a string", "2.94", map[string]any{"hostname": 5}, "", 400, "is not of type 'string'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := serverBody(map[string]any{"networks": net})
			for k, v := range tc.attrs {
				if v == nil {
					delete(body["server"].(map[string]any), k)
				} else {
					body["server"].(map[string]any)[k] = v
				}
			}
			token := e.DemoToken
			if tc.token == "admin" {
				token = e.AdminToken
			}
			status, out, _ := e.doAt(tc.version, "POST", "/v2.1/servers", token, body)
			if status != tc.status || !strings.Contains(fmt.Sprint(out), tc.msg) {
				t.Fatalf("status %d %v, want %d with %q", status, out, tc.status, tc.msg)
			}
		})
	}

	// What the accepted fields become.
	id := e.activeServer("2.100", map[string]any{"description": "web tier", "tags": []any{"a", "b", "a"}, "hostname": "web-1",
		"networks": []any{map[string]any{"uuid": netUUID, "tag": "nic1"}}, "trusted_image_certificates": nil})
	s := e.mustAt(200, "2.100", "GET", "/v2.1/servers/"+id, e.DemoToken, nil)["server"].(map[string]any)
	if s["description"] != "web tier" || fmt.Sprint(s["tags"]) != "[a b]" || s["OS-EXT-SRV-ATTR:hostname"] != "web-1" || s["status"] != "ACTIVE" {
		t.Errorf("created at 2.100: %v", s)
	}
	in, err := loadInstance(t.Context(), e.Compute.db, id)
	if err != nil || in.Request.Networks[0].Tag != "nic1" {
		t.Errorf("device tag not kept: %+v %v", in, err)
	}
	fqdn := e.activeServer("2.94", map[string]any{"hostname": "web.example.org"})
	if h := e.mustAt(200, "2.94", "GET", "/v2.1/servers/"+fqdn, e.DemoToken, nil)["server"].(map[string]any)["OS-EXT-SRV-ATTR:hostname"]; h != "web.example.org" {
		t.Errorf("2.94 hostname = %v", h)
	}
	// 2.74: an admin's requested host is where the server goes.
	e.host("h2", 8, 8192, 100)
	body := serverBody(map[string]any{"networks": "none", "host": "h2"})
	onH2 := e.mustAt(202, "2.74", "POST", "/v2.1/servers", e.AdminToken, body)["server"].(map[string]any)["id"].(string)
	e.conduct()
	if h := e.server(onH2)["OS-EXT-SRV-ATTR:host"]; h != "h2" {
		t.Errorf("requested host h2, placed on %v", h)
	}
	// 2.96: the zone asked for is pinned; none asked, null (checked above).
	pinned := e.mustAt(202, "2.96", "POST", "/v2.1/servers", e.DemoToken,
		serverBody(map[string]any{"networks": "none", "availability_zone": "nova"}))["server"].(map[string]any)["id"].(string)
	if z := e.mustAt(200, "2.96", "GET", "/v2.1/servers/"+pinned, e.DemoToken, nil)["server"].(map[string]any)["pinned_availability_zone"]; z != "nova" {
		t.Errorf("pinned_availability_zone = %v, want nova", z)
	}
	// 2.100: the hints are shown as given.
	hinted := serverBody(map[string]any{"networks": "none"})
	hinted["os:scheduler_hints"] = map[string]any{"same_host": id}
	hid := e.mustAt(202, "2.100", "POST", "/v2.1/servers", e.DemoToken, hinted)["server"].(map[string]any)["id"].(string)
	if h := e.mustAt(200, "2.100", "GET", "/v2.1/servers/"+hid, e.DemoToken, nil)["server"].(map[string]any)["scheduler_hints"]; fmt.Sprint(h) != "map[same_host:"+id+"]" {
		t.Errorf("scheduler_hints = %v", h)
	}
}

func manyTags(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

// TestNetworksAutoAndNone: 2.37's "none" boots without a port through the
// conductor and the agent; "auto" picks the project's one network, else the one
// shared network.
func TestNetworksAutoAndNone(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.37", map[string]any{"networks": "none"})
	s := e.mustAt(200, "2.37", "GET", "/v2.1/servers/"+id, e.DemoToken, nil)["server"].(map[string]any)
	if s["status"] != "ACTIVE" || len(s["addresses"].(map[string]any)) != 0 || e.net.count() != 0 {
		t.Fatalf("networks none: status %v addresses %v ports %d", s["status"], s["addresses"], e.net.count())
	}
	e.mustAt(204, "2.37", "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)

	const shared1, shared2, own2 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"
	for _, tc := range []struct {
		name     string
		networks map[string]NetworkInfo
		status   int
		want     string
	}{
		{"the project's one network", map[string]NetworkInfo{netUUID: {ID: netUUID, ProjectID: e.DemoProject},
			shared1: {ID: shared1, ProjectID: "other", Shared: true}}, 202, netUUID},
		{"the one shared network", map[string]NetworkInfo{shared1: {ID: shared1, ProjectID: "other", Shared: true}}, 202, shared1},
		{"two shared networks", map[string]NetworkInfo{shared1: {ID: shared1, Shared: true}, shared2: {ID: shared2, Shared: true}}, 409, "Multiple possible networks"},
		{"two own networks", map[string]NetworkInfo{netUUID: {ID: netUUID, ProjectID: e.DemoProject}, own2: {ID: own2, ProjectID: e.DemoProject}}, 409, "Multiple possible networks"},
		{"no network", map[string]NetworkInfo{}, 400, "Unable to automatically allocate a network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.net.mu.Lock()
			e.net.networks = tc.networks
			e.net.mu.Unlock()
			status, out, _ := e.doAt("2.37", "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"networks": "auto"}))
			if status != tc.status {
				t.Fatalf("status %d %v, want %d", status, out, tc.status)
			}
			if status != 202 {
				if !strings.Contains(fmt.Sprint(out), tc.want) {
					t.Fatalf("%v, want %q", out, tc.want)
				}
				return
			}
			in, err := loadInstance(t.Context(), e.Compute.db, out["server"].(map[string]any)["id"].(string))
			if err != nil || len(in.Request.Networks) != 1 || in.Request.Networks[0].NetworkID != tc.want {
				t.Fatalf("networks %+v %v, want %s", in.Request.Networks, err, tc.want)
			}
		})
	}
}

// TestServerTagsAPI: 2.26's tags API, as upstream answers each call.
func TestServerTagsAPI(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.52", map[string]any{"tags": []any{"one"}})
	base := "/v2.1/servers/" + id + "/tags"
	steps := []struct {
		version, method, path string
		body                  any
		status                int
		tags                  string // the server's tags after the call
	}{
		{"2.25", "GET", base, nil, 404, "[one]"},
		{"2.26", "GET", base, nil, 200, "[one]"},
		{"2.26", "PUT", base + "/two", nil, 201, "[one two]"},
		{"2.26", "PUT", base + "/two", nil, 204, "[one two]"},
		{"2.26", "GET", base + "/two", nil, 204, "[one two]"},
		{"2.26", "GET", base + "/three", nil, 404, "[one two]"},
		{"2.26", "DELETE", base + "/three", nil, 404, "[one two]"},
		{"2.26", "DELETE", base + "/one", nil, 204, "[two]"},
		{"2.26", "PUT", base, map[string]any{"tags": []any{"x", "y"}}, 200, "[x y]"},
		{"2.26", "PUT", base, map[string]any{"tags": []any{"x,y"}}, 400, "[x y]"},
		{"2.26", "PUT", base, map[string]any{"tags": manyTags(51)}, 400, "[x y]"},
		{"2.26", "PUT", base, map[string]any{"nope": []any{}}, 400, "[x y]"},
		{"2.26", "DELETE", base, nil, 204, "[]"},
		{"2.26", "PUT", base, map[string]any{"tags": manyTags(50)}, 200, fmt.Sprint(manyTags(50))},
		{"2.26", "PUT", base + "/t0", nil, 400, fmt.Sprint(manyTags(50))}, // at the limit, even one it has
	}
	for _, st := range steps {
		status, out, hdr := e.doAt(st.version, st.method, st.path, e.DemoToken, st.body)
		if status != st.status {
			t.Fatalf("%s %s at %s: %d %v, want %d", st.method, st.path, st.version, status, out, st.status)
		}
		if status == 201 && hdr.Get("Location") != e.URL+base+"/two" {
			t.Errorf("Location = %q", hdr.Get("Location"))
		}
		got := e.mustAt(200, "2.26", "GET", base, e.DemoToken, nil)["tags"]
		if fmt.Sprint(got) != st.tags {
			t.Fatalf("after %s %s: tags %v, want %s", st.method, st.path, got, st.tags)
		}
	}
	// Another project's server is 404.
	other, _ := e.identity.NewProjectUser("other-project")
	if status, _, _ := e.doAt("2.26", "GET", base, other, nil); status != 404 {
		t.Errorf("another project's tags: %d, want 404", status)
	}
}

// TestListFiltersByMicroversion: the list filters of 2.26-2.90 and the 400s of
// 2.38 and 2.75.
func TestListFiltersByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	a := e.activeServer("2.52", map[string]any{"name": "a", "tags": []any{"red", "big"}})
	b := e.activeServer("2.52", map[string]any{"name": "b", "tags": []any{"red"}})
	c := e.activeServer("2.52", map[string]any{"name": "c"})
	e.mustAt(202, "2.73", "POST", "/v2.1/servers/"+c+"/action", e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": "keep"}})
	names := map[string]string{a: "a", b: "b", c: "c"}
	for _, tc := range []struct {
		version, query string
		token          string
		status         int
		want           string
	}{
		{"2.26", "tags=red", "", 200, "a b"},
		{"2.26", "tags=red,big", "", 200, "a"},
		{"2.26", "tags-any=big,none", "", 200, "a"},
		{"2.26", "not-tags=red,big", "", 200, "b c"},
		{"2.26", "not-tags-any=red", "", 200, "c"},
		{"2.25", "tags=big", "", 200, "a b c"}, // not a filter yet
		{"2.73", "locked=true", "", 200, "c"},
		{"2.73", "locked=false", "", 200, "a b"},
		{"2.73", "locked=maybe", "", 400, "Unrecognized value 'maybe'"},
		{"2.72", "locked=true", "", 200, "a b c"},
		{"2.37", "status=WHATEVER", "", 200, ""},
		{"2.38", "status=WHATEVER", "", 400, "Invalid status value"},
		{"2.38", "status=active", "", 200, "a b c"},
		{"2.74", "foo=bar", "", 200, "a b c"},
		{"2.75", "foo=bar", "", 400, "Additional properties are not allowed ('foo' was unexpected)"},
		{"2.75", "name=^a$&limit=5&tags=red", "", 200, "a"},
		{"2.82", "vm_state=stopped", "", 200, "a b c"}, // dropped for non-admins before 2.83
		{"2.83", "vm_state=stopped", "", 200, ""},
		{"2.83", "vm_state=active&user_id=nobody", "", 200, ""},
		{"2.82", "vm_state=stopped", "admin", 200, ""},
		{"2.89", "hostname=^b$", "", 200, "a b c"},
		{"2.90", "hostname=^b$", "", 200, "b"},
		{"2.66", "changes-before=2000-01-01T00:00:00Z", "", 200, ""},
		{"2.66", "changes-before=2999-01-01T00:00:00Z", "", 200, "a b c"},
		{"2.66", "changes-before=yesterday", "", 400, "is not a 'date-time'"},
		{"2.66", "changes-since=2999-01-01T00:00:00Z&changes-before=2000-01-01T00:00:00Z", "", 400, "changes-since must be less than or equal to changes-before"},
	} {
		t.Run(tc.version+" "+tc.query, func(t *testing.T) {
			token, path := e.DemoToken, "/v2.1/servers?"+tc.query
			if tc.token == "admin" {
				token, path = e.AdminToken, path+"&project_id="+e.DemoProject
			}
			status, out, _ := e.doAt(tc.version, "GET", path, token, nil)
			if status != tc.status {
				t.Fatalf("status %d %v, want %d", status, out, tc.status)
			}
			if status != 200 {
				if !strings.Contains(fmt.Sprint(out), tc.want) {
					t.Fatalf("%v, want %q", out, tc.want)
				}
				return
			}
			var got []string
			for _, s := range out["servers"].([]any) {
				got = append(got, names[s.(map[string]any)["id"].(string)])
			}
			slices.Sort(got)
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("servers %v, want %s", got, tc.want)
			}
		})
	}
}

// TestUpdateAndLockByMicroversion: description (2.19), hostname (2.90) and the
// lock reason (2.73).
func TestUpdateAndLockByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	path := "/v2.1/servers/" + id
	for _, tc := range []struct {
		version string
		body    map[string]any
		status  int
		field   string
		want    any
	}{
		{"2.18", map[string]any{"description": "d"}, 400, "", nil},
		{"2.19", map[string]any{"description": "new"}, 200, "description", "new"},
		{"2.19", map[string]any{"description": nil}, 200, "description", nil},
		{"2.89", map[string]any{"hostname": "h"}, 400, "", nil},
		{"2.90", map[string]any{"hostname": "-bad"}, 400, "", nil},
		{"2.90", map[string]any{"hostname": "renamed"}, 200, "OS-EXT-SRV-ATTR:hostname", "renamed"},
		{"2.94", map[string]any{"hostname": "renamed.example.org"}, 200, "OS-EXT-SRV-ATTR:hostname", "renamed.example.org"},
	} {
		status, out, _ := e.doAt(tc.version, "PUT", path, e.DemoToken, map[string]any{"server": tc.body})
		if status != tc.status {
			t.Fatalf("PUT %v at %s: %d %v, want %d", tc.body, tc.version, status, out, tc.status)
		}
		if status == 200 {
			if got := out["server"].(map[string]any)[tc.field]; fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("PUT %v at %s: %s = %v, want %v", tc.body, tc.version, tc.field, got, tc.want)
			}
		}
	}
	show := func(v string) map[string]any {
		return e.mustAt(200, v, "GET", path, e.DemoToken, nil)["server"].(map[string]any)
	}
	// Before 2.73 the reason is ignored.
	e.mustAt(202, "2.72", "POST", path+"/action", e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": "old"}})
	if s := show("2.73"); s["locked"] != true || s["locked_reason"] != nil {
		t.Errorf("locked at 2.72: %v %v", s["locked"], s["locked_reason"])
	}
	e.mustAt(202, "2.73", "POST", path+"/action", e.DemoToken, map[string]any{"unlock": nil})
	e.mustAt(400, "2.73", "POST", path+"/action", e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": strings.Repeat("r", 256)}})
	e.mustAt(202, "2.73", "POST", path+"/action", e.DemoToken, map[string]any{"lock": map[string]any{"locked_reason": "maintenance"}})
	if s := show("2.73"); s["locked"] != true || s["locked_reason"] != "maintenance" {
		t.Errorf("locked at 2.73: %v %v", s["locked"], s["locked_reason"])
	}
	e.mustAt(202, "2.73", "POST", path+"/action", e.DemoToken, map[string]any{"unlock": nil})
	if s := show("2.73"); s["locked"] != false || s["locked_reason"] != nil {
		t.Errorf("unlocked: %v %v", s["locked"], s["locked_reason"])
	}
}
