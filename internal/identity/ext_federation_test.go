package identity

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// extMappingRules are gophercloud's TestMappingsCRUD rules.
func extMappingRules(remoteMatch string, values ...string) []any {
	var rules []any
	_ = json.Unmarshal([]byte(`[{
		"local": [{"user": {"name": "{0}"}}, {"group": {"id": "0cd5e9"}}],
		"remote": [{"type": "UserName"}, {"type": "orgPersonType"}]
	}]`), &rules)
	remote := rules[0].(map[string]any)["remote"].([]any)
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	remote[1].(map[string]any)[remoteMatch] = vs
	return rules
}

func mappingBody(rules any) map[string]any {
	return map[string]any{"mapping": map[string]any{"rules": rules}}
}

func TestExtFederationMappingLifecycle(t *testing.T) {
	e := newTestEnv(t)
	path := "/v3/OS-FEDERATION/mappings/ACME"
	rules := extMappingRules("not_any_of", "Contractor", "Guest")

	m := obj(e.Must(http.StatusCreated, "PUT", path, e.AdminToken, mappingBody(rules)), "mapping")
	if m["id"] != "ACME" || m["schema_version"] != "1.0" || !reflect.DeepEqual(m["rules"], rules) ||
		obj(m, "links")["self"] != e.URL+path {
		t.Fatalf("created: %v", m)
	}
	got := obj(e.Must(http.StatusOK, "GET", path, e.AdminToken, nil), "mapping")
	if !reflect.DeepEqual(got["rules"], rules) {
		t.Fatalf("get: %v", got)
	}
	all := list(e.Must(http.StatusOK, "GET", "/v3/OS-FEDERATION/mappings", e.AdminToken, nil), "mappings")
	if len(all) != 1 || all[0]["id"] != "ACME" {
		t.Fatalf("list: %v", all)
	}

	updated := extMappingRules("any_one_of", "Contractor", "SubContractor")
	m = obj(e.Must(http.StatusOK, "PATCH", path, e.AdminToken, mappingBody(updated)), "mapping")
	if !reflect.DeepEqual(m["rules"], updated) {
		t.Fatalf("updated: %v", m)
	}
	m = obj(e.Must(http.StatusOK, "PATCH", path, e.AdminToken, map[string]any{"mapping": map[string]any{
		"rules": updated, "schema_version": "2.0"}}), "mapping")
	if m["schema_version"] != "2.0" {
		t.Fatalf("schema version: %v", m)
	}

	withRemote := func(remote ...any) []any {
		return []any{map[string]any{"local": []any{map[string]any{"user": map[string]any{"name": "{0}"}}}, "remote": remote}}
	}
	withLocal := func(local ...any) []any {
		return []any{map[string]any{"local": local, "remote": []any{map[string]any{"type": "UserName"}}}}
	}
	valid := []struct {
		name  string
		rules []any
	}{
		{"group by name", withLocal(map[string]any{"group": map[string]any{"name": "g", "domain": map[string]any{"id": "default"}}})},
		{"projects", withLocal(map[string]any{"projects": []any{map[string]any{"name": "p", "roles": []any{map[string]any{"name": "member"}}}}})},
		{"groups and domain", withLocal(map[string]any{"groups": "{1}", "domain": map[string]any{"name": "Default"}})},
		{"regex", withRemote(map[string]any{"type": "X", "any_one_of": []any{".*"}, "regex": true})},
		{"ephemeral user", withLocal(map[string]any{"user": map[string]any{"name": "{0}", "type": "ephemeral"}})},
	}
	for _, v := range valid {
		t.Run("valid "+v.name, func(t *testing.T) {
			e.Must(http.StatusOK, "PATCH", path, e.AdminToken, mappingBody(v.rules))
		})
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"duplicate", "PUT", path, e.AdminToken, mappingBody(rules), 409},
		{"no rules", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, map[string]any{"mapping": map[string]any{}}, 400},
		{"empty rules", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, mappingBody([]any{}), 400},
		{"rules not a list", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, mappingBody(map[string]any{}), 400},
		{"rule not an object", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, mappingBody([]any{"x"}), 400},
		{"rule without local", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody([]any{map[string]any{"remote": []any{map[string]any{"type": "X"}}}}), 400},
		{"rule without remote", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody([]any{map[string]any{"local": []any{}}}), 400},
		{"empty remote", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, mappingBody(withRemote()), 400},
		{"remote without type", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withRemote(map[string]any{"any_one_of": []any{"a"}})), 400},
		{"two matchers", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withRemote(map[string]any{"type": "X", "any_one_of": []any{"a"}, "not_any_of": []any{"b"}})), 400},
		{"regex alone", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withRemote(map[string]any{"type": "X", "regex": true})), 400},
		{"unknown local key", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withLocal(map[string]any{"color": "red"})), 400},
		{"bad user type", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withLocal(map[string]any{"user": map[string]any{"type": "robot"}})), 400},
		{"group by name without domain", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withLocal(map[string]any{"group": map[string]any{"name": "g"}})), 400},
		{"project without roles", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			mappingBody(withLocal(map[string]any{"projects": []any{map[string]any{"name": "p"}}})), 400},
		{"unknown schema version", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			map[string]any{"mapping": map[string]any{"rules": rules, "schema_version": "9.0"}}, 400},
		{"unknown attribute", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken,
			map[string]any{"mapping": map[string]any{"rules": rules, "color": "red"}}, 400},
		{"no envelope", "PUT", "/v3/OS-FEDERATION/mappings/x", e.AdminToken, map[string]any{"rules": rules}, 400},
		{"update invalid", "PATCH", path, e.AdminToken, mappingBody([]any{}), 400},
		{"update missing", "PATCH", "/v3/OS-FEDERATION/mappings/nope", e.AdminToken, mappingBody(rules), 404},
		{"get missing", "GET", "/v3/OS-FEDERATION/mappings/nope", e.AdminToken, nil, 404},
		{"delete missing", "DELETE", "/v3/OS-FEDERATION/mappings/nope", e.AdminToken, nil, 404},
		{"demo list", "GET", "/v3/OS-FEDERATION/mappings", e.DemoToken, nil, 403},
		{"demo get", "GET", path, e.DemoToken, nil, 403},
		{"demo create", "PUT", "/v3/OS-FEDERATION/mappings/x", e.DemoToken, mappingBody(rules), 403},
		{"demo update", "PATCH", path, e.DemoToken, mappingBody(rules), 403},
		{"demo delete", "DELETE", path, e.DemoToken, nil, 403},
	})
	// Invalid bodies stored nothing.
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/OS-FEDERATION/mappings", e.AdminToken, nil), "mappings")); n != 1 {
		t.Fatalf("mappings: %d", n)
	}

	e.Must(http.StatusNoContent, "DELETE", path, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", path, e.AdminToken, nil)
}
