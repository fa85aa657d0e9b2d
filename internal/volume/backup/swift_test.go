package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestObjectStoreRefusesOtherTokens: a token the store does not know (401),
// or one of another project (403), fails backup, restore and delete with
// ErrAccessDenied and leaves the backup as it was.
func TestObjectStoreRefusesOtherTokens(t *testing.T) {
	ts := newSwiftTestStore(t, ChunkOptions{ChunkSize: testChunk})
	ctx := context.Background()
	vol := volumeData(9, testSize)
	s := spec(ts, "mine")
	r, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"forged", "other", ""} {
		bad := saved(s, r)
		bad.Auth.Token = token
		b := bad
		b.ID, b.Container, b.Prefix = "theirs-2", "", ""
		if _, err := ts.driver.Backup(ctx, b, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: backup: %v", token, err)
		}
		if err := ts.driver.Restore(ctx, bad, &memVolume{b: make([]byte, testSize)}, testSize, RestoreOptions{}); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: restore: %v", token, err)
		}
		err = ts.driver.Delete(ctx, bad)
		t.Logf("token %q: %v", token, err)
		if !errors.Is(err, ErrAccessDenied) {
			t.Errorf("token %q: delete: %v", token, err)
		}
	}
	if got := restore(t, ts, saved(s, r), 0, true); string(got) != string(vol) {
		t.Error("the backup changed")
	}
}

// faultyProxy stands between the driver and the object store: it answers
// the first failures requests to chunk objects with 503, and with
// wrongETag answers PUTs with an ETag that is not the body's.
type faultyProxy struct {
	next      http.Handler
	mu        sync.Mutex
	failures  int
	failed    int
	wrongETag bool
}

func (p *faultyProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fail := strings.Contains(r.URL.Path, "_backup_") && regexp.MustCompile(`-[0-9]{5}$`).MatchString(r.URL.Path) && p.failed < p.failures
	if fail {
		p.failed++
	}
	wrong := p.wrongETag && r.Method == http.MethodPut
	p.mu.Unlock()
	if fail {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if wrong {
		w = etagRewriter{w}
	}
	p.next.ServeHTTP(w, r)
}

// etagRewriter changes the ETag of the answer it writes.
type etagRewriter struct{ http.ResponseWriter }

func (e etagRewriter) WriteHeader(code int) {
	e.Header().Set("Etag", "00000000000000000000000000000000")
	e.ResponseWriter.WriteHeader(code)
}

// TestObjectStoreRetriesAndChecksETags: a 503 is retried (a backup and a
// restore through a store failing some requests succeed); a PUT whose ETag
// answer is not the md5 sent fails the backup, as upstream's writer does.
func TestObjectStoreRetriesAndChecksETags(t *testing.T) {
	ts := newSwiftTestStore(t, ChunkOptions{ChunkSize: testChunk})
	target, err := url.Parse(ts.auth.StorageURL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	forward.ErrorLog = log.New(io.Discard, "", 0) // requests a failed backup cancels
	proxy := &faultyProxy{next: forward}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	auth := Auth{Token: "tok", StorageURL: srv.URL + target.Path}
	ctx := context.Background()
	vol := volumeData(12, testSize)

	proxy.failures = 2 // the first chunk's PUT, then its retry
	s := spec(ts, "retried")
	s.Auth = auth
	r, err := ts.driver.Backup(ctx, s, &memVolume{b: vol}, testSize, nil)
	proxy.mu.Lock()
	failed := proxy.failed
	proxy.failures, proxy.failed = 1, 0
	proxy.mu.Unlock()
	if err != nil || failed != 2 {
		t.Fatalf("backup through 503s: %v (%d failed)", err, failed)
	}
	dst := &memVolume{b: make([]byte, testSize)}
	if err := ts.driver.Restore(ctx, saved(s, r), dst, testSize, RestoreOptions{}); err != nil || !bytes.Equal(dst.b, vol) {
		t.Fatalf("restore through a 503: %v", err)
	}

	proxy.mu.Lock()
	proxy.failures, proxy.wrongETag = 0, true
	proxy.mu.Unlock()
	s2 := spec(ts, "wrong-etag")
	s2.Auth = auth
	if _, err := ts.driver.Backup(ctx, s2, &memVolume{b: vol}, testSize, nil); !errors.Is(err, ErrInvalidBackup) {
		t.Errorf("backup with wrong ETags: %v", err)
	}
	proxy.mu.Lock()
	proxy.wrongETag = false
	proxy.mu.Unlock()
	if err := ts.driver.Delete(ctx, saved(s, r)); err != nil {
		t.Fatal(err)
	}
	if objects := ts.objects(t, DefaultSwiftContainer); len(objects) != 0 {
		t.Errorf("left behind: %v", objects)
	}
}
