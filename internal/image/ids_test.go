package image

import (
	"bytes"
	"net/http"
	"testing"
)

// TestDeletedImageIDNotReused: once deleted, an image's id is never given to
// another image, whoever asks (OSSN-0075; upstream keeps deleted rows and
// answers 409 "Image ID ... already exists!"), since caches (the compute image
// cache) may still hold the old image's data under it.
func TestDeletedImageIDNotReused(t *testing.T) {
	e := newTestEnv(t, nil)
	otherToken, _ := e.NewProjectUser("reuser")
	id := "6f4f2b47-3e5c-4d0e-9a55-0ddba11a0001"
	e.Must(http.StatusCreated, "POST", "/v2/images", e.DemoToken, map[string]any{"id": id, "name": "first"})
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+id, e.DemoToken, nil)
	for _, token := range []string{otherToken, e.DemoToken, e.AdminToken} {
		status, _, body, _ := e.Do("POST", "/v2/images", token, map[string]any{"id": id, "name": "second"}, nil)
		if status != http.StatusConflict || !bytes.Contains(body, []byte("already exists")) {
			t.Errorf("re-create of a deleted id answered %d %s, want 409", status, body)
		}
	}
	e.Must(http.StatusNotFound, "GET", "/v2/images/"+id, e.AdminToken, nil)
}
