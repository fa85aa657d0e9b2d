package e2e

import "testing"

func TestTokenIssueWithOpenStackCLI(t *testing.T) {
	var tok map[string]any
	OSJSON(t, shared, "nimbus-admin", &tok, "token", "issue")
	if id, _ := tok["id"].(string); len(id) < 100 {
		t.Fatalf("token id %q looks wrong", id)
	}
	if tok["project_id"] == "" || tok["user_id"] == "" {
		t.Fatalf("token issue output: %v", tok)
	}
}
