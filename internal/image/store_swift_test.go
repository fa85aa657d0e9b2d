package image

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/objectstoretest"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// serviceToken stands in for identity before the object store: "svc" is a
// member of the image service's project.
type serviceToken struct{}

func (serviceToken) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	if token != "svc" {
		return nil, errors.New("invalid token")
	}
	return &auth.Credentials{UserID: "glance", ProjectID: "svc", Roles: []auth.Role{{ID: "member", Name: "member"}}}, nil
}

// swiftBackend is an in-process object store (3 devices, 3 replicas) and the
// image service's account on it.
type swiftBackend struct {
	t          *testing.T
	storageURL string
	logins     int
}

func startSwiftBackend(t *testing.T) *swiftBackend {
	t.Helper()
	a := objectstoretest.Start(t, objectstore.Options{Auth: serviceToken{}})
	return &swiftBackend{t: t, storageURL: a.URL + "/v1/AUTH_svc"}
}

// store is a swift store on the backend with segments of chunk bytes.
func (b *swiftBackend) store(chunk int64) *SwiftStore { return b.sizedStore(chunk, 0) }

// sizedStore is store segmenting data of a known size from large bytes.
func (b *swiftBackend) sizedStore(chunk, large int64) *SwiftStore {
	return NewSwiftStore(SwiftOptions{ChunkSize: chunk, LargeObjectSize: large, Auth: func(context.Context) (string, string, time.Time, error) {
		b.logins++
		return "svc", b.storageURL, time.Now().Add(time.Hour), nil
	}})
}

// objects lists the glance container: name → X-Object-Manifest of each.
func (b *swiftBackend) objects() map[string]string {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.storageURL+"/glance?format=json", nil)
	req.Header.Set("X-Auth-Token", "svc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct{ Name string }
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			b.t.Fatal(err)
		}
	}
	out := map[string]string{}
	for _, o := range list {
		req, _ := http.NewRequest(http.MethodHead, b.storageURL+"/glance/"+o.Name+"?multipart-manifest=get", nil)
		req.Header.Set("X-Auth-Token", "svc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		resp.Body.Close()
		out[o.Name] = resp.Header.Get("X-Object-Manifest")
	}
	return out
}

// TestSwiftStoreWrite: data and checksums around the segment boundaries, the
// segments glance_store would name, a DLO manifest, reads from any offset, and a
// delete that leaves nothing.
func TestSwiftStoreWrite(t *testing.T) {
	b := startSwiftBackend(t)
	const chunk = 64 << 10
	s := b.store(chunk)
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 12345} {
		id := fmt.Sprintf("img-%d", size)
		data := randomBytes(size)
		w, err := s.Write(id, iotest.HalfReader(bytes.NewReader(data)), int64(size))
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		m, sh := md5.Sum(data), sha512.Sum512(data)
		if w.Size != int64(size) || w.MD5 != hex.EncodeToString(m[:]) || w.SHA512 != hex.EncodeToString(sh[:]) {
			t.Errorf("%d bytes: wrote %+v", size, w)
		}
		objects := b.objects()
		segments := (size + chunk - 1) / chunk
		if len(objects) != segments+1 || objects[id] != "glance/"+id+"-" {
			t.Errorf("%d bytes: objects %v, want %d segments and the manifest", size, objects, segments)
		}
		for n := 1; n <= segments; n++ {
			if _, ok := objects[segmentName(id, n)]; !ok {
				t.Errorf("%d bytes: no segment %s", size, segmentName(id, n))
			}
		}
		f, n, err := s.Open(id)
		if err != nil || n != int64(size) {
			t.Fatalf("%d bytes: open: %v, size %d", size, err, n)
		}
		got, err := io.ReadAll(f)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", size, len(got), err)
		}
		if size > 2 {
			for _, off := range []int64{1, int64(size) / 2, int64(size) - 1} {
				if _, err := f.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(f)
				if err != nil || !bytes.Equal(got, data[off:]) {
					t.Errorf("%d bytes from %d: %d bytes, %v", size, off, len(got), err)
				}
			}
		}
		f.Close()
		loc, err := s.Location(context.Background(), id)
		if want := "swift+" + b.storageURL + "/glance/" + id; err != nil || loc != want {
			t.Errorf("location %q, want %q", loc, want)
		}
		if err := s.Delete(id); err != nil {
			t.Fatal(err)
		}
		if left := b.objects(); len(left) != 0 {
			t.Errorf("%d bytes: delete left %v", size, left)
		}
		if _, _, err := s.Open(id); err == nil {
			t.Errorf("%d bytes: opened after delete", size)
		}
		// deleting a missing image is not an error
		if err := s.Delete(id); err != nil {
			t.Errorf("second delete: %v", err)
		}
	}
	if b.logins != 1 {
		t.Errorf("%d logins, want one token for everything", b.logins)
	}
}

// TestSwiftStoreWriteFailures: a body cut off mid-way or over the limit leaves
// no segment and no manifest behind, as the file store leaves no file.
func TestSwiftStoreWriteFailures(t *testing.T) {
	b := startSwiftBackend(t)
	const chunk = 64 << 10
	s := b.store(chunk)
	cutOff := errors.New("connection reset")
	for _, tc := range []struct {
		name  string
		r     io.Reader
		limit int64
		want  error
	}{
		{"cut off in the first segment", io.MultiReader(bytes.NewReader(randomBytes(5000)), iotest.ErrReader(cutOff)), 1 << 30, cutOff},
		{"cut off after segments", io.MultiReader(bytes.NewReader(randomBytes(2*chunk)), iotest.ErrReader(io.ErrUnexpectedEOF)), 1 << 30, io.ErrUnexpectedEOF},
		{"over the limit", bytes.NewReader(randomBytes(chunk + 10)), chunk + 9, ErrTooLarge},
		{"over the limit at a segment's end", bytes.NewReader(randomBytes(2 * chunk)), chunk, ErrTooLarge},
		{"over a small limit", bytes.NewReader(randomBytes(10)), 0, ErrTooLarge},
	} {
		if _, err := s.Write("img", tc.r, tc.limit); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if left := b.objects(); len(left) != 0 {
			t.Errorf("%s: left %v", tc.name, left)
		}
	}
}

// TestSwiftStoreClean removes the segments of a write that never reached its
// manifest once they are old enough, and nothing of a complete image.
func TestSwiftStoreClean(t *testing.T) {
	b := startSwiftBackend(t)
	const chunk = 64 << 10
	s := b.store(chunk)
	if _, err := s.Write("kept", bytes.NewReader(randomBytes(2*chunk+1)), 1<<30); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{segmentName("crashed", 1), segmentName("crashed", 2)} {
		if err := s.putSegment(context.Background(), name, strings.NewReader("partial")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Clean(time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := len(b.objects()); got != 6 {
		t.Fatalf("a clean of older data removed recent segments: %d objects left", got)
	}
	if err := s.Clean(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	left := b.objects()
	if len(left) != 4 || left["kept"] != "glance/kept-" {
		t.Fatalf("after clean: %v", left)
	}
}

// TestUploadDownloadSwiftStore is the image API over the swift store: an upload
// lands in the service's account as segments and a manifest, downloads (whole
// and ranges) read it back, and deleting the image removes every object.
func TestUploadDownloadSwiftStore(t *testing.T) {
	b := startSwiftBackend(t)
	// uploads of a known size from 3 MB are segmented, as glance_store's
	// swift_store_large_object_size
	e := newTestEnv(t, func(o *Options) { o.Store = b.sizedStore(1<<20, 3<<20) })
	id := e.Create(e.DemoToken, map[string]any{"name": "disk", "disk_format": "raw", "container_format": "bare"})
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	data[510] = 0 // never an MBR signature: the data is a raw disk
	if status, body := upload(e, id, e.DemoToken, data); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, body)
	}
	md := md5.Sum(data)
	show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
	if show["status"] != "active" || show["size"] != float64(len(data)) || show["checksum"] != hex.EncodeToString(md[:]) {
		t.Fatalf("after upload: %v", show)
	}
	if objects := b.objects(); len(objects) != 5 || objects[id] != "glance/"+id+"-" {
		t.Fatalf("objects: %v, want 4 segments and the manifest", objects)
	}
	status, _, got, _ := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, nil)
	if status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download: %d, %d bytes", status, len(got))
	}
	status, _, got, hdr := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, map[string]string{"Range": "bytes=1048570-2097160"})
	if status != http.StatusPartialContent || !bytes.Equal(got, data[1048570:2097161]) ||
		hdr.Get("Content-Range") != fmt.Sprintf("bytes 1048570-2097160/%d", len(data)) {
		t.Fatalf("range across segments: %d, %d bytes, %q", status, len(got), hdr.Get("Content-Range"))
	}
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+id, e.DemoToken, nil)
	if left := b.objects(); len(left) != 0 {
		t.Fatalf("delete left %v", left)
	}
	// a smaller one, its size given by Content-Length, is one object
	small := e.Create(e.DemoToken, map[string]any{"name": "small", "disk_format": "raw", "container_format": "bare"})
	if status, body := upload(e, small, e.DemoToken, data[:2<<20]); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, body)
	}
	if objects := b.objects(); len(objects) != 1 || objects[small] != "" {
		t.Fatalf("objects: %v, want the image as one object", objects)
	}
	status, _, got, _ = e.Do("GET", "/v2/images/"+small+"/file", e.DemoToken, nil, nil)
	if status != http.StatusOK || !bytes.Equal(got, data[:2<<20]) {
		t.Fatalf("download: %d, %d bytes", status, len(got))
	}
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+small, e.DemoToken, nil)
	if left := b.objects(); len(left) != 0 {
		t.Fatalf("delete left %v", left)
	}
	stores := e.Must(http.StatusOK, "GET", "/v2/info/stores", e.DemoToken, nil)
	if fmt.Sprint(stores["stores"]) != "[map[default:true description:Swift store id:swift]]" {
		t.Errorf("stores: %v", stores)
	}
}

// TestSwiftStoreDeferred: before Start, deletes and cleans touch nothing (the
// object store may not serve yet) and are run by Start; a new write of an image
// still replaces whatever an earlier one left.
func TestSwiftStoreDeferred(t *testing.T) {
	b := startSwiftBackend(t)
	const chunk = 64 << 10
	s := NewSwiftStore(SwiftOptions{ChunkSize: chunk, Deferred: true, Auth: func(context.Context) (string, string, time.Time, error) {
		return "svc", b.storageURL, time.Now().Add(time.Hour), nil
	}})
	if _, err := s.Write("old", bytes.NewReader(randomBytes(3*chunk)), 1<<30); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write("rewritten", bytes.NewReader(randomBytes(3*chunk)), 1<<30); err != nil {
		t.Fatal(err)
	}
	short := randomBytes(chunk + 1)
	if _, err := s.Write("rewritten", bytes.NewReader(short), 1<<30); err != nil {
		t.Fatal(err)
	}
	if f, _, err := s.Open("rewritten"); err != nil {
		t.Fatal(err)
	} else if got, err := io.ReadAll(f); err != nil || !bytes.Equal(got, short) {
		t.Fatalf("rewritten image reads %d bytes, want %d: %v", len(got), len(short), err)
	} else {
		f.Close()
	}
	if err := s.Delete("old"); err != nil {
		t.Fatal(err)
	}
	if err := s.Clean(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := len(b.objects()); got != 7 {
		t.Fatalf("a held delete touched the store: %d objects", got)
	}
	s.Start()
	// A container listing is eventually consistent (each replica of the
	// container gets the object servers' updates on its own), so two reads
	// in a row may disagree: wait for the one state wanted, judged on one read.
	want := func(left map[string]string) bool {
		_, old := left["old"]
		return len(left) == 3 && left["rewritten"] != "" && !old
	}
	deadline := time.Now().Add(30 * time.Second)
	left := b.objects()
	for !want(left) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		left = b.objects()
	}
	if !want(left) {
		t.Fatalf("after Start: %v", left)
	}
}

// TestSwiftStoreWriteSized: data of a size given below the large object size
// is one object; data ending short of it, or announced over the limit, leaves
// nothing.
func TestSwiftStoreWriteSized(t *testing.T) {
	b := startSwiftBackend(t)
	s := b.sizedStore(64<<10, 256<<10)
	data := randomBytes(200 << 10)
	w, err := s.WriteSized("one", iotest.HalfReader(bytes.NewReader(data)), int64(len(data)), 1<<30)
	m := md5.Sum(data)
	if err != nil || w.Size != int64(len(data)) || w.MD5 != hex.EncodeToString(m[:]) {
		t.Fatalf("write: %+v %v", w, err)
	}
	if objects := b.objects(); len(objects) != 1 || objects["one"] != "" {
		t.Fatalf("objects %v, want one plain object", objects)
	}
	if _, err := s.WriteSized("short", bytes.NewReader(data[:100]), int64(len(data)), 1<<30); err == nil {
		t.Error("a body short of its size was stored")
	}
	if _, err := s.WriteSized("big", bytes.NewReader(data), int64(len(data)), 1000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if objects := b.objects(); len(objects) != 1 {
		t.Fatalf("objects %v after failed writes", objects)
	}
	big := randomBytes(300 << 10)
	if _, err := s.WriteSized("big", bytes.NewReader(big), int64(len(big)), 1<<30); err != nil {
		t.Fatal(err)
	}
	if objects := b.objects(); len(objects) != 7 || objects["big"] != "glance/big-" {
		t.Fatalf("objects %v, want 5 segments and a manifest for the large one", objects)
	}
}
