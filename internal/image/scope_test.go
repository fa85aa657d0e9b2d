package image

import (
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestProjectlessTokensOwnNoImages: domain- and system-scoped tokens neither
// create nor list images (upstream's scope_types are project), so no image is
// ever made with an empty owner.
func TestProjectlessTokensOwnNoImages(t *testing.T) {
	e := newTestEnv(t, nil)
	personas, _ := e.identity.Personas("scoped")
	for _, p := range personas {
		if p.Name != policytest.DomainAdmin && p.Name != policytest.SystemAdmin {
			continue
		}
		if status, _, body, _ := e.Do("POST", "/v2/images", p.Token, map[string]any{"name": "ownerless"}, nil); status != http.StatusForbidden {
			t.Errorf("%s: create answered %d %s, want 403", p.Name, status, body)
		}
		if status, _, body, _ := e.Do("GET", "/v2/images", p.Token, nil, nil); status != http.StatusForbidden {
			t.Errorf("%s: list answered %d %s, want 403", p.Name, status, body)
		}
	}
	var n int
	if err := e.DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM images WHERE owner = ''`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d images with an empty owner (%v)", n, err)
	}
}
