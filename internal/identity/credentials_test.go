package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

func credBody(m map[string]any) map[string]any { return map[string]any{"credential": m} }

func TestCredentialLifecycle(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	adminID := acUserID(e, e.AdminToken)
	demoProject := obj(acTokenBody(e, e.DemoToken), "project")["id"].(string)

	// The caller's own by default; the blob is returned as given.
	totp := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", e.DemoToken, credBody(map[string]any{
		"type": "totp", "blob": "GEZDGNBVGY3TQOJQ", "label": "phone", "user_id": demoID})), "credential")
	totpID := totp["id"].(string)
	if totp["user_id"] != demoID || totp["type"] != "totp" || totp["blob"] != "GEZDGNBVGY3TQOJQ" ||
		totp["project_id"] != nil || totp["label"] != "phone" || obj(totp, "links")["self"] != e.URL+"/v3/credentials/"+totpID {
		t.Fatalf("created credential: %v", totp)
	}
	// EC2 credentials are named by the hash of their access key.
	blob := `{"access":"AKIDEMO","secret":"s3cr3t"}`
	ec2 := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", e.DemoToken, credBody(map[string]any{
		"type": "ec2", "blob": blob, "user_id": demoID, "project_id": demoProject})), "credential")
	sum := sha256.Sum256([]byte("AKIDEMO"))
	if ec2["id"] != hex.EncodeToString(sum[:]) || ec2["project_id"] != demoProject || ec2["blob"] != blob {
		t.Fatalf("ec2 credential: %v", ec2)
	}
	cert := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", e.AdminToken, credBody(map[string]any{
		"type": "cert", "blob": "-----BEGIN CERTIFICATE-----", "user_id": adminID})), "credential")
	certID := cert["id"].(string)
	if cert["user_id"] != adminID {
		t.Fatalf("admin's credential: %v", cert)
	}

	bad := []struct {
		name  string
		token string
		body  any
		want  int
	}{
		{"duplicate ec2 access key", e.DemoToken, credBody(map[string]any{"type": "ec2", "blob": blob, "user_id": demoID, "project_id": demoProject}), 409},
		{"ec2 without project", e.DemoToken, credBody(map[string]any{"type": "ec2", "blob": `{"access":"X"}`, "user_id": demoID}), 400},
		{"ec2 blob not JSON", e.DemoToken, credBody(map[string]any{"type": "ec2", "blob": "nope", "user_id": demoID, "project_id": demoProject}), 400},
		{"ec2 blob without access", e.DemoToken, credBody(map[string]any{"type": "ec2", "blob": `{"secret":"x"}`, "user_id": demoID, "project_id": demoProject}), 400},
		{"blob missing", e.DemoToken, credBody(map[string]any{"type": "totp"}), 400},
		{"blob wrong type", e.DemoToken, credBody(map[string]any{"type": "totp", "blob": map[string]any{"a": 1}}), 400},
		{"user_id missing (upstream's schema requires it)", e.DemoToken, credBody(map[string]any{"type": "totp", "blob": "x"}), 400},
		{"type missing", e.DemoToken, credBody(map[string]any{"blob": "x"}), 400},
		{"type wrong type", e.DemoToken, credBody(map[string]any{"blob": "x", "type": 1}), 400},
		{"no envelope", e.DemoToken, map[string]any{"blob": "x", "type": "totp"}, 400},
		{"for another user", e.DemoToken, credBody(map[string]any{"type": "totp", "blob": "x", "user_id": adminID}), 403},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", "/v3/credentials", tt.token, tt.body)
			if status != tt.want || obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
		})
	}

	lists := []struct {
		name, token, query string
		want               int
	}{
		{"demo sees its own only", e.DemoToken, "", 2},
		{"demo filtering on admin", e.DemoToken, "?user_id=" + adminID, 0},
		{"demo by type", e.DemoToken, "?type=ec2", 1},
		{"admin sees all", e.AdminToken, "", 3},
		{"admin by user", e.AdminToken, "?user_id=" + adminID, 1},
		{"admin by type", e.AdminToken, "?type=totp", 1},
		{"admin by user and type", e.AdminToken, "?user_id=" + demoID + "&type=cert", 0},
	}
	for _, tt := range lists {
		got := list(e.Must(http.StatusOK, "GET", "/v3/credentials"+tt.query, tt.token, nil), "credentials")
		if len(got) != tt.want {
			t.Errorf("%s: %d credentials, want %d", tt.name, len(got), tt.want)
		}
	}

	// Show, update, delete: owner or admin only.
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/credentials/"+totpID, e.DemoToken, nil), "credential"); got["blob"] != "GEZDGNBVGY3TQOJQ" {
		t.Fatalf("show: %v", got)
	}
	e.Must(http.StatusOK, "GET", "/v3/credentials/"+totpID, e.AdminToken, nil)
	e.Must(http.StatusForbidden, "GET", "/v3/credentials/"+certID, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/credentials/nope", e.AdminToken, nil)

	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/credentials/"+totpID, e.DemoToken, credBody(map[string]any{
		"blob": "NEWSECRET", "label": "tablet"})), "credential")
	if up["blob"] != "NEWSECRET" || up["type"] != "totp" || up["user_id"] != demoID || up["label"] != "tablet" {
		t.Fatalf("updated: %v", up)
	}
	patches := []struct {
		name  string
		token string
		id    string
		body  map[string]any
		want  int
	}{
		{"give it to another user", e.DemoToken, totpID, map[string]any{"user_id": adminID}, 403},
		{"another user's", e.DemoToken, certID, map[string]any{"blob": "x"}, 403},
		{"to ec2 without project", e.DemoToken, totpID, map[string]any{"type": "ec2"}, 400},
		{"empty", e.DemoToken, totpID, map[string]any{}, 400},
		{"change id", e.DemoToken, totpID, map[string]any{"id": "other"}, 400},
		{"blob wrong type", e.DemoToken, totpID, map[string]any{"blob": 1}, 400},
		{"unknown", e.AdminToken, "nope", map[string]any{"blob": "x"}, 404},
	}
	for _, tt := range patches {
		t.Run("patch "+tt.name, func(t *testing.T) {
			status, out, _ := e.Do("PATCH", "/v3/credentials/"+tt.id, tt.token, credBody(tt.body))
			if status != tt.want {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
		})
	}
	// An admin may move a credential between users.
	moved := obj(e.Must(http.StatusOK, "PATCH", "/v3/credentials/"+certID, e.AdminToken, credBody(map[string]any{
		"user_id": demoID})), "credential")
	if moved["user_id"] != demoID {
		t.Fatalf("moved: %v", moved)
	}
	e.Must(http.StatusOK, "GET", "/v3/credentials/"+certID, e.DemoToken, nil)

	adminOwn := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", e.AdminToken, credBody(map[string]any{
		"type": "cert", "blob": "x", "user_id": adminID})), "credential")["id"].(string)
	e.Must(http.StatusForbidden, "DELETE", "/v3/credentials/"+adminOwn, e.DemoToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/credentials/"+totpID, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/credentials/"+totpID, e.AdminToken, nil)
	// As upstream, a non-admin cannot tell a missing credential from another user's.
	e.Must(http.StatusForbidden, "GET", "/v3/credentials/"+totpID, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/credentials/"+totpID, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/credentials/"+adminOwn, e.AdminToken, nil)
	if got := list(e.Must(http.StatusOK, "GET", "/v3/credentials", e.AdminToken, nil), "credentials"); len(got) != 2 {
		t.Fatalf("after deletes: %v", got)
	}
}
