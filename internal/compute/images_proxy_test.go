package compute

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

var _ ImageProxy = (*memImages)(nil)

// ListImages lists the images token may see, by id, with the name and status
// filters.
func (m *memImages) ListImages(ctx context.Context, token string, q url.Values) ([]Image, error) {
	m.mu.Lock()
	ids := slices.Sorted(maps.Keys(m.images))
	m.mu.Unlock()
	var out []Image
	for _, id := range ids {
		img, err := m.Get(ctx, token, id)
		if err != nil {
			continue
		}
		if (q.Has("name") && img.Name != q.Get("name")) || (q.Has("status") && img.Status != q.Get("status")) {
			continue
		}
		out = append(out, img)
	}
	return out, nil
}

// DeleteImage deletes what token may see; public images are admins' only.
func (m *memImages) DeleteImage(ctx context.Context, token, id string) error {
	if _, err := m.Get(ctx, token, id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owners[id] == "" && m.auth != nil {
		if creds, err := m.auth.Authenticate(ctx, token); err != nil || !isAdmin(creds) {
			return httpapi.Forbidden("You are not permitted to delete this image.")
		}
	}
	delete(m.images, id)
	return nil
}

func (m *memImages) SetImageProperties(ctx context.Context, token, id string, props map[string]string) (Image, error) {
	img, err := m.Get(ctx, token, id)
	if err != nil {
		return Image{}, err
	}
	img.Properties = maps.Clone(props)
	m.add(img)
	return img, nil
}

func (m *memImages) ImageURL() string { return "http://image.example/" }

// TestImageProxy: /images and image metadata through the image service, as
// the caller may see and change them, to 2.35 and 2.38; 404 beyond.
func TestImageProxy(t *testing.T) {
	e := newMVEnv(t)
	e.images.addPrivate(Image{ID: "aaaaaaaa-0000-4000-8000-000000000007", Name: "mine", Status: "saving", MinRAM: 512, CreatedAt: "2026-01-02T03:04:05Z",
		UpdatedAt: "2026-01-02T03:04:05Z", Properties: map[string]string{"instance_uuid": "cccccccc-0000-4000-8000-000000000001", "auto_disk_config": "true"}}, e.DemoProject)
	list := e.mustAt(200, "2.35", "GET", "/v2.1/images", e.DemoToken, nil)["images"].([]any)
	if len(list) != 2 {
		t.Fatalf("images: %v", list)
	}
	links := list[0].(map[string]any)["links"].([]any)
	if len(links) != 3 || links[2].(map[string]any)["rel"] != "alternate" {
		t.Errorf("links: %v", links)
	}
	detail := e.mustAt(200, "2.1", "GET", "/v2.1/images/detail?minRam=256", e.DemoToken, nil)["images"].([]any)
	if len(detail) != 1 {
		t.Fatalf("detail with minRam: %v", detail)
	}
	img := detail[0].(map[string]any)
	if img["status"] != "SAVING" || img["progress"] != 50.0 || img["OS-DCF:diskConfig"] != "AUTO" || img["server"].(map[string]any)["id"] != "cccccccc-0000-4000-8000-000000000001" {
		t.Errorf("detail view: %v", img)
	}
	shown := e.mustAt(200, "2.1", "GET", "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000001", e.DemoToken, nil)["image"].(map[string]any)
	if shown["status"] != "ACTIVE" || shown["progress"] != 100.0 || shown["minRam"] != 0.0 {
		t.Errorf("show: %v", shown)
	}
	nf := e.mustAt(404, "2.1", "GET", "/v2.1/images/nope", e.DemoToken, nil)
	if msg := nf["itemNotFound"].(map[string]any)["message"]; msg != "Image not found." {
		t.Errorf("not found: %q", msg)
	}
	e.mustAt(404, "2.36", "GET", "/v2.1/images", e.DemoToken, nil)
	e.mustAt(404, "2.36", "GET", "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000001", e.DemoToken, nil)

	// Metadata, to 2.38.
	md := "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000007/metadata"
	out := e.mustAt(200, "2.38", "POST", md, e.DemoToken, map[string]any{"metadata": map[string]any{"k1": "v1"}})["metadata"].(map[string]any)
	if out["k1"] != "v1" || out["instance_uuid"] != "cccccccc-0000-4000-8000-000000000001" {
		t.Errorf("POST merges: %v", out)
	}
	e.mustAt(200, "2.1", "PUT", md+"/k2", e.DemoToken, map[string]any{"meta": map[string]any{"k2": "v2"}})
	mismatch := e.mustAt(400, "2.1", "PUT", md+"/k3", e.DemoToken, map[string]any{"meta": map[string]any{"k2": "v2"}})
	if msg := mismatch["badRequest"].(map[string]any)["message"]; msg != "Request body and URI mismatch" {
		t.Errorf("mismatch: %q", msg)
	}
	if got := e.mustAt(200, "2.1", "GET", md+"/k2", e.DemoToken, nil)["meta"].(map[string]any); got["k2"] != "v2" {
		t.Errorf("meta k2: %v", got)
	}
	e.mustAt(204, "2.1", "DELETE", md+"/k2", e.DemoToken, nil)
	if msg := e.mustAt(404, "2.1", "DELETE", md+"/k2", e.DemoToken, nil)["itemNotFound"].(map[string]any)["message"]; msg != "Invalid metadata key" {
		t.Errorf("delete missing key: %q", msg)
	}
	all := e.mustAt(200, "2.1", "PUT", md, e.DemoToken, map[string]any{"metadata": map[string]any{"only": "this"}})["metadata"].(map[string]any)
	if len(all) != 1 || e.images.images["aaaaaaaa-0000-4000-8000-000000000007"].Properties["only"] != "this" {
		t.Errorf("PUT replaces: %v %v", all, e.images.images["aaaaaaaa-0000-4000-8000-000000000007"].Properties)
	}
	e.mustAt(404, "2.39", "GET", md, e.DemoToken, nil)

	// Delete: the image service decides.
	if st, _, _ := e.doAt("2.1", "DELETE", "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000001", e.DemoToken, nil); st != http.StatusForbidden {
		t.Errorf("a member deletes a public image: %d", st)
	}
	e.mustAt(204, "2.1", "DELETE", "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000007", e.DemoToken, nil)
	e.mustAt(404, "2.1", "DELETE", "/v2.1/images/aaaaaaaa-0000-4000-8000-000000000007", e.DemoToken, nil)
}
