package volume

import (
	"net/http"
	"testing"
)

func TestQosSpecsAndAssociations(t *testing.T) {
	e := newTestEnv(t, nil)
	e.Must(http.StatusForbidden, "GET", "/v3/qos-specs", e.DemoToken, nil)
	out := e.Must(http.StatusOK, "POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{
		"name": " gold ", "consumer": "front-end", "total_iops_sec": "1000"}})
	spec := out["qos_specs"].(map[string]any)
	if spec["name"] != "gold" || spec["consumer"] != "front-end" || spec["specs"].(map[string]any)["total_iops_sec"] != "1000" ||
		out["links"] == nil {
		t.Fatalf("created %v", out)
	}
	id := spec["id"].(string)
	status, body, _, _ := e.Do("POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{"name": "gold"}}, nil)
	if _, msg := fault(body); status != 409 || msg != "QoS Specs gold already exists." {
		t.Fatalf("duplicate: %d %q", status, msg)
	}
	e.Must(http.StatusBadRequest, "POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{"name": "x", "consumer": "nobody"}})
	e.Must(http.StatusBadRequest, "POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{}})
	plain := e.Must(http.StatusOK, "POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{"name": "plain"}})
	if c := plain["qos_specs"].(map[string]any)["consumer"]; c != "back-end" {
		t.Fatalf("default consumer %v", c)
	}

	upd := e.Must(http.StatusOK, "PUT", "/v3/qos-specs/"+id, e.AdminToken, map[string]any{"qos_specs": map[string]any{"read_iops_sec": "5"}})
	if upd["qos_specs"].(map[string]any)["read_iops_sec"] != "5" {
		t.Fatalf("update answer %v", upd)
	}
	e.Must(http.StatusAccepted, "PUT", "/v3/qos-specs/"+id+"/delete_keys", e.AdminToken, map[string]any{"keys": []any{"total_iops_sec"}})
	status, body, _, _ = e.Do("PUT", "/v3/qos-specs/"+id+"/delete_keys", e.AdminToken, map[string]any{"keys": []any{"total_iops_sec"}}, nil)
	if _, msg := fault(body); status != 404 || msg != "QoS spec "+id+" has no spec with key total_iops_sec." {
		t.Fatalf("missing key: %d %q", status, msg)
	}
	got := e.Must(http.StatusOK, "GET", "/v3/qos-specs/"+id, e.AdminToken, nil)["qos_specs"].(map[string]any)["specs"].(map[string]any)
	if len(got) != 1 || got["read_iops_sec"] != "5" {
		t.Fatalf("specs %v", got)
	}
	if list := e.Must(http.StatusOK, "GET", "/v3/qos-specs?name=gold", e.AdminToken, nil)["qos_specs"].([]any); len(list) != 1 {
		t.Fatalf("name filter %v", list)
	}

	// associations with a volume type
	typ := e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{"name": "fast"}})
	typeID := typ["volume_type"].(map[string]any)["id"].(string)
	e.Must(http.StatusBadRequest, "GET", "/v3/qos-specs/"+id+"/associate", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/qos-specs/"+id+"/associate?vol_type_id=9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/associate?vol_type_id="+typeID, e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/associate?vol_type_id="+typeID, e.AdminToken, nil)
	plainID := plain["qos_specs"].(map[string]any)["id"].(string)
	e.Must(http.StatusBadRequest, "GET", "/v3/qos-specs/"+plainID+"/associate?vol_type_id="+typeID, e.AdminToken, nil)
	assoc := e.Must(http.StatusOK, "GET", "/v3/qos-specs/"+id+"/associations", e.AdminToken, nil)["qos_associations"].([]any)
	if len(assoc) != 1 || assoc[0].(map[string]any)["id"] != typeID || assoc[0].(map[string]any)["association_type"] != "volume_type" {
		t.Fatalf("associations %v", assoc)
	}
	status, body, _, _ = e.Do("DELETE", "/v3/qos-specs/"+id, e.AdminToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Qos specs still in use." {
		t.Fatalf("delete in use: %d %q", status, msg)
	}
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/disassociate?vol_type_id="+typeID, e.AdminToken, nil)
	if assoc := e.Must(http.StatusOK, "GET", "/v3/qos-specs/"+id+"/associations", e.AdminToken, nil)["qos_associations"].([]any); len(assoc) != 0 {
		t.Fatalf("after disassociate %v", assoc)
	}
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/associate?vol_type_id="+typeID, e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/disassociate_all", e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+id+"/associate?vol_type_id="+typeID, e.AdminToken, nil)
	e.Must(http.StatusAccepted, "DELETE", "/v3/qos-specs/"+id+"?force=true", e.AdminToken, nil)
	status, body, _, _ = e.Do("GET", "/v3/qos-specs/"+id, e.AdminToken, nil, nil)
	if _, msg := fault(body); status != 404 || msg != "No such QoS spec "+id+"." {
		t.Fatalf("deleted: %d %q", status, msg)
	}
}
