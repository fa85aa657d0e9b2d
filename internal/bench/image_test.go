package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeImageCloud is a login and an image API keeping data in dir.
func fakeImageCloud(t *testing.T, dir string) (*httptest.Server, *atomic.Int64) {
	var uploaded atomic.Int64
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("POST /v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", "tok-1")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"catalog":[{"type":"image","endpoints":[{"interface":"public","url":%q}]}]}}`, srv.URL)
	})
	mux.HandleFunc("POST /v2/images", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"img-%d"}`, uploaded.Load())
	})
	mux.HandleFunc("PUT /v2/images/{id}/file", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "tok-1" || r.Header.Get("Content-Type") != "application/octet-stream" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f, err := os.Create(filepath.Join(dir, r.PathValue("id")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		n, err := io.Copy(f, r.Body)
		if err != nil || n != r.ContentLength || f.Sync() != nil {
			http.Error(w, "short", http.StatusBadRequest)
			return
		}
		uploaded.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v2/images/{id}/file", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, r.PathValue("id")))
	})
	mux.HandleFunc("DELETE /v2/images/{id}", func(w http.ResponseWriter, r *http.Request) {
		os.Remove(filepath.Join(dir, r.PathValue("id")))
		w.WriteHeader(http.StatusNoContent)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &uploaded
}

func TestImageAgainstFake(t *testing.T) {
	imageDir, ddDir := t.TempDir(), t.TempDir()
	srv, uploaded := fakeImageCloud(t, imageDir)
	const size = 3<<20 + 123
	rep, err := Image(context.Background(), ImageOptions{
		Credentials: Credentials{AuthURL: srv.URL + "/v3", Username: "admin", Password: "pw", ProjectName: "admin"},
		Size:        size, DDDir: ddDir, ServerPID: os.Getpid(), ImageDir: imageDir, Rounds: 3, ColdReads: true,
	}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	if uploaded.Load() != 3 || len(rep.Rounds) != 3 {
		t.Fatalf("%d uploads, %d rounds", uploaded.Load(), len(rep.Rounds))
	}
	for i, r := range rep.Rounds {
		if r.UploadMBps <= 0 || r.DownloadMBps <= 0 || r.DDWriteMBps <= 0 || r.DDDirectMBps <= 0 || r.DDReadMBps <= 0 ||
			r.UploadServerCores < 0 || r.DownloadCached != 0 || r.DDReadCached != 0 {
			t.Errorf("round %d: %+v", i+1, r)
		}
	}
	if rep.UploadRatio <= 0 || rep.DownloadRatio <= 0 || rep.ServerRSSPeak < rep.ServerRSSStart || rep.ServerRSSStart <= 0 {
		t.Errorf("report: %+v", rep)
	}
	// the images were deleted, dd's file removed
	for _, dir := range []string{imageDir, ddDir} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s left %v", dir, entries)
		}
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"of dd conv=fsync", "of dd read", "reads were cold", "server RSS"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back ImageReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rounds) != 3 {
		t.Fatalf("JSON round trip: %v", err)
	}
}

func TestCachedShare(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, bytes.Repeat([]byte{1}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := cachedShare(p); err != nil || s != 1 {
		t.Fatalf("just written: %v %v", s, err)
	}
	if _, err := coldRead(true, p); err != nil {
		t.Fatal(err)
	}
	// dirty pages are not dropped: the cache share is what the next read will find
	s, err := cachedShare(p)
	if err != nil || s < 0 || s > 1 {
		t.Fatalf("after eviction: %v %v", s, err)
	}
}
