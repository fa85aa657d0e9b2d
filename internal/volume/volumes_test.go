package volume

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
)

// createVolume creates a volume, lets the manager run, and returns its id.
func (e *testEnv) createVolume(token string, body map[string]any) string {
	e.t.Helper()
	out := e.Must(http.StatusAccepted, "POST", "/v3/volumes", token, map[string]any{"volume": body})
	e.settle()
	return out["volume"].(map[string]any)["id"].(string)
}

func (e *testEnv) volume(token, id string) map[string]any {
	e.t.Helper()
	return e.Must(http.StatusOK, "GET", "/v3/volumes/"+id, token, nil)["volume"].(map[string]any)
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestVolumeCreateShowDelete(t *testing.T) {
	e := newTestEnv(t, nil)
	out := e.Must(http.StatusAccepted, "POST", "/v3/volumes", e.DemoToken,
		map[string]any{"volume": map[string]any{"size": 1, "name": " vol1 ", "metadata": map[string]any{"a": "b"}}})
	v := out["volume"].(map[string]any)
	if v["status"] != "creating" || v["name"] != "vol1" || v["size"] != float64(1) || v["volume_type"] != DefaultTypeName ||
		v["bootable"] != "false" || v["availability_zone"] != "nova" {
		t.Fatalf("created volume %v", v)
	}
	id := v["id"].(string)
	e.settle()
	v = e.volume(e.DemoToken, id)
	if v["status"] != "available" {
		t.Fatalf("after the manager's pass: %v", v["status"])
	}
	// the 3.0 detail keys a member sees, exactly
	want := []string{"attachments", "availability_zone", "bootable", "consistencygroup_id", "created_at", "description",
		"encrypted", "id", "links", "metadata", "multiattach", "name", "os-vol-tenant-attr:tenant_id", "replication_status",
		"size", "snapshot_id", "source_volid", "status", "updated_at", "user_id", "volume_type"}
	if got := keysOf(v); !slices.Equal(got, want) {
		t.Fatalf("3.0 keys\n got %v\nwant %v", got, want)
	}
	v63 := e.MustV(http.StatusOK, "3.65", "GET", "/v3/volumes/"+id, e.DemoToken, nil)["volume"].(map[string]any)
	for _, k := range []string{"group_id", "shared_targets", "service_uuid", "volume_type_id", "consumes_quota"} {
		if _, ok := v63[k]; !ok {
			t.Errorf("3.65 view lacks %s", k)
		}
	}
	admin := e.volume(e.AdminToken, id)
	if admin["os-vol-host-attr:host"] != "node1@alpha#alpha" && admin["os-vol-host-attr:host"] != "node1@beta#beta" {
		t.Fatalf("admin sees host %v", admin["os-vol-host-attr:host"])
	}
	if _, ok := admin["migration_status"]; !ok {
		t.Fatal("admin view lacks migration_status")
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/volumes/"+id, e.DemoToken, nil)
	if st := e.volume(e.DemoToken, id)["status"]; st != "deleting" {
		t.Fatalf("after delete: %v", st)
	}
	e.settle()
	status, body, _, _ := e.Do("GET", "/v3/volumes/"+id, e.DemoToken, nil, nil)
	if kind, msg := fault(body); status != 404 || kind != "itemNotFound" || msg != fmt.Sprintf("Volume %s could not be found.", id) {
		t.Fatalf("deleted volume: %d %s %q", status, kind, msg)
	}
}

func TestVolumeCreateValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"no volume", map[string]any{}, 400, "'volume' is a required property"},
		{"zero size", map[string]any{"volume": map[string]any{"size": 0}}, 400,
			"Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1"},
		{"text size", map[string]any{"volume": map[string]any{"size": "big"}}, 400,
			"Invalid input for field/attribute size. Value: big. 'big' does not match '^[0-9]+$'"},
		{"no size", map[string]any{"volume": map[string]any{"name": "x"}}, 400,
			"Invalid input received: Volume size 'None' must be an integer and greater than 0"},
		{"bad snapshot id", map[string]any{"volume": map[string]any{"size": 1, "snapshot_id": "nope"}}, 400, ""},
		{"unknown type", map[string]any{"volume": map[string]any{"size": 1, "volume_type": "gold"}}, 404,
			"Volume type with name gold could not be found."},
		{"multiattach", map[string]any{"volume": map[string]any{"size": 1, "multiattach": true}}, 400, ""},
		{"unknown zone", map[string]any{"volume": map[string]any{"size": 1, "availability_zone": "mars"}}, 400,
			"Invalid input received: Availability zone 'mars' is invalid."},
		{"missing source", map[string]any{"volume": map[string]any{"source_volid": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"}}, 404,
			"Volume 9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1 could not be found."},
		{"not JSON", []byte("{"), 400, "Malformed request body"},
	} {
		status, body, raw, _ := e.Do("POST", "/v3/volumes", e.DemoToken, tc.body, nil)
		_, msg := fault(body)
		if status != tc.status || tc.msg != "" && msg != tc.msg {
			t.Errorf("%s: %d %s, want %d %q", tc.name, status, raw, tc.status, tc.msg)
		}
	}
	// 3.53 refuses unknown keys; 3.0 ignores them
	e.MustV(http.StatusAccepted, "3.0", "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1, "bogus": 1}})
	e.MustV(http.StatusBadRequest, "3.53", "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1, "bogus": 1}})
}

func TestVolumeListFiltersAndPaging(t *testing.T) {
	e := newTestEnv(t, nil)
	var ids []string
	for i := range 4 {
		ids = append(ids, e.createVolume(e.DemoToken, map[string]any{"size": 1 + i%2, "name": fmt.Sprintf("v%d", i),
			"metadata": map[string]any{"parity": fmt.Sprint(i % 2)}}))
	}
	list := func(query string) []string {
		out := e.Must(http.StatusOK, "GET", "/v3/volumes"+query, e.DemoToken, nil)
		var names []string
		for _, v := range out["volumes"].([]any) {
			names = append(names, fmt.Sprint(v.(map[string]any)["name"]))
		}
		return names
	}
	if got := list("?sort=name:asc"); !slices.Equal(got, []string{"v0", "v1", "v2", "v3"}) {
		t.Fatalf("sorted: %v", got)
	}
	if got := list("?name=v2"); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("name filter: %v", got)
	}
	if got := list("?sort=name:asc&metadata=%7B%27parity%27%3A+%271%27%7D"); !slices.Equal(got, []string{"v1", "v3"}) {
		t.Fatalf("metadata filter: %v", got)
	}
	if got := list("?sort=name:asc&size=2"); !slices.Equal(got, []string{"v1", "v3"}) {
		t.Fatalf("size filter: %v", got)
	}
	page := e.Must(http.StatusOK, "GET", "/v3/volumes?sort=name:asc&limit=2", e.DemoToken, nil)
	if len(page["volumes"].([]any)) != 2 || page["volumes_links"] == nil {
		t.Fatalf("first page %v", page)
	}
	last := page["volumes"].([]any)[1].(map[string]any)["id"].(string)
	if got := list("?sort=name:asc&limit=2&marker=" + last); !slices.Equal(got, []string{"v2", "v3"}) {
		t.Fatalf("second page: %v", got)
	}
	e.Must(http.StatusNotFound, "GET", "/v3/volumes?marker=9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", e.DemoToken, nil)
	e.Must(http.StatusBadRequest, "GET", "/v3/volumes?limit=x", e.DemoToken, nil)
	e.Must(http.StatusBadRequest, "GET", "/v3/volumes?sort=nosuch:asc", e.DemoToken, nil)
	counted := e.MustV(http.StatusOK, "3.45", "GET", "/v3/volumes/detail?with_count=true&limit=1", e.DemoToken, nil)
	if counted["count"] != float64(4) {
		t.Fatalf("count %v", counted["count"])
	}
	summary := e.MustV(http.StatusOK, "3.12", "GET", "/v3/volumes/summary", e.DemoToken, nil)["volume-summary"].(map[string]any)
	if summary["total_count"] != float64(4) || summary["total_size"] != float64(6) {
		t.Fatalf("summary %v", summary)
	}
	e.MustV(http.StatusNotFound, "3.11", "GET", "/v3/volumes/summary", e.DemoToken, nil)
	// another project sees none of them, and none by id
	other, _ := e.NewProjectUser("other")
	if got := e.Must(http.StatusOK, "GET", "/v3/volumes", other, nil)["volumes"].([]any); len(got) != 0 {
		t.Fatalf("another project lists %v", got)
	}
	e.Must(http.StatusNotFound, "GET", "/v3/volumes/"+ids[0], other, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/volumes/"+ids[0], other, nil)
	// all_tenants is the admin's
	if got := e.Must(http.StatusOK, "GET", "/v3/volumes?all_tenants=1", e.AdminToken, nil)["volumes"].([]any); len(got) != 4 {
		t.Fatalf("admin all_tenants lists %d", len(got))
	}
	if got := e.Must(http.StatusOK, "GET", "/v3/volumes?all_tenants=1", other, nil)["volumes"].([]any); len(got) != 0 {
		t.Fatalf("all_tenants for a member lists %d", len(got))
	}
}

func TestVolumeUpdateAndMetadata(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1, "name": "before"})
	v := e.Must(http.StatusOK, "PUT", "/v3/volumes/"+id, e.DemoToken,
		map[string]any{"volume": map[string]any{"name": "after", "description": "d", "metadata": map[string]any{"k": "v"}}})["volume"].(map[string]any)
	if v["name"] != "after" || v["description"] != "d" || v["metadata"].(map[string]any)["k"] != "v" {
		t.Fatalf("updated %v", v)
	}
	e.MustV(http.StatusBadRequest, "3.53", "PUT", "/v3/volumes/"+id, e.DemoToken, map[string]any{"volume": map[string]any{}})
	e.Must(http.StatusBadRequest, "PUT", "/v3/volumes/"+id, e.DemoToken, map[string]any{"volume": map[string]any{"size": 3}})
	md := e.Must(http.StatusOK, "POST", "/v3/volumes/"+id+"/metadata", e.DemoToken,
		map[string]any{"metadata": map[string]any{"x": "1"}})["metadata"].(map[string]any)
	if md["k"] != "v" || md["x"] != "1" {
		t.Fatalf("merged metadata %v", md)
	}
	e.Must(http.StatusOK, "PUT", "/v3/volumes/"+id+"/metadata/x", e.DemoToken, map[string]any{"meta": map[string]any{"x": "2"}})
	e.Must(http.StatusBadRequest, "PUT", "/v3/volumes/"+id+"/metadata/x", e.DemoToken, map[string]any{"meta": map[string]any{"y": "2"}})
	if got := e.Must(http.StatusOK, "GET", "/v3/volumes/"+id+"/metadata/x", e.DemoToken, nil)["meta"].(map[string]any)["x"]; got != "2" {
		t.Fatalf("item %v", got)
	}
	e.Must(http.StatusOK, "DELETE", "/v3/volumes/"+id+"/metadata/x", e.DemoToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/volumes/"+id+"/metadata/x", e.DemoToken, nil)
	md = e.Must(http.StatusOK, "PUT", "/v3/volumes/"+id+"/metadata", e.DemoToken,
		map[string]any{"metadata": map[string]any{"only": "this"}})["metadata"].(map[string]any)
	if len(md) != 1 || md["only"] != "this" {
		t.Fatalf("replaced metadata %v", md)
	}
}
