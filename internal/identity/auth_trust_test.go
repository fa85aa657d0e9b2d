package identity

import (
	"net/http"
	"testing"
	"time"
)

// trustLogin logs in as user (password) scoped to the trust; it returns the
// status, the token body and the token.
func trustLogin(e *testEnv, user, password, trustID string) (int, map[string]any, string) {
	e.t.Helper()
	status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"OS-TRUST:trust": map[string]any{"id": trustID}},
	}})
	if status != http.StatusCreated {
		return status, out, ""
	}
	return status, obj(out, "token"), hdr.Get("X-Subject-Token")
}

// trustTokenValid reports whether identity still validates the token.
func trustTokenValid(e *testEnv, token string) bool {
	e.t.Helper()
	status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token})
	return status == http.StatusOK
}

// newTrust has admin (the trustor) delegate roles on its project to demo.
func newTrust(e *testEnv, extra map[string]any, roles ...string) string {
	e.t.Helper()
	body := map[string]any{
		"trustor_user_id": extUserID(e, e.AdminToken), "trustee_user_id": extUserID(e, e.DemoToken),
		"project_id": extProjectID(e, e.AdminToken), "impersonation": false,
	}
	var refs []any
	for _, r := range roles {
		refs = append(refs, map[string]any{"name": r})
	}
	body["roles"] = refs
	for k, v := range extra {
		body[k] = v
	}
	return obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(body)), "trust")["id"].(string)
}

func TestTrustScopedToken(t *testing.T) {
	e := newTestEnv(t)
	adminID, adminProject := extUserID(e, e.AdminToken), extProjectID(e, e.AdminToken)
	demoID := extUserID(e, e.DemoToken)

	t.Run("as the trustee", func(t *testing.T) {
		id := newTrust(e, nil, "member")
		status, tok, token := trustLogin(e, "demo", testDemoPassword, id)
		if status != http.StatusCreated {
			t.Fatalf("login: %d %v", status, tok)
		}
		tr := obj(tok, "OS-TRUST:trust")
		if tr["id"] != id || obj(tr, "trustor_user")["id"] != adminID || obj(tr, "trustee_user")["id"] != demoID ||
			tr["impersonation"] != false {
			t.Fatalf("OS-TRUST:trust: %v", tok["OS-TRUST:trust"])
		}
		if obj(tok, "user")["id"] != demoID || obj(tok, "project")["id"] != adminProject {
			t.Fatalf("user %v, project %v", tok["user"], tok["project"])
		}
		// member and what it implies (reader), not the trustor's admin.
		if got := roleNames(tok); len(got) != 2 || !got["member"] || !got["reader"] {
			t.Fatalf("roles %v, want member and reader", got)
		}
		if _, has := tok["is_domain"]; has {
			t.Fatalf("trust-scoped token has is_domain: %v", tok)
		}
		if len(list(tok, "catalog")) == 0 {
			t.Fatal("no catalog")
		}
		valid := obj(e.Must(http.StatusOK, "GET", "/v3/auth/projects", token, nil), "links")
		if valid == nil {
			t.Fatal("the token does not authenticate")
		}
		// A trust-scoped token makes no other token.
		status, out, _ := e.Do("POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{"identity": map[string]any{
			"methods": []string{"token"}, "token": map[string]any{"id": token}}}})
		if status != http.StatusForbidden {
			t.Fatalf("token from a trust-scoped token: %d %v", status, out)
		}
	})

	t.Run("impersonation", func(t *testing.T) {
		id := newTrust(e, map[string]any{"impersonation": true}, "reader")
		status, tok, _ := trustLogin(e, "demo", testDemoPassword, id)
		if status != http.StatusCreated {
			t.Fatalf("login: %d %v", status, tok)
		}
		if obj(tok, "user")["id"] != adminID || obj(tok, "OS-TRUST:trust")["impersonation"] != true {
			t.Fatalf("impersonating token: user %v, trust %v", tok["user"], tok["OS-TRUST:trust"])
		}
		if got := roleNames(tok); len(got) != 1 || !got["reader"] {
			t.Fatalf("roles %v, want reader", got)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		id := newTrust(e, nil, "reader")
		for _, tt := range []struct {
			name, user, password, trust string
			want                        int
		}{
			{"not the trustee", "admin", testAdminPassword, id, http.StatusForbidden},
			{"no such trust", "demo", testDemoPassword, "0123456789abcdef0123456789abcdef", http.StatusUnauthorized},
			{"no trust id", "demo", testDemoPassword, "", http.StatusBadRequest},
		} {
			if status, out, _ := trustLogin(e, tt.user, tt.password, tt.trust); status != tt.want {
				t.Errorf("%s: %d %v, want %d", tt.name, status, out, tt.want)
			}
		}
	})

	t.Run("remaining uses", func(t *testing.T) {
		id := newTrust(e, map[string]any{"remaining_uses": 2}, "reader")
		for i := range 2 {
			if status, out, _ := trustLogin(e, "demo", testDemoPassword, id); status != http.StatusCreated {
				t.Fatalf("use %d: %d %v", i+1, status, out)
			}
		}
		if status, _, _ := trustLogin(e, "demo", testDemoPassword, id); status != http.StatusUnauthorized {
			t.Fatalf("third use: %d, want 401", status)
		}
	})

	t.Run("expiry caps the token", func(t *testing.T) {
		expires := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
		id := newTrust(e, map[string]any{"expires_at": expires.Format(time.RFC3339)}, "reader")
		_, tok, _ := trustLogin(e, "demo", testDemoPassword, id)
		if got, err := time.Parse(time.RFC3339, tok["expires_at"].(string)); err != nil || !got.Equal(expires) {
			t.Fatalf("token expires %v, want the trust's %v", tok["expires_at"], expires)
		}
	})

	t.Run("revoked with the trust", func(t *testing.T) {
		id := newTrust(e, nil, "reader")
		_, _, token := trustLogin(e, "demo", testDemoPassword, id)
		if !trustTokenValid(e, token) {
			t.Fatal("fresh token invalid")
		}
		e.Must(http.StatusNoContent, "DELETE", "/v3/OS-TRUST/trusts/"+id, e.AdminToken, nil)
		if trustTokenValid(e, token) {
			t.Fatal("token of a deleted trust still valid")
		}
		e.Must(http.StatusUnauthorized, "GET", "/v3/auth/projects", token, nil)
	})

	t.Run("revoked when the trustor loses the role", func(t *testing.T) {
		auditor := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
			map[string]any{"role": map[string]any{"name": "auditor"}}), "role")["id"].(string)
		grant := "/v3/projects/" + adminProject + "/users/" + adminID + "/roles/" + auditor
		e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
		id := newTrust(e, nil, "auditor")
		_, _, token := trustLogin(e, "demo", testDemoPassword, id)
		if !trustTokenValid(e, token) {
			t.Fatal("fresh token invalid")
		}
		e.Must(http.StatusNoContent, "DELETE", grant, e.AdminToken, nil)
		if trustTokenValid(e, token) {
			t.Fatal("token still valid after the trustor lost the delegated role")
		}
		// Nor is a new one issued: upstream's "Trustee has no delegated roles."
		if status, out, _ := trustLogin(e, "demo", testDemoPassword, id); status != http.StatusForbidden {
			t.Fatalf("login after the trustor lost the role: %d %v", status, out)
		}
	})
}

func TestTrustRedelegation(t *testing.T) {
	e := newTestEnv(t)
	adminProject := extProjectID(e, e.AdminToken)
	demoID := extUserID(e, e.DemoToken)
	otherID := extInsertUser(t, e, "third")

	id := newTrust(e, map[string]any{"allow_redelegation": true, "redelegation_count": 2}, "member")
	_, _, token := trustLogin(e, "demo", testDemoPassword, id)
	redelegate := func(token string, m map[string]any) (int, map[string]any) {
		body := map[string]any{"trustor_user_id": demoID, "trustee_user_id": otherID, "project_id": adminProject,
			"impersonation": false, "roles": []any{map[string]any{"name": "member"}}}
		for k, v := range m {
			body[k] = v
		}
		status, out, _ := e.Do("POST", "/v3/OS-TRUST/trusts", token, trustBody(body))
		return status, out
	}
	for _, tt := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"a role the trust lacks", map[string]any{"roles": []any{map[string]any{"name": "admin"}}}, http.StatusForbidden},
		{"impersonation the trust lacks", map[string]any{"impersonation": true}, http.StatusForbidden},
		{"another depth", map[string]any{"allow_redelegation": true, "redelegation_count": 2}, http.StatusForbidden},
		{"remaining uses", map[string]any{"remaining_uses": 1}, http.StatusForbidden},
	} {
		if status, out := redelegate(token, tt.body); status != tt.want {
			t.Errorf("redelegating %s: %d %v, want %d", tt.name, status, out, tt.want)
		}
	}
	status, out := redelegate(token, map[string]any{"allow_redelegation": true})
	if status != http.StatusCreated {
		t.Fatalf("redelegate: %d %v", status, out)
	}
	child := obj(out, "trust")
	if child["redelegated_trust_id"] != id || child["redelegation_count"] != float64(1) {
		t.Fatalf("redelegated trust: %v", child)
	}
	// Deleting the original trust takes the redelegated one along.
	e.Must(http.StatusNoContent, "DELETE", "/v3/OS-TRUST/trusts/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/OS-TRUST/trusts/"+child["id"].(string), e.AdminToken, nil)

	// A trust that allows no redelegation is not redelegated.
	plain := newTrust(e, nil, "member")
	_, _, token = trustLogin(e, "demo", testDemoPassword, plain)
	if status, out := redelegate(token, nil); status != http.StatusForbidden {
		t.Fatalf("redelegating a trust without depth: %d %v", status, out)
	}
}
