package volume

import (
	"net/http"
	"testing"
)

func TestVolumeTypes(t *testing.T) {
	e := newTestEnv(t, nil)
	types := e.Must(http.StatusOK, "GET", "/v3/types", e.DemoToken, nil)["volume_types"].([]any)
	if len(types) != 1 || types[0].(map[string]any)["name"] != DefaultTypeName {
		t.Fatalf("types of a new cloud: %v", types)
	}
	def := e.Must(http.StatusOK, "GET", "/v3/types/default", e.DemoToken, nil)["volume_type"].(map[string]any)
	if def["name"] != DefaultTypeName {
		t.Fatalf("default type %v", def)
	}
	// members may not create types
	status, body, _, _ := e.Do("POST", "/v3/types", e.DemoToken, map[string]any{"volume_type": map[string]any{"name": "gold"}}, nil)
	if _, msg := fault(body); status != 403 || msg != "Policy doesn't allow volume_extension:type_create to be performed." {
		t.Fatalf("member create: %d %q", status, msg)
	}
	gold := e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{
		"name": "gold", "extra_specs": map[string]any{"volume_backend_name": "beta"}}})["volume_type"].(map[string]any)
	goldID := gold["id"].(string)
	if gold["extra_specs"].(map[string]any)["volume_backend_name"] != "beta" || gold["is_public"] != true {
		t.Fatalf("gold %v", gold)
	}
	status, body, _, _ = e.Do("POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{"name": "gold"}}, nil)
	if kind, msg := fault(body); status != 409 || kind != "conflictingRequest" || msg != "Volume Type gold already exists." {
		t.Fatalf("duplicate: %d %s %q", status, kind, msg)
	}
	// a member sees the type but not its backend (a sensitive spec)
	seen := e.Must(http.StatusOK, "GET", "/v3/types/"+goldID, e.DemoToken, nil)["volume_type"].(map[string]any)
	if specs := seen["extra_specs"].(map[string]any); len(specs) != 0 {
		t.Fatalf("member sees specs %v", specs)
	}
	// the scheduler's CapabilitiesFilter puts gold volumes on beta only
	for range 3 {
		id := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": "gold"})
		if got := hostBackend(e, id); got != "beta" {
			t.Fatalf("gold volume on %s", got)
		}
	}
	// a type whose backend does not exist leaves its volumes in error
	e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{
		"name": "nowhere", "extra_specs": map[string]any{"volume_backend_name": "gamma"}}})
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": "nowhere"})
	if st := e.volume(e.DemoToken, id)["status"]; st != "error" {
		t.Fatalf("unschedulable volume: %v", st)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/volumes/"+id, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/volumes/"+id, e.DemoToken, nil)
	// extra specs
	e.Must(http.StatusOK, "POST", "/v3/types/"+goldID+"/extra_specs", e.AdminToken, map[string]any{"extra_specs": map[string]any{"multiattach": "<is> True"}})
	if v := e.Must(http.StatusOK, "GET", "/v3/types/"+goldID+"/extra_specs/multiattach", e.DemoToken, nil)["multiattach"]; v != "<is> True" {
		t.Fatalf("user-visible spec %v", v)
	}
	e.Must(http.StatusBadRequest, "PUT", "/v3/types/"+goldID+"/extra_specs/a", e.AdminToken, map[string]any{"b": "c"})
	e.Must(http.StatusAccepted, "DELETE", "/v3/types/"+goldID+"/extra_specs/multiattach", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/types/"+goldID+"/extra_specs/multiattach", e.AdminToken, nil)
	// a type in use is not deleted, nor the default
	status, body, _, _ = e.Do("DELETE", "/v3/types/"+goldID, e.AdminToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Target volume type is still in use." {
		t.Fatalf("delete in use: %d %q", status, msg)
	}
	e.Must(http.StatusBadRequest, "DELETE", "/v3/types/"+def["id"].(string), e.AdminToken, nil)
	// private types and access
	private := e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{
		"name": "private", "os-volume-type-access:is_public": false}})["volume_type"].(map[string]any)
	pid := private["id"].(string)
	e.Must(http.StatusNotFound, "GET", "/v3/types/"+pid, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1, "volume_type": "private"}})
	e.Must(http.StatusAccepted, "POST", "/v3/types/"+pid+"/action", e.AdminToken, map[string]any{"addProjectAccess": map[string]any{"project": e.DemoProject}})
	e.Must(http.StatusConflict, "POST", "/v3/types/"+pid+"/action", e.AdminToken, map[string]any{"addProjectAccess": map[string]any{"project": e.DemoProject}})
	e.Must(http.StatusOK, "GET", "/v3/types/"+pid, e.DemoToken, nil)
	access := e.Must(http.StatusOK, "GET", "/v3/types/"+pid+"/os-volume-type-access", e.AdminToken, nil)["volume_type_access"].([]any)
	if len(access) != 1 {
		t.Fatalf("access %v", access)
	}
	e.Must(http.StatusAccepted, "POST", "/v3/types/"+pid+"/action", e.AdminToken, map[string]any{"removeProjectAccess": map[string]any{"project": e.DemoProject}})
	e.Must(http.StatusNotFound, "GET", "/v3/types/"+pid, e.DemoToken, nil)
	upd := e.Must(http.StatusOK, "PUT", "/v3/types/"+pid, e.AdminToken, map[string]any{"volume_type": map[string]any{"description": "d"}})["volume_type"].(map[string]any)
	if upd["description"] != "d" {
		t.Fatalf("update %v", upd)
	}
	e.Must(http.StatusBadRequest, "PUT", "/v3/types/"+pid, e.AdminToken, map[string]any{"volume_type": map[string]any{}})
	e.Must(http.StatusAccepted, "DELETE", "/v3/types/"+pid, e.AdminToken, nil)
}
