package identity

import (
	"net/http"
	"reflect"
	"testing"
)

func configBodyOf(m map[string]any) map[string]any { return map[string]any{"config": m} }

func TestDomainConfig(t *testing.T) {
	e := newTestEnv(t)
	domain := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken,
		map[string]any{"domain": map[string]any{"name": "ldap-backed"}}), "domain")["id"].(string)
	base := "/v3/domains/" + domain + "/config"

	e.Must(http.StatusNotFound, "GET", base, e.AdminToken, nil)
	ldap := map[string]any{"url": "ldap://ldap.example", "user_tree_dn": "ou=Users,dc=example", "password": "s3cret"}
	created := obj(e.Must(http.StatusCreated, "PUT", base, e.AdminToken, configBodyOf(map[string]any{
		"identity": map[string]any{"driver": "ldap"}, "ldap": ldap})), "config")
	want := map[string]any{"identity": map[string]any{"driver": "ldap"},
		"ldap": map[string]any{"url": "ldap://ldap.example", "user_tree_dn": "ou=Users,dc=example"}}
	if !reflect.DeepEqual(created, want) { // the password is kept, never shown
		t.Fatalf("created %v, want %v", created, want)
	}
	if got := obj(e.Must(http.StatusOK, "GET", base, e.AdminToken, nil), "config"); !reflect.DeepEqual(got, want) {
		t.Fatalf("shown %v", got)
	}
	if got := obj(e.Must(http.StatusOK, "GET", base+"/ldap", e.AdminToken, nil), "config"); !reflect.DeepEqual(got, map[string]any{"ldap": want["ldap"]}) {
		t.Fatalf("group %v", got)
	}
	if got := obj(e.Must(http.StatusOK, "GET", base+"/ldap/url", e.AdminToken, nil), "config"); !reflect.DeepEqual(got, map[string]any{"url": "ldap://ldap.example"}) {
		t.Fatalf("option %v", got)
	}
	if status, _, _ := e.Do("HEAD", base+"/ldap/url", e.AdminToken, nil); status != http.StatusOK {
		t.Fatalf("HEAD option: %d", status)
	}

	// PATCH merges; a group or option in the URL must be the body's only one
	// and exist already.
	patched := obj(e.Must(http.StatusOK, "PATCH", base+"/ldap/url", e.AdminToken, configBodyOf(map[string]any{"url": "ldaps://ldap.example"})), "config")
	if obj(patched, "ldap")["url"] != "ldaps://ldap.example" || obj(patched, "identity")["driver"] != "ldap" {
		t.Fatalf("patched option: %v", patched)
	}
	patched = obj(e.Must(http.StatusOK, "PATCH", base, e.AdminToken, configBodyOf(map[string]any{"ldap": map[string]any{"suffix": "dc=example"}})), "config")
	if obj(patched, "ldap")["suffix"] != "dc=example" || obj(patched, "ldap")["url"] != "ldaps://ldap.example" {
		t.Fatalf("patched config: %v", patched)
	}
	// Replacing answers 200, and drops what the new config does not name.
	replaced := obj(e.Must(http.StatusOK, "PUT", base, e.AdminToken, configBodyOf(map[string]any{"identity": map[string]any{"driver": "sql"}})), "config")
	if !reflect.DeepEqual(replaced, map[string]any{"identity": map[string]any{"driver": "sql"}}) {
		t.Fatalf("replaced: %v", replaced)
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"no options", "PUT", base, e.AdminToken, configBodyOf(map[string]any{}), 403},
		{"unknown group", "PUT", base, e.AdminToken, configBodyOf(map[string]any{"assignment": map[string]any{"driver": "x"}}), 403},
		{"unknown option", "PUT", base, e.AdminToken, configBodyOf(map[string]any{"ldap": map[string]any{"color": "x"}}), 403},
		{"group not an object", "PUT", base, e.AdminToken, configBodyOf(map[string]any{"ldap": "x"}), 403},
		{"group not there", "GET", base + "/ldap", e.AdminToken, nil, 404},
		{"patch a group not there", "PATCH", base + "/ldap", e.AdminToken, configBodyOf(map[string]any{"ldap": map[string]any{"url": "x"}}), 404},
		{"patch another group", "PATCH", base + "/identity", e.AdminToken, configBodyOf(map[string]any{"ldap": map[string]any{"url": "x"}}), 403},
		{"patch two options", "PATCH", base + "/identity/driver", e.AdminToken, configBodyOf(map[string]any{"driver": "x", "list_limit": 1}), 403},
		{"delete an option not there", "DELETE", base + "/ldap/url", e.AdminToken, nil, 404},
		{"unknown domain", "PUT", "/v3/domains/nope/config", e.AdminToken, configBodyOf(map[string]any{"identity": map[string]any{"driver": "ldap"}}), 404},
		{"another of the domain's resources", "GET", "/v3/domains/" + domain + "/users/x", e.AdminToken, nil, 404},
		{"member reads", "GET", base, e.DemoToken, nil, 403},
		{"member writes", "PUT", base, e.DemoToken, configBodyOf(map[string]any{"identity": map[string]any{"driver": "ldap"}}), 403},
		{"security compliance of another domain", "GET", base + "/security_compliance", e.DemoToken, nil, 403},
	})

	// Security compliance: the default domain's, for any token.
	sc := obj(e.Must(http.StatusOK, "GET", "/v3/domains/default/config/security_compliance", e.DemoToken, nil), "config")
	if g := obj(sc, "security_compliance"); len(g) != 2 || g["password_regex"] != nil {
		t.Fatalf("security compliance: %v", sc)
	}

	// Defaults: the whitelisted options, of a group or one option; not the password.
	defaults := obj(e.Must(http.StatusOK, "GET", "/v3/domains/config/default", e.AdminToken, nil), "config")
	if obj(defaults, "identity")["driver"] != "sql" || obj(defaults, "ldap")["url"] != "ldap://localhost" || len(obj(defaults, "ldap")) != len(domainConfigWhitelisted["ldap"]) {
		t.Fatalf("defaults: %v", defaults)
	}
	if _, has := obj(defaults, "ldap")["password"]; has {
		t.Fatal("the password's default is shown")
	}
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/domains/config/ldap/url/default", e.AdminToken, nil), "config"); !reflect.DeepEqual(got, map[string]any{"url": "ldap://localhost"}) {
		t.Fatalf("option default: %v", got)
	}
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/domains/config/identity/default", e.AdminToken, nil), "config"); len(obj(got, "identity")) != 2 {
		t.Fatalf("group default: %v", got)
	}
	e.Must(http.StatusForbidden, "GET", "/v3/domains/config/ldap/password/default", e.AdminToken, nil)
	e.Must(http.StatusForbidden, "GET", "/v3/domains/config/default", e.DemoToken, nil)

	// Deletes: an option, a group, all; the config goes with its domain.
	e.Must(http.StatusNoContent, "DELETE", base+"/identity/driver", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", base, e.AdminToken, nil)
	e.Must(http.StatusCreated, "PUT", base, e.AdminToken, configBodyOf(map[string]any{"identity": map[string]any{"driver": "ldap"}}))
	e.Must(http.StatusNoContent, "DELETE", base+"/identity", e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", base, e.AdminToken, nil)
	e.Must(http.StatusCreated, "PUT", base, e.AdminToken, configBodyOf(map[string]any{"identity": map[string]any{"driver": "ldap"}}))
	e.Must(http.StatusOK, "PATCH", "/v3/domains/"+domain, e.AdminToken, map[string]any{"domain": map[string]any{"enabled": false}})
	e.Must(http.StatusNoContent, "DELETE", "/v3/domains/"+domain, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", base, e.AdminToken, nil)
}
