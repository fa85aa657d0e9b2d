package image

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// The image invariants under concurrency (issue 17): each test fires its calls at
// once with conctest.Burst, on one image service and on two sharing one database
// and one store (two Nimbus processes behind a load balancer), then checks what
// must hold whatever the interleaving. They run on SQLite and, with
// NIMBUS_TEST_DATABASE_URL set, on PostgreSQL.

const burst = 32

// topologies runs test once with one image service and once with two.
func topologies(t *testing.T, tune func(*Options), test func(t *testing.T, e *testEnv)) {
	for _, two := range []bool{false, true} {
		name := "one-instance"
		if two {
			name = "two-instances"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, tune)
			if two {
				e.secondInstance()
			}
			test(t, e)
		})
	}
}

// secondInstance starts another image service on the same database and data
// directory and spreads the requests over both, turn about.
func (e *testEnv) secondInstance() {
	e.t.Helper()
	opts := e.opts
	opts.Policy = policy.NewEnforcer()
	second, err := New(context.Background(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.handler = &conctest.RoundRobin{Handlers: []http.Handler{e.handler, second.Handler()}}
}

// try sends a request from any goroutine (it never fails the test itself): the
// status and the body, or the transport's error.
func (e *testEnv) try(method, path, token string, body any, headers map[string]string) (int, []byte, error) {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("X-Auth-Token", token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// statusBurst runs n calls of call at once and counts the answers by status; a
// transport failure fails the test.
func statusBurst(t *testing.T, n int, call func(i int) (int, []byte, error)) map[int]int {
	t.Helper()
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	errs := conctest.Burst(n, func(i int) error {
		var err error
		statuses[i], bodies[i], err = call(i)
		return err
	})
	counts := map[int]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		counts[statuses[i]]++
		if statuses[i] >= 500 {
			t.Errorf("call %d: %d %s", i, statuses[i], bodies[i])
		}
	}
	return counts
}

func patchOp(op, path string, value any) []byte {
	data, _ := json.Marshal([]map[string]any{{"op": op, "path": path, "value": value}})
	return data
}

func (e *testEnv) tryPatch(id, token string, ops []byte) (int, []byte, error) {
	return e.try("PATCH", "/v2/images/"+id, token, ops, map[string]string{"Content-Type": patchType})
}

// TestConcurrentUploadsOneWins: of 32 uploads of one image exactly one is stored;
// every other answers upstream's 409, and the image's checksum, size and data are
// the winner's.
func TestConcurrentUploadsOneWins(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
		data := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26), byte(i)}, 4096) }
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			return e.try("PUT", "/v2/images/"+id+"/file", e.DemoToken, data(i), nil)
		})
		if counts[http.StatusNoContent] != 1 || counts[http.StatusConflict] != burst-1 {
			t.Fatalf("answers by status: %v, want one 204 and %d 409", counts, burst-1)
		}
		show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		status, _, stored, _ := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, nil)
		sum := md5.Sum(stored)
		if show["status"] != "active" || status != http.StatusOK || show["checksum"] != hex.EncodeToString(sum[:]) ||
			show["size"] != float64(len(stored)) {
			t.Fatalf("after the burst: %v; download %d of %d bytes", show, status, len(stored))
		}
	})
}

// TestMetadataWritesKeepUploadAndStatus: tag adds and property patches racing an
// upload and a deactivation never write back the status, size or checksum they
// read before (the image stays active, with its data, and deactivated once
// deactivated), and none of them loses another's change.
func TestMetadataWritesKeepUploadAndStatus(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
		payload := bytes.Repeat([]byte("nimbus"), 10000)
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			switch {
			case i == 0:
				return e.try("PUT", "/v2/images/"+id+"/file", e.DemoToken, payload, nil)
			case i%2 == 0:
				return e.try("PUT", fmt.Sprintf("/v2/images/%s/tags/t%02d", id, i), e.DemoToken, nil, nil)
			default:
				return e.tryPatch(id, e.DemoToken, patchOp("add", fmt.Sprintf("/p%02d", i), "v"))
			}
		})
		if counts[http.StatusNoContent]+counts[http.StatusOK] != burst {
			t.Fatalf("answers by status: %v, want all to succeed", counts)
		}
		show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		sum := md5.Sum(payload)
		if show["status"] != "active" || show["checksum"] != hex.EncodeToString(sum[:]) || show["size"] != float64(len(payload)) {
			t.Fatalf("after upload and metadata writes: status %v checksum %v size %v", show["status"], show["checksum"], show["size"])
		}
		for i := 1; i < burst; i++ {
			if i%2 == 0 && !slices.Contains(toStrings(show["tags"]), fmt.Sprintf("t%02d", i)) {
				t.Errorf("tag t%02d lost: %v", i, show["tags"])
			}
			if i%2 == 1 && show[fmt.Sprintf("p%02d", i)] != "v" {
				t.Errorf("property p%02d lost", i)
			}
		}

		// A deactivation racing tag adds stays: no tag add brings the image back.
		counts = statusBurst(t, burst, func(i int) (int, []byte, error) {
			if i == burst/2 {
				return e.try("POST", "/v2/images/"+id+"/actions/deactivate", e.AdminToken, nil, nil)
			}
			return e.try("PUT", fmt.Sprintf("/v2/images/%s/tags/d%02d", id, i), e.DemoToken, nil, nil)
		})
		if counts[http.StatusNoContent] != burst {
			t.Fatalf("answers by status: %v, want all 204", counts)
		}
		show = e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.AdminToken, nil)
		if show["status"] != "deactivated" || show["checksum"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("after deactivate and tag adds: status %v checksum %v", show["status"], show["checksum"])
		}
		if got, want := len(toStrings(show["tags"])), burst/2-1+burst-1; got != want {
			t.Errorf("%d tags after the bursts, want %d: %v", got, want, show["tags"])
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestUploadRacingDeleteLeavesNothing: an image deleted while uploads run is gone
// for good, and no data of it stays in the store.
func TestUploadRacingDeleteLeavesNothing(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		for try := range 5 {
			id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
			counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
				if i == try*5 {
					return e.try("DELETE", "/v2/images/"+id, e.DemoToken, nil, nil)
				}
				return e.try("PUT", "/v2/images/"+id+"/file", e.DemoToken, bytes.Repeat([]byte{byte(i)}, 1<<16), nil)
			})
			if counts[http.StatusNoContent] < 1 || counts[http.StatusNoContent] > 2 {
				t.Fatalf("answers by status: %v, want the delete and at most one upload to succeed", counts)
			}
			e.Must(http.StatusNotFound, "GET", "/v2/images/"+id, e.DemoToken, nil)
			if fileExists(filepath.Join(e.Dir, "images", id)) {
				t.Fatalf("try %d: data of deleted image %s left in the store", try, id)
			}
		}
	})
}

// TestProtectRacingDelete: a PATCH setting protected and a DELETE of one image
// never both succeed: either the delete came first (the patch then finds no
// image) or the protection did (the delete is refused).
func TestProtectRacingDelete(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		for try := range 16 {
			id := e.Create(e.DemoToken, map[string]any{"name": "p"})
			counts := statusBurst(t, 2, func(i int) (int, []byte, error) {
				if i == try%2 {
					return e.try("DELETE", "/v2/images/"+id, e.DemoToken, nil, nil)
				}
				return e.tryPatch(id, e.DemoToken, patchOp("replace", "/protected", true))
			})
			if counts[http.StatusNoContent] == 1 && counts[http.StatusOK] == 1 {
				t.Fatalf("try %d: both the protection and the delete succeeded", try)
			}
			if counts[http.StatusOK] == 1 { // protected: unprotect and clean up
				e.Patch(http.StatusOK, id, e.DemoToken, map[string]any{"op": "replace", "path": "/protected", "value": false})
				e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+id, e.DemoToken, nil)
			}
		}
	})
}

// TestImageCountQuotaUnderConcurrentCreates: image_count_total holds whatever the
// number of creates at once: exactly the quota's worth succeed, the others answer
// 413, and the project owns no more images than its quota.
func TestImageCountQuotaUnderConcurrentCreates(t *testing.T) {
	const quota = 5
	topologies(t, func(o *Options) { o.QuotaImages = quota }, func(t *testing.T, e *testEnv) {
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			return e.try("POST", "/v2/images", e.DemoToken, map[string]any{"name": fmt.Sprint("q", i)}, nil)
		})
		if counts[http.StatusCreated] != quota || counts[http.StatusRequestEntityTooLarge] != burst-quota {
			t.Fatalf("answers by status: %v, want %d 201 and %d 413", counts, quota, burst-quota)
		}
		if got := len(e.Must(http.StatusOK, "GET", "/v2/images?owner="+e.DemoProject, e.DemoToken, nil)["images"].([]any)); got != quota {
			t.Fatalf("the project owns %d images, quota %d", got, quota)
		}
	})
}

// TestImageSizeQuotaUnderConcurrentUploads: image_size_total holds with uploads
// at once to different images: the project's stored bytes never exceed it.
func TestImageSizeQuotaUnderConcurrentUploads(t *testing.T) {
	const size, fits = 4096, 10
	topologies(t, func(o *Options) { o.QuotaBytes = size * fits }, func(t *testing.T, e *testEnv) {
		ids := make([]string, burst)
		for i := range ids {
			ids[i] = e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
		}
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			return e.try("PUT", "/v2/images/"+ids[i]+"/file", e.DemoToken, bytes.Repeat([]byte{byte(i)}, size), nil)
		})
		if counts[http.StatusNoContent] != fits || counts[http.StatusRequestEntityTooLarge] != burst-fits {
			t.Fatalf("answers by status: %v, want %d 204 and %d 413", counts, fits, burst-fits)
		}
		var stored float64
		for _, id := range ids {
			show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
			if s, ok := show["size"].(float64); ok {
				stored += s
			} else if show["status"] != "queued" {
				t.Errorf("refused upload left image %s %v", id, show["status"])
			}
		}
		if stored > size*fits {
			t.Fatalf("the project stores %v bytes, quota %d", stored, size*fits)
		}
		if entries, _ := os.ReadDir(filepath.Join(e.Dir, "images")); len(entries) != fits {
			t.Fatalf("%d files in the store, want %d", len(entries), fits)
		}
	})
}

// TestConcurrentImportsOneWins: of 32 glance-direct imports of one staged image
// exactly one runs; the others answer 409.
func TestConcurrentImportsOneWins(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
		staged := []byte(strings.Repeat("staged ", 1000))
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/stage", e.DemoToken, staged)
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			return e.try("POST", "/v2/images/"+id+"/import", e.DemoToken,
				map[string]any{"method": map[string]any{"name": "glance-direct"}}, nil)
		})
		if counts[http.StatusAccepted] != 1 || counts[http.StatusConflict] != burst-1 {
			t.Fatalf("answers by status: %v, want one 202 and %d 409", counts, burst-1)
		}
		sum := md5.Sum(staged)
		if show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil); show["status"] != "active" ||
			show["checksum"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("after the imports: %v", show)
		}
	})
}

// TestConcurrentMemberAddsOneWins: one project added 32 times at once is one
// member: one 200, the others upstream's 409.
func TestConcurrentMemberAddsOneWins(t *testing.T) {
	topologies(t, nil, func(t *testing.T, e *testEnv) {
		id := e.Create(e.DemoToken, map[string]any{"name": "shared"})
		counts := statusBurst(t, burst, func(i int) (int, []byte, error) {
			return e.try("POST", "/v2/images/"+id+"/members", e.DemoToken, map[string]any{"member": "other-project"}, nil)
		})
		if counts[http.StatusOK] != 1 || counts[http.StatusConflict] != burst-1 {
			t.Fatalf("answers by status: %v, want one 200 and %d 409", counts, burst-1)
		}
		members := e.Must(http.StatusOK, "GET", "/v2/images/"+id+"/members", e.DemoToken, nil)["members"].([]any)
		if len(members) != 1 {
			t.Fatalf("members: %v", members)
		}
	})
}
