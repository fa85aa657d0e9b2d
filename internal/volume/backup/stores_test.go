package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/objectstoretest"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// testStore is a driver over one kind of store and a look into that store
// beside the driver, for the tests to count, read and damage objects.
type testStore struct {
	name   string
	driver *Chunked
	auth   Auth
	// objects lists a container: name → bytes.
	objects func(t testing.TB, container string) map[string]int64
	read    func(t testing.TB, container, name string) []byte
	write   func(t testing.TB, container, name string, data []byte)
}

// stores are the two stores the tests run against, made with o.
var stores = []struct {
	name string
	make func(t testing.TB, o ChunkOptions) testStore
}{
	{"directory", newDirTestStore},
	{"objectstore", newSwiftTestStore},
}

func newDirTestStore(t testing.TB, o ChunkOptions) testStore {
	dir := t.TempDir()
	d, err := NewDirectory(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return testStore{
		name:   "directory",
		driver: d,
		objects: func(t testing.TB, container string) map[string]int64 {
			entries, err := os.ReadDir(filepath.Join(dir, container))
			if errors.Is(err, os.ErrNotExist) {
				return map[string]int64{}
			}
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]int64{}
			for _, e := range entries {
				fi, err := e.Info()
				if err != nil {
					t.Fatal(err)
				}
				out[e.Name()] = fi.Size()
			}
			return out
		},
		read: func(t testing.TB, container, name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, container, name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		write: func(t testing.TB, container, name string, data []byte) {
			if err := os.WriteFile(filepath.Join(dir, container, name), data, 0o660); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// projectTokens stands in for identity before the object store: "tok" is a
// member of project p, "other" of project q.
type projectTokens struct{}

func (projectTokens) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	project := map[string]string{"tok": "p", "other": "q"}[token]
	if project == "" {
		return nil, errors.New("invalid token")
	}
	return &auth.Credentials{UserID: "u-" + project, ProjectID: project, Roles: []auth.Role{{ID: "member", Name: "member"}}}, nil
}

func newSwiftTestStore(t testing.TB, o ChunkOptions) testStore {
	a := objectstoretest.Start(t, objectstore.Options{Auth: projectTokens{}})
	d, err := NewSwift(SwiftOptions{ChunkOptions: o})
	if err != nil {
		t.Fatal(err)
	}
	d.store.(*swiftStore).backoff = 0
	storageURL := a.URL + "/v1/AUTH_p"
	do := func(t testing.TB, method, path string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, storageURL+path, bytes.NewReader(body))
		req.Header.Set("X-Auth-Token", "tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	object := func(container, name string) string {
		return (&url.URL{Path: "/" + container + "/" + name}).EscapedPath()
	}
	return testStore{
		name:   "objectstore",
		driver: d,
		auth:   Auth{Token: "tok", StorageURL: storageURL},
		objects: func(t testing.TB, container string) map[string]int64 {
			resp := do(t, http.MethodGet, "/"+container+"?format=json", nil)
			defer resp.Body.Close()
			out := map[string]int64{}
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent {
				return out
			}
			var list []struct {
				Name  string
				Bytes int64
			}
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				t.Fatal(err)
			}
			for _, o := range list {
				out[o.Name] = o.Bytes
			}
			return out
		},
		read: func(t testing.TB, container, name string) []byte {
			resp := do(t, http.MethodGet, object(container, name), nil)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d %v", name, resp.StatusCode, err)
			}
			return b
		},
		write: func(t testing.TB, container, name string, data []byte) {
			resp := do(t, http.MethodPut, object(container, name), data)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT %s: %d", name, resp.StatusCode)
			}
		},
	}
}

// memVolume is a volume in memory that refuses writes past its end.
type memVolume struct{ b []byte }

func (v *memVolume) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(v.b)) {
		return 0, io.EOF
	}
	n := copy(p, v.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (v *memVolume) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(v.b)) {
		return 0, fmt.Errorf("write of %d bytes at %d past the volume's %d", len(p), off, len(v.b))
	}
	return copy(v.b[off:], p), nil
}

// chunkObjects are the chunk objects of a listing under prefix.
func chunkObjects(objects map[string]int64, prefix string) map[string]int64 {
	out := map[string]int64{}
	for name, n := range objects {
		if isChunkName(name, prefix) {
			out[name] = n
		}
	}
	return out
}

// hasPrefix says every object listed is one of prefix's.
func allUnder(objects map[string]int64, prefix string) bool {
	for name := range objects {
		if !strings.HasPrefix(name, prefix) {
			return false
		}
	}
	return true
}
