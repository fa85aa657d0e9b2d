package identity

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func passwordAuth(user, password string, scope any) map[string]any {
	a := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
		"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"name": "Default"}}}}}
	if scope != nil {
		a["scope"] = scope
	}
	return map[string]any{"auth": a}
}

func tokenAuth(token string, scope any) map[string]any {
	a := map[string]any{"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": token}}}
	if scope != nil {
		a["scope"] = scope
	}
	return map[string]any{"auth": a}
}

func roleNames(tok map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, r := range list(tok, "roles") {
		out[r["name"].(string)] = true
	}
	return out
}

func TestIssueAndValidateToken(t *testing.T) {
	e := newTestEnv(t)
	e.Must(http.StatusBadRequest, "GET", "/v3/auth/tokens", e.AdminToken, nil)
	status, out, hdr := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": e.DemoToken})
	if status != http.StatusOK {
		t.Fatalf("validate: %d %v", status, out)
	}
	if hdr.Get("X-Subject-Token") != e.DemoToken {
		t.Fatalf("X-Subject-Token not echoed")
	}
	tok := obj(out, "token")
	if obj(tok, "user")["name"] != "demo" || obj(tok, "project")["name"] != "demo" {
		t.Fatalf("token body: %v", tok)
	}
	if roles := roleNames(tok); !roles["member"] || !roles["reader"] || roles["admin"] {
		t.Fatalf("demo roles = %v, want member and implied reader only", roles)
	}
	if len(list(tok, "catalog")) == 0 {
		t.Fatalf("no catalog in %v", tok)
	}
	issued, err1 := time.Parse(timeFormat, tok["issued_at"].(string))
	expires, err2 := time.Parse(timeFormat, tok["expires_at"].(string))
	if err1 != nil || err2 != nil || expires.Sub(issued) != 24*time.Hour {
		t.Fatalf("issued_at %v expires_at %v: want 24h lifetime in Keystone's format", tok["issued_at"], tok["expires_at"])
	}
	// nocatalog, HEAD.
	_, out, _ = e.DoWithHeaders("GET", "/v3/auth/tokens?nocatalog", e.AdminToken, nil, map[string]string{"X-Subject-Token": e.DemoToken})
	if _, has := obj(out, "token")["catalog"]; has {
		t.Fatal("nocatalog still returned a catalog")
	}
	if status, _, _ := e.DoWithHeaders("HEAD", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": e.DemoToken}); status != http.StatusOK {
		t.Fatalf("HEAD: %d", status)
	}
	// A user may validate its own token but not another's.
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.DemoToken, nil, map[string]string{"X-Subject-Token": e.DemoToken}); status != http.StatusOK {
		t.Fatalf("self-validate: %d", status)
	}
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.DemoToken, nil, map[string]string{"X-Subject-Token": e.AdminToken}); status != http.StatusForbidden {
		t.Fatalf("demo validating admin's token: %d, want 403", status)
	}
}

func TestIssueTokenScopes(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name      string
		body      map[string]any
		status    int
		wantScope string // project, domain, system or "" (unscoped)
		wantRoles []string
	}{
		{"project by name", passwordAuth("admin", testAdminPassword, map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}),
			201, "project", []string{"admin", "manager", "member", "reader"}},
		{"system", passwordAuth("admin", testAdminPassword, map[string]any{"system": map[string]any{"all": true}}),
			201, "system", []string{"admin", "manager", "member", "reader"}},
		{"default project when unscoped request", passwordAuth("demo", testDemoPassword, nil), 201, "project", []string{"member", "reader"}},
		{"explicitly unscoped", passwordAuth("demo", testDemoPassword, "unscoped"), 201, "", nil},
		{"no access to project", passwordAuth("demo", testDemoPassword, map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}), 401, "", nil},
		{"no system role", passwordAuth("demo", testDemoPassword, map[string]any{"system": map[string]any{"all": true}}), 401, "", nil},
		{"no domain role", passwordAuth("demo", testDemoPassword, map[string]any{"domain": map[string]any{"id": "default"}}), 401, "", nil},
		{"unknown project", passwordAuth("admin", testAdminPassword, map[string]any{"project": map[string]any{"id": "nope"}}), 401, "", nil},
		{"two scopes", passwordAuth("admin", testAdminPassword, map[string]any{"project": map[string]any{"id": "x"}, "domain": map[string]any{"id": "default"}}), 400, "", nil},
		{"wrong password", passwordAuth("admin", "wrong", nil), 401, "", nil},
		{"malformed scope before bad password", passwordAuth("admin", "wrong", 42), 400, "", nil},
		{"system not all", passwordAuth("admin", testAdminPassword, map[string]any{"system": map[string]any{"all": false}}), 400, "", nil},
		{"unknown user", passwordAuth("nobody", "wrong", nil), 401, "", nil},
		{"no methods", map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{}}}}, 400, "", nil},
		{"methods wrong type", map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": "password"}}}, 400, "", nil},
		{"unsupported method", map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"kerberos"}}}}, 401, "", nil},
		{"password without user", map[string]any{"auth": map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{}}}}, 400, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if status != 201 {
				if e := obj(out, "error"); e == nil || e["code"] == nil || e["title"] == nil {
					t.Fatalf("error body not Keystone's: %v", out)
				}
				if status == 401 && hdr.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
				return
			}
			tok := obj(out, "token")
			for _, scope := range []string{"project", "domain", "system"} {
				if _, has := tok[scope]; has != (scope == tt.wantScope) {
					t.Fatalf("scope %s present=%v, want scope %q: %v", scope, has, tt.wantScope, tok)
				}
			}
			roles := roleNames(tok)
			if len(roles) != len(tt.wantRoles) {
				t.Fatalf("roles %v, want %v", roles, tt.wantRoles)
			}
			for _, r := range tt.wantRoles {
				if !roles[r] {
					t.Fatalf("roles %v, want %v", roles, tt.wantRoles)
				}
			}
		})
	}
}

func TestFailedLoginSaysNothingAboutTheUser(t *testing.T) {
	e := newTestEnv(t)
	_, wrongPassword, _ := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("admin", "wrong", nil))
	_, noUser, _ := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("no-such-user", "wrong", nil))
	if obj(wrongPassword, "error")["message"] != obj(noUser, "error")["message"] {
		t.Fatalf("messages differ: %v vs %v", wrongPassword, noUser)
	}
}

func TestRescopeWithTokenMethod(t *testing.T) {
	e := newTestEnv(t)
	_, out, hdr := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("admin", testAdminPassword, "unscoped"))
	unscoped := hdr.Get("X-Subject-Token")
	original := obj(out, "token")
	status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", tokenAuth(unscoped,
		map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"name": "Default"}}}))
	if status != 201 {
		t.Fatalf("rescope: %d %v", status, out)
	}
	tok := obj(out, "token")
	if tok["expires_at"] != original["expires_at"] {
		t.Fatalf("rescoped token expires %v, original %v: must not outlive it", tok["expires_at"], original["expires_at"])
	}
	audits, _ := tok["audit_ids"].([]any)
	origAudits, _ := original["audit_ids"].([]any)
	if len(audits) != 2 || audits[1] != origAudits[0] {
		t.Fatalf("audit chain %v, want [new, %v]", audits, origAudits)
	}
	methods, _ := tok["methods"].([]any)
	if len(methods) != 2 {
		t.Fatalf("methods %v, want token and password", methods)
	}
	// Revoking the original token revokes only it: the re-scoped token has its own
	// audit id (Keystone revokes by audit id, not by chain).
	rescoped := hdr.Get("X-Subject-Token")
	if status, _, _ := e.DoWithHeaders("DELETE", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": unscoped}); status != http.StatusNoContent {
		t.Fatalf("revoke original: %d", status)
	}
	e.Must(http.StatusOK, "GET", "/v3/auth/projects", rescoped, nil)
	e.Must(http.StatusUnauthorized, "GET", "/v3/auth/projects", unscoped, nil)
	// A revoked token cannot be re-scoped either.
	if status, _, _ := e.Do("POST", "/v3/auth/tokens", "", tokenAuth(unscoped, nil)); status != http.StatusNotFound && status != http.StatusUnauthorized {
		t.Fatalf("rescope of revoked token: %d", status)
	}
}

func TestRevokeToken(t *testing.T) {
	e := newTestEnv(t)
	demo := e.Login("demo", testDemoPassword, "demo")
	subj := map[string]string{"X-Subject-Token": demo}
	if status, _, _ := e.DoWithHeaders("DELETE", "/v3/auth/tokens", e.DemoToken, nil, subj); status != http.StatusNoContent {
		t.Fatalf("revoke: %d", status)
	}
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, subj); status != http.StatusNotFound {
		t.Fatalf("validate revoked: %d, want 404", status)
	}
	if status, _, _ := e.Do("GET", "/v3/auth/projects", demo, nil); status != http.StatusUnauthorized {
		t.Fatalf("revoked token used: %d, want 401", status)
	}
	// Other tokens of the same user are untouched.
	if status, _, _ := e.Do("GET", "/v3/auth/projects", e.DemoToken, nil); status != http.StatusOK {
		t.Fatalf("other token: %d", status)
	}
	// Tampered token.
	bad := []byte(e.DemoToken)
	bad[len(bad)/2] ^= 1
	if status, _, _ := e.Do("GET", "/v3/auth/projects", string(bad), nil); status != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d, want 401", status)
	}
}

func TestExpiredToken(t *testing.T) {
	e := newTestEnv(t)
	e.Svc.valid.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if status, _, _ := e.Do("GET", "/v3/auth/projects", e.DemoToken, nil); status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d, want 401", status)
	}
}

func TestAuthProjectsDomainsSystemCatalog(t *testing.T) {
	e := newTestEnv(t)
	out := e.Must(http.StatusOK, "GET", "/v3/auth/projects", e.DemoToken, nil)
	if ps := list(out, "projects"); len(ps) != 1 || ps[0]["name"] != "demo" {
		t.Fatalf("demo's projects: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3/auth/system", e.AdminToken, nil)
	if len(list(out, "system")) != 1 {
		t.Fatalf("admin system: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3/auth/system", e.DemoToken, nil)
	if len(list(out, "system")) != 0 {
		t.Fatalf("demo system: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3/auth/domains", e.DemoToken, nil)
	if len(list(out, "domains")) != 0 {
		t.Fatalf("demo domains: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3/auth/catalog", e.DemoToken, nil)
	cat := list(out, "catalog")
	if len(cat) != 1 || cat[0]["type"] != "identity" {
		t.Fatalf("catalog: %v", out)
	}
	_, unscopedBody, hdr := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("demo", testDemoPassword, "unscoped"))
	_ = unscopedBody
	e.Must(http.StatusForbidden, "GET", "/v3/auth/catalog", hdr.Get("X-Subject-Token"), nil)
}

func TestLockout(t *testing.T) {
	e := newTestEnv(t)
	e.Svc.cfg.LockoutFailureAttempts = 2
	e.Svc.cfg.LockoutDuration.Duration = time.Hour
	for i := 0; i < 2; i++ {
		e.Must(http.StatusUnauthorized, "POST", "/v3/auth/tokens", "", passwordAuth("demo", "wrong", nil))
	}
	_, out, _ := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("demo", testDemoPassword, nil))
	if msg, _ := obj(out, "error")["message"].(string); !strings.Contains(msg, "locked") {
		t.Fatalf("after 2 failures the right password must be refused as locked: %v", out)
	}
	// Once the lockout duration passes, the right password works again.
	e.Svc.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	e.Must(http.StatusCreated, "POST", "/v3/auth/tokens", "", passwordAuth("demo", testDemoPassword, nil))
}

func TestDiscovery(t *testing.T) {
	e := newTestEnv(t)
	status, out, _ := e.Do("GET", "/", "", nil)
	if status != http.StatusMultipleChoices {
		t.Fatalf("GET /: %d", status)
	}
	values := list(obj(out, "versions"), "values")
	if len(values) != 1 || values[0]["id"] != apiVersion || values[0]["status"] != "stable" {
		t.Fatalf("versions: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3", "", nil)
	if obj(out, "version")["id"] != apiVersion {
		t.Fatalf("GET /v3: %v", out)
	}
}
