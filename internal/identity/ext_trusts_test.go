package identity

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"
)

func trustBody(m map[string]any) map[string]any { return map[string]any{"trust": m} }

// extRoleID finds a global role's id by name.
func extRoleID(t *testing.T, e *testEnv, name string) string {
	t.Helper()
	r, err := e.Svc.getRoleByName(context.Background(), e.Svc.db, name, nullDomainID)
	if err != nil || r == nil {
		t.Fatalf("role %s: %v", name, err)
	}
	return r.ID
}

// extInsertUser adds a bare user (no password) straight to the database.
func extInsertUser(t *testing.T, e *testEnv, name string) string {
	t.Helper()
	id := newID()
	if _, err := e.Svc.db.ExecContext(context.Background(), `INSERT INTO users (id, name, domain_id, enabled, created_at)
		VALUES (?, ?, 'default', TRUE, ?)`, id, name, time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestExtTrustLifecycle(t *testing.T) {
	e := newTestEnv(t)
	adminID, adminProject := extUserID(e, e.AdminToken), extProjectID(e, e.AdminToken)
	demoID, demoProject := extUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	memberID, readerID := extRoleID(t, e, "member"), extRoleID(t, e, "reader")
	otherID := extInsertUser(t, e, "bystander")

	// As gophercloud's TestTrustCRUD: admin delegates member (implied by its admin
	// role) on its project, expiring in a minute.
	expires := time.Now().Add(time.Minute).Truncate(time.Second).UTC()
	tr := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
		"trustor_user_id": adminID, "trustee_user_id": demoID, "project_id": adminProject, "impersonation": false,
		"expires_at": expires.Format("2006-01-02T15:04:05.000Z07:00"), "roles": []any{map[string]any{"id": memberID}},
	})), "trust")
	trustID := tr["id"].(string)
	if tr["trustor_user_id"] != adminID || tr["trustee_user_id"] != demoID || tr["project_id"] != adminProject ||
		tr["impersonation"] != false || tr["remaining_uses"] != nil || tr["redelegation_count"] != float64(0) ||
		tr["deleted_at"] != nil || obj(tr, "links")["self"] != e.URL+"/v3/OS-TRUST/trusts/"+trustID ||
		obj(tr, "roles_links")["self"] != e.URL+"/v3/OS-TRUST/trusts/"+trustID+"/roles" {
		t.Fatalf("created trust: %v", tr)
	}
	if exp, err := time.Parse(time.RFC3339, tr["expires_at"].(string)); err != nil || !exp.Equal(expires) {
		t.Fatalf("expires_at %v, want %v (%v)", tr["expires_at"], expires, err)
	}
	if roles := list(tr, "roles"); len(roles) != 1 || roles[0]["id"] != memberID || roles[0]["name"] != "member" {
		t.Fatalf("trust roles: %v", roles)
	}

	// By role name, with redelegation and remaining uses; to a third user.
	tr2 := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
		"trustor_user_id": adminID, "trustee_user_id": otherID, "project_id": adminProject, "impersonation": true,
		"roles": []any{map[string]any{"name": "reader"}, map[string]any{"id": readerID}}, "allow_redelegation": true,
	})), "trust")
	trust2 := tr2["id"].(string)
	if tr2["redelegation_count"] != float64(trustMaxRedelegation) || tr2["expires_at"] != nil || tr2["impersonation"] != true ||
		len(list(tr2, "roles")) != 1 {
		t.Fatalf("second trust: %v", tr2)
	}
	tr3 := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
		"trustor_user_id": adminID, "trustee_user_id": otherID, "impersonation": false, "remaining_uses": 2,
	})), "trust")
	if tr3["remaining_uses"] != float64(2) || tr3["project_id"] != nil || len(list(tr3, "roles")) != 0 {
		t.Fatalf("project-less trust: %v", tr3)
	}

	got := obj(e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts/"+trustID, e.DemoToken, nil), "trust")
	if got["expires_at"] != tr["expires_at"] || len(list(got, "roles")) != 1 {
		t.Fatalf("get (as trustee): %v", got)
	}
	roles := e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts/"+trustID+"/roles", e.AdminToken, nil)
	if rs := list(roles, "roles"); len(rs) != 1 || rs[0]["id"] != memberID {
		t.Fatalf("trust roles: %v", roles)
	}
	role := obj(e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts/"+trustID+"/roles/"+memberID, e.DemoToken, nil), "role")
	if role["id"] != memberID || role["name"] != "member" {
		t.Fatalf("trust role: %v", role)
	}
	if status, _, _ := e.Do("HEAD", "/v3/OS-TRUST/trusts/"+trustID+"/roles/"+memberID, e.AdminToken, nil); status != http.StatusOK {
		t.Fatalf("HEAD trust role: %d", status)
	}

	lists := []struct {
		name  string
		token string
		query string
		want  []string
	}{
		{"admin, all", e.AdminToken, "", []string{trustID, trust2, tr3["id"].(string)}},
		{"by trustee", e.AdminToken, "?trustee_user_id=" + otherID, []string{trust2, tr3["id"].(string)}},
		{"demo as trustee", e.DemoToken, "?trustee_user_id=" + demoID, []string{trustID}},
		{"by trustor", e.AdminToken, "?trustor_user_id=" + adminID, []string{trustID, trust2, tr3["id"].(string)}},
	}
	// As upstream, listing every trust is an admin's; a user names itself as
	// trustor or trustee.
	e.Must(http.StatusForbidden, "GET", "/v3/OS-TRUST/trusts", e.DemoToken, nil)
	for _, l := range lists {
		ids := extIDs(list(e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts"+l.query, l.token, nil), "trusts"))
		slices.Sort(ids)
		want := slices.Clone(l.want)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("list %s: %v, want %v", l.name, ids, want)
		}
	}

	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	base := map[string]any{"trustor_user_id": adminID, "trustee_user_id": demoID, "project_id": adminProject,
		"impersonation": false, "roles": []any{map[string]any{"id": memberID}}}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for bk, bv := range base {
			m[bk] = bv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return trustBody(m)
	}
	adminRole := extRoleID(t, e, "admin")
	extRunStatusCases(t, e, []extStatusCase{
		{"no trustee", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("trustee_user_id", nil), 400},
		{"no impersonation", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("impersonation", nil), 400},
		{"impersonation not a boolean", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("impersonation", "yes"), 400},
		{"roles not a list", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("roles", map[string]any{}), 400},
		{"role with id and name", "POST", "/v3/OS-TRUST/trusts", e.AdminToken,
			with("roles", []any{map[string]any{"id": memberID, "name": "member"}}), 400},
		{"remaining_uses zero", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("remaining_uses", 0), 400},
		{"remaining_uses not an integer", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("remaining_uses", "1"), 400},
		{"expires_at in the past", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("expires_at", past), 400},
		{"expires_at garbage", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("expires_at", "soon"), 400},
		{"no envelope", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, base, 400},
		{"unknown trustee", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("trustee_user_id", "nope"), 404},
		{"unknown role id", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("roles", []any{map[string]any{"id": "nope"}}), 404},
		{"unknown role name", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("roles", []any{map[string]any{"name": "nope"}}), 404},
		{"unknown project", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("project_id", "nope"), 404},
		{"project without roles", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("roles", []any{}), 403},
		{"roles without project", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, with("project_id", nil), 403},
		{"trustor is not the caller", "POST", "/v3/OS-TRUST/trusts", e.DemoToken, with("trustee_user_id", otherID), 403},
		{"trustor lacks the role", "POST", "/v3/OS-TRUST/trusts", e.DemoToken, trustBody(map[string]any{
			"trustor_user_id": demoID, "trustee_user_id": adminID, "project_id": demoProject, "impersonation": false,
			"roles": []any{map[string]any{"id": adminRole}}}), 403},
		{"trustor has no role on the project", "POST", "/v3/OS-TRUST/trusts", e.DemoToken, trustBody(map[string]any{
			"trustor_user_id": demoID, "trustee_user_id": adminID, "project_id": adminProject, "impersonation": false,
			"roles": []any{map[string]any{"id": memberID}}}), 403},
		{"redelegation too deep", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
			"trustor_user_id": adminID, "trustee_user_id": demoID, "impersonation": false,
			"allow_redelegation": true, "redelegation_count": 9}), 403},
		{"redelegation with remaining uses", "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
			"trustor_user_id": adminID, "trustee_user_id": demoID, "impersonation": false,
			"allow_redelegation": true, "remaining_uses": 1}), 400},
		{"get missing", "GET", "/v3/OS-TRUST/trusts/nope", e.AdminToken, nil, 404},
		{"demo gets missing", "GET", "/v3/OS-TRUST/trusts/nope", e.DemoToken, nil, 404},
		{"delete missing", "DELETE", "/v3/OS-TRUST/trusts/nope", e.AdminToken, nil, 404},
		{"roles of missing", "GET", "/v3/OS-TRUST/trusts/nope/roles", e.AdminToken, nil, 404},
		{"role not in trust", "GET", "/v3/OS-TRUST/trusts/" + trustID + "/roles/" + readerID, e.AdminToken, nil, 404},
		{"HEAD role not in trust", "HEAD", "/v3/OS-TRUST/trusts/" + trustID + "/roles/" + readerID, e.AdminToken, nil, 404},
		{"demo gets another's trust", "GET", "/v3/OS-TRUST/trusts/" + trust2, e.DemoToken, nil, 403},
		{"demo lists another's roles", "GET", "/v3/OS-TRUST/trusts/" + trust2 + "/roles", e.DemoToken, nil, 403},
		{"demo gets another's role", "GET", "/v3/OS-TRUST/trusts/" + trust2 + "/roles/" + readerID, e.DemoToken, nil, 403},
		{"demo lists by another trustor", "GET", "/v3/OS-TRUST/trusts?trustor_user_id=" + adminID, e.DemoToken, nil, 403},
		{"demo lists by another trustee", "GET", "/v3/OS-TRUST/trusts?trustee_user_id=" + otherID, e.DemoToken, nil, 403},
		{"trustee deletes", "DELETE", "/v3/OS-TRUST/trusts/" + trustID, e.DemoToken, nil, 403},
		{"no token", "GET", "/v3/OS-TRUST/trusts", "", nil, 401},
	})

	// The demo user may delegate its own member role on its project, then delete it.
	own := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.DemoToken, trustBody(map[string]any{
		"trustor_user_id": demoID, "trustee_user_id": adminID, "project_id": demoProject, "impersonation": false,
		"roles": []any{map[string]any{"name": "member"}}})), "trust")["id"].(string)
	e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts/"+own, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/OS-TRUST/trusts/"+own, e.DemoToken, nil)

	e.Must(http.StatusNoContent, "DELETE", "/v3/OS-TRUST/trusts/"+trustID, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/OS-TRUST/trusts/"+trustID, e.AdminToken, nil)

	// Trusts go with their users.
	if _, err := e.Svc.db.ExecContext(context.Background(), `DELETE FROM users WHERE id = ?`, otherID); err != nil {
		t.Fatal(err)
	}
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts", e.AdminToken, nil), "trusts")); n != 0 {
		t.Fatalf("trusts after the trustee's deletion: %d", n)
	}
}

func TestExtTrustExpiry(t *testing.T) {
	e := newTestEnv(t)
	adminID, adminProject := extUserID(e, e.AdminToken), extProjectID(e, e.AdminToken)
	demoID := extUserID(e, e.DemoToken)
	id := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", e.AdminToken, trustBody(map[string]any{
		"trustor_user_id": adminID, "trustee_user_id": demoID, "project_id": adminProject, "impersonation": false,
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "roles": []any{map[string]any{"name": "reader"}},
	})), "trust")["id"].(string)
	e.Svc.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	// An expired trust is not found, as upstream; it is still listed.
	e.Must(http.StatusNotFound, "GET", "/v3/OS-TRUST/trusts/"+id, e.AdminToken, nil)
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/OS-TRUST/trusts", e.AdminToken, nil), "trusts")); n != 1 {
		t.Fatalf("listed: %d", n)
	}
}
