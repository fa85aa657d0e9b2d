package identity

import (
	"net/http"
	"testing"
)

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
	roles := map[string]bool{}
	for _, r := range list(tok, "roles") {
		roles[r["name"].(string)] = true
	}
	if !roles["member"] || !roles["reader"] || roles["admin"] {
		t.Fatalf("demo roles = %v, want member and implied reader only", roles)
	}
	if len(list(tok, "catalog")) == 0 {
		t.Fatalf("no catalog in %v", tok)
	}
}
