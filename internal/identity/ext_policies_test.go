package identity

import (
	"net/http"
	"slices"
	"testing"
)

func policyBody(m map[string]any) map[string]any { return map[string]any{"policy": m} }

func TestExtPolicyBlobLifecycle(t *testing.T) {
	e := newTestEnv(t)
	// As gophercloud's TestPoliciesCRUD: the blob need not be JSON; extra attributes stay.
	created := obj(e.Must(http.StatusCreated, "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{
		"type": "application/json", "blob": "{'foobar_user': 'role:compute-user'}", "description": "policy for foobar_user",
	})), "policy")
	id, _ := created["id"].(string)
	if len(id) != 32 || created["type"] != "application/json" || created["blob"] != "{'foobar_user': 'role:compute-user'}" ||
		created["description"] != "policy for foobar_user" || obj(created, "links")["self"] != e.URL+"/v3/policies/"+id {
		t.Fatalf("created policy: %v", created)
	}
	other := obj(e.Must(http.StatusCreated, "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{
		"type": "text/plain", "blob": "x"})), "policy")["id"].(string)

	got := obj(e.Must(http.StatusOK, "GET", "/v3/policies/"+id, e.AdminToken, nil), "policy")
	if got["description"] != "policy for foobar_user" || got["blob"] != created["blob"] {
		t.Fatalf("get policy: %v", got)
	}

	filters := []struct {
		query string
		want  []string
	}{
		{"", []string{id, other}},
		{"?type=application/json", []string{id}},
		{"?type__contains=json", []string{id}},
		{"?type__contains=foobar", nil},
		{"?type__startswith=text", []string{other}},
		{"?type__iendswith=PLAIN", []string{other}},
		{"?type__endswith=PLAIN", nil},
	}
	for _, f := range filters {
		ids := extIDs(list(e.Must(http.StatusOK, "GET", "/v3/policies"+f.query, e.AdminToken, nil), "policies"))
		slices.Sort(ids)
		want := slices.Clone(f.want)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("list %q: %v, want %v", f.query, ids, want)
		}
	}

	updated := obj(e.Must(http.StatusOK, "PATCH", "/v3/policies/"+id, e.AdminToken, policyBody(map[string]any{
		"type": "text/plain", "blob": "'foobar_user': 'role:compute-user'", "description": "updated", "id": id,
	})), "policy")
	if updated["type"] != "text/plain" || updated["blob"] != "'foobar_user': 'role:compute-user'" || updated["description"] != "updated" {
		t.Fatalf("updated policy: %v", updated)
	}
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/policies/"+id, e.AdminToken, nil), "policy"); got["description"] != "updated" {
		t.Fatalf("after update: %v", got)
	}

	e.Must(http.StatusNoContent, "DELETE", "/v3/policies/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/policies/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/policies/"+id, e.AdminToken, nil)

	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	extRunStatusCases(t, e, []extStatusCase{
		{"create without blob", "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{"type": "x"}), 400},
		{"create without type", "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{"blob": "x"}), 400},
		{"blob not a string", "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{"type": "x", "blob": map[string]any{}}), 400},
		{"type too long", "POST", "/v3/policies", e.AdminToken, policyBody(map[string]any{"type": string(long), "blob": "x"}), 400},
		{"no envelope", "POST", "/v3/policies", e.AdminToken, map[string]any{"type": "x", "blob": "x"}, 400},
		{"malformed JSON", "POST", "/v3/policies", e.AdminToken, []byte(`{"policy":`), 400},
		{"empty update", "PATCH", "/v3/policies/" + other, e.AdminToken, policyBody(map[string]any{}), 400},
		{"update type not a string", "PATCH", "/v3/policies/" + other, e.AdminToken, policyBody(map[string]any{"type": 1}), 400},
		{"update changes id", "PATCH", "/v3/policies/" + other, e.AdminToken, policyBody(map[string]any{"id": "x"}), 400},
		{"update missing", "PATCH", "/v3/policies/nope", e.AdminToken, policyBody(map[string]any{"type": "x"}), 404},
		{"get missing", "GET", "/v3/policies/nope", e.AdminToken, nil, 404},
		{"no token", "GET", "/v3/policies", "", nil, 401},
		{"demo list", "GET", "/v3/policies", e.DemoToken, nil, 403},
		{"demo get", "GET", "/v3/policies/" + other, e.DemoToken, nil, 403},
		{"demo create", "POST", "/v3/policies", e.DemoToken, policyBody(map[string]any{"type": "x", "blob": "x"}), 403},
		{"demo update", "PATCH", "/v3/policies/" + other, e.DemoToken, policyBody(map[string]any{"type": "x"}), 403},
		{"demo delete", "DELETE", "/v3/policies/" + other, e.DemoToken, nil, 403},
		{"system reader may list", "GET", "/v3/policies", extSystemToken(e), nil, 200},
	})
}
