package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

func TestExtEC2CredentialLifecycle(t *testing.T) {
	e := newTestEnv(t)
	adminID, adminProject := extUserID(e, e.AdminToken), extProjectID(e, e.AdminToken)
	demoID, demoProject := extUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	base := "/v3/users/" + adminID + "/credentials/OS-EC2"

	// As gophercloud's TestEC2CredentialsCRD.
	c := obj(e.Must(http.StatusCreated, "POST", base, e.AdminToken, map[string]any{"tenant_id": adminProject}), "credential")
	access, _ := c["access"].(string)
	secret, _ := c["secret"].(string)
	if access == "" || secret == "" || c["user_id"] != adminID || c["tenant_id"] != adminProject || c["trust_id"] != nil ||
		obj(c, "links")["self"] != e.URL+base+"/"+access {
		t.Fatalf("created: %v", c)
	}
	got := obj(e.Must(http.StatusOK, "GET", base+"/"+access, e.AdminToken, nil), "credential")
	if got["access"] != access || got["secret"] != secret || got["tenant_id"] != adminProject || got["user_id"] != adminID {
		t.Fatalf("get: %v", got)
	}
	creds := list(e.Must(http.StatusOK, "GET", base, e.AdminToken, nil), "credentials")
	if len(creds) != 1 || creds[0]["access"] != access || creds[0]["secret"] != secret {
		t.Fatalf("list: %v", creds)
	}

	// It is also a credential of type ec2, named by the sha256 of its access key.
	sum := sha256.Sum256([]byte(access))
	v3 := obj(e.Must(http.StatusOK, "GET", "/v3/credentials/"+hex.EncodeToString(sum[:]), e.AdminToken, nil), "credential")
	if v3["type"] != "ec2" || v3["user_id"] != adminID || v3["project_id"] != adminProject {
		t.Fatalf("as a v3 credential: %v", v3)
	}

	// The demo user manages its own.
	demoBase := "/v3/users/" + demoID + "/credentials/OS-EC2"
	dc := obj(e.Must(http.StatusCreated, "POST", demoBase, e.DemoToken, map[string]any{"tenant_id": demoProject}), "credential")
	demoAccess := dc["access"].(string)
	if n := len(list(e.Must(http.StatusOK, "GET", demoBase, e.DemoToken, nil), "credentials")); n != 1 {
		t.Fatalf("demo list: %d", n)
	}
	e.Must(http.StatusOK, "GET", demoBase+"/"+demoAccess, e.AdminToken, nil) // admins see all

	extRunStatusCases(t, e, []extStatusCase{
		{"no tenant_id", "POST", base, e.AdminToken, map[string]any{}, 400},
		{"tenant_id not a string", "POST", base, e.AdminToken, map[string]any{"tenant_id": 1}, 400},
		{"no body", "POST", base, e.AdminToken, nil, 400},
		{"unknown project", "POST", base, e.AdminToken, map[string]any{"tenant_id": "nope"}, 404},
		{"unknown user", "POST", "/v3/users/nope/credentials/OS-EC2", e.AdminToken, map[string]any{"tenant_id": adminProject}, 404},
		{"list for unknown user", "GET", "/v3/users/nope/credentials/OS-EC2", e.AdminToken, nil, 404},
		{"unknown access key", "GET", base + "/nope", e.AdminToken, nil, 404},
		{"another user's key", "GET", base + "/" + demoAccess, e.AdminToken, nil, 404},
		{"delete unknown key", "DELETE", base + "/nope", e.AdminToken, nil, 404},
		{"demo lists admin's", "GET", base, e.DemoToken, nil, 403},
		{"demo gets admin's", "GET", base + "/" + access, e.DemoToken, nil, 403},
		{"demo creates for admin", "POST", base, e.DemoToken, map[string]any{"tenant_id": demoProject}, 403},
		{"demo deletes admin's", "DELETE", base + "/" + access, e.DemoToken, nil, 403},
	})

	e.Must(http.StatusNoContent, "DELETE", base+"/"+access, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", base+"/"+access, e.AdminToken, nil)
	if n := len(list(e.Must(http.StatusOK, "GET", base, e.AdminToken, nil), "credentials")); n != 0 {
		t.Fatalf("after delete: %d", n)
	}
	e.Must(http.StatusNoContent, "DELETE", demoBase+"/"+demoAccess, e.DemoToken, nil)
}
