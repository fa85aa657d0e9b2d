package image

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SwiftAuth logs the image service in: its own token, when that expires, and its
// storage URL (its account, http://host:port/v1/AUTH_<project>).
type SwiftAuth func(ctx context.Context) (token, storageURL string, expires time.Time, err error)

// SwiftStore keeps images in an object store, as glance_store's swift driver in
// single-tenant mode: every image is in the service's own account, in one
// container (glance), never in the uploader's. An image is written as segments
// of ChunkSize named <id>-00001, <id>-00002, ... and then the object <id>, a
// dynamic large object manifest (X-Object-Manifest: glance/<id>-) the object
// store reads them back through: glance_store's path for data of unknown size
// (openstackclient's chunked uploads, imports) or of a size at least
// LargeObjectSize. Data whose size the client gave, below LargeObjectSize, is
// one object (WriteSized), as glance_store writes it. glance_store's driver
// writes only DLO manifests (its own help says so), so Nimbus does too; it
// deletes SLOs as glance_store does.
type SwiftStore struct {
	auth      SwiftAuth
	container string
	chunkSize int64
	// largeObjectSize: see SwiftOptions
	largeObjectSize int64
	client          *http.Client

	mu              sync.Mutex
	token, url      string
	expires         time.Time
	containerExists bool

	// Until Start, deletes and cleans are held: the image service recovers
	// interrupted uploads while the cloud starts, before the object store and
	// identity serve, and would wait for them forever.
	started     bool
	heldDeletes []string
	heldClean   time.Time
}

var _ Store = (*SwiftStore)(nil)

// tokenMargin renews the store's token this long before it expires, so that it
// outlives the upload of a segment.
const tokenMargin = 10 * time.Minute

// SwiftOptions configure a SwiftStore.
type SwiftOptions struct {
	Auth SwiftAuth
	// Container holds the images (upstream's swift_store_container, glance).
	Container string
	// ChunkSize is the segments' size (upstream's
	// swift_store_large_object_chunk_size, 200 MB).
	ChunkSize int64
	// LargeObjectSize is the size from which data of a known size is
	// segmented too (upstream's swift_store_large_object_size, 5 GiB).
	LargeObjectSize int64
	Client          *http.Client
	// Deferred holds deletes and cleans asked for before Start (see SwiftStore).
	Deferred bool
}

// storeID and storeDescription name the service's store in /v2/info/stores and
// import tasks, as glance_store's backends are named.
func storeID(st Store) string {
	if _, ok := st.(*SwiftStore); ok {
		return "swift"
	}
	return "file"
}

func storeDescription(st Store) string {
	if _, ok := st.(*SwiftStore); ok {
		return "Swift store"
	}
	return "Filesystem store"
}

// Upstream's defaults: swift_store_container and swift_store_large_object_chunk_size
// (200, in glance_store's "MB" of 2^20 bytes).
const (
	DefaultSwiftContainer = "glance"
	DefaultSwiftChunkSize = 200 << 20
	// DefaultSwiftLargeObjectSize is swift_store_large_object_size's 5 GiB.
	DefaultSwiftLargeObjectSize = 5 << 30
)

// NewSwiftStore returns a store in o.Container; it authenticates on first use,
// so the object store need not serve yet when the image service starts.
func NewSwiftStore(o SwiftOptions) *SwiftStore {
	if o.Container == "" {
		o.Container = DefaultSwiftContainer
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultSwiftChunkSize
	}
	if o.LargeObjectSize <= 0 {
		o.LargeObjectSize = DefaultSwiftLargeObjectSize
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}
	}
	return &SwiftStore{auth: o.Auth, container: o.Container, chunkSize: o.ChunkSize, largeObjectSize: o.LargeObjectSize,
		client: o.Client, started: !o.Deferred}
}

// Start runs the deletes and the clean held until the object store serves, in
// the background. Their failures are not fatal: the image service sweeps again
// (Clean), and a new write of an image deletes what an old one left (Write).
func (s *SwiftStore) Start() {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	deletes, clean := s.heldDeletes, s.heldClean
	s.heldDeletes = nil
	s.mu.Unlock()
	go func() {
		for _, id := range deletes {
			_ = s.Delete(id)
		}
		if !clean.IsZero() {
			_ = s.Clean(clean)
		}
	}()
}

// hold keeps a delete (id) or a clean (olderThan) for Start; false once started.
func (s *SwiftStore) hold(id string, olderThan time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false
	}
	if id != "" {
		s.heldDeletes = append(s.heldDeletes, id)
	}
	if olderThan.After(s.heldClean) {
		s.heldClean = olderThan
	}
	return true
}

// Location is the image's location as glance_store shapes it for an account
// reached by its storage URL: swift+http://host:port/v1/AUTH_x/glance/<id>,
// with no credentials in it.
func (s *SwiftStore) Location(ctx context.Context, id string) (string, error) {
	_, storageURL, err := s.credentials(ctx, false)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(storageURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("swift+%s://%s%s/%s/%s", u.Scheme, u.Host, strings.TrimSuffix(u.Path, "/"), s.container, id), nil
}

func (s *SwiftStore) credentials(ctx context.Context, renew bool) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A token about to expire is renewed first: a segment's PUT cannot be
	// replayed with a new one.
	if s.token != "" && !renew && (s.expires.IsZero() || time.Until(s.expires) > tokenMargin) {
		return s.token, s.url, nil
	}
	token, storageURL, expires, err := s.auth(ctx)
	if err != nil {
		return "", "", fmt.Errorf("object store login: %w", err)
	}
	s.token, s.url, s.expires = token, strings.TrimSuffix(storageURL, "/"), expires
	return s.token, s.url, nil
}

// request sends one request to path under the storage URL (escaped here). A body
// is sent once: only a request without one is retried with a new token on 401.
func (s *SwiftStore) request(ctx context.Context, method, path, query string, body io.Reader, size int64, hdr http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		token, storageURL, err := s.credentials(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		u := storageURL + (&url.URL{Path: path}).EscapedPath()
		if query != "" {
			u += "?" + query
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.ContentLength = size
		}
		maps(req.Header, hdr)
		req.Header.Set("X-Auth-Token", token)
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized || body != nil || attempt > 0 {
			return resp, nil
		}
		drain(resp)
	}
}

func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

// statusError is an answer the store did not expect.
func statusError(method, path string, resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return fmt.Errorf("object store: %s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(msg)))
}

func (s *SwiftStore) objectPath(name string) string { return "/" + s.container + "/" + name }

// ensureContainer creates the container on the first write (glance_store's
// swift_store_create_container_on_put).
func (s *SwiftStore) ensureContainer(ctx context.Context) error {
	s.mu.Lock()
	exists := s.containerExists
	s.mu.Unlock()
	if exists {
		return nil
	}
	resp, err := s.request(ctx, http.MethodPut, "/"+s.container, "", nil, 0, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		return statusError(http.MethodPut, "/"+s.container, resp)
	}
	drain(resp)
	s.mu.Lock()
	s.containerExists = true
	s.mu.Unlock()
	return nil
}

// segmentName is glance_store's chunk name: <id>-%05d, from 1.
func segmentName(id string, n int) string { return fmt.Sprintf("%s-%05d", id, n) }

// Write streams r into segments, hashing as it goes, then writes the manifest.
// On any failure the segments written are deleted.
func (s *SwiftStore) Write(id string, r io.Reader, limit int64) (w Written, err error) {
	return s.WriteSized(id, r, 0, limit)
}

// WriteSized is Write of data whose size the client gave (0: unknown, as
// glance_store's image_size): below LargeObjectSize it is one object PUT with
// that length, as glance_store's add writes it; otherwise segments.
func (s *SwiftStore) WriteSized(id string, r io.Reader, size, limit int64) (w Written, err error) {
	ctx := context.Background()
	if err := s.ensureContainer(ctx); err != nil {
		return Written{}, err
	}
	// A failed upload of this image may have left segments (a crash, or a
	// delete still held): a shorter new one must not be read with them.
	if err := s.remove(ctx, id); err != nil {
		return Written{}, err
	}
	if size > limit {
		return Written{}, ErrTooLarge
	}
	md, sh := md5.New(), sha512.New()
	if size > 0 && size < s.largeObjectSize {
		src := &countingReader{r: io.TeeReader(io.TeeReader(io.LimitReader(r, size), md), sh)}
		if err := s.putObject(ctx, id, src, size); err != nil {
			return Written{}, err
		}
		if src.n != size {
			s.deleteNames(context.WithoutCancel(ctx), []string{id})
			return Written{}, fmt.Errorf("image data: got %d bytes of the %d announced", src.n, size)
		}
		return Written{Size: size, MD5: hex.EncodeToString(md.Sum(nil)), SHA512: hex.EncodeToString(sh.Sum(nil))}, nil
	}
	// read one byte past the limit to tell "exactly at the limit" from "over it"
	src := &countingReader{r: io.TeeReader(io.TeeReader(io.LimitReader(r, limit+1), md), sh)}
	var written []string
	defer func() {
		if err != nil {
			s.deleteNames(context.WithoutCancel(ctx), written)
		}
	}()
	for n := 1; ; n++ {
		// Peek a byte first, so no segment is empty (as upstream: the last chunk
		// read is never a zero-length one).
		var first [1]byte
		k, rerr := io.ReadFull(src, first[:])
		if k == 0 {
			if rerr != io.EOF {
				return Written{}, rerr
			}
			break
		}
		name := segmentName(id, n)
		written = append(written, name)
		seg := io.MultiReader(bytes.NewReader(first[:]), io.LimitReader(src, s.chunkSize-1))
		if err := s.putSegment(ctx, name, seg); err != nil {
			return Written{}, err
		}
		if src.err != nil && src.err != io.EOF {
			return Written{}, src.err
		}
		if src.n > limit {
			return Written{}, ErrTooLarge
		}
	}
	if src.n > limit {
		return Written{}, ErrTooLarge
	}
	if err := s.writeManifest(ctx, id); err != nil {
		return Written{}, err
	}
	return Written{Size: src.n, MD5: hex.EncodeToString(md.Sum(nil)), SHA512: hex.EncodeToString(sh.Sum(nil))}, nil
}

// countingReader counts the bytes read and keeps the first error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	if err != nil && c.err == nil {
		c.err = err
	}
	return k, err
}

// putSegment sends one segment, chunked (its length is known only at its end).
// A source failing mid-way (a client cutting its upload off) makes the object
// store see a short body, so nothing is stored under name.
func (s *SwiftStore) putSegment(ctx context.Context, name string, seg io.Reader) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.CopyBuffer(pw, onlyReader{seg}, make([]byte, 1<<20))
		pw.CloseWithError(err)
	}()
	resp, err := s.request(ctx, http.MethodPut, s.objectPath(name), "", pr, -1,
		http.Header{"Content-Type": {"application/octet-stream"}})
	pr.CloseWithError(errors.New("segment upload ended"))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return statusError(http.MethodPut, s.objectPath(name), resp)
	}
	drain(resp)
	return nil
}

// putObject sends an image of a known size as one object; a source ending
// short makes the object store see a short body and store nothing.
func (s *SwiftStore) putObject(ctx context.Context, name string, src io.Reader, size int64) error {
	resp, err := s.request(ctx, http.MethodPut, s.objectPath(name), "", onlyReader{src}, size,
		http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return statusError(http.MethodPut, s.objectPath(name), resp)
	}
	drain(resp)
	return nil
}

// onlyReader hides io.WriterTo from CopyBuffer, so reads are of the buffer's size.
type onlyReader struct{ io.Reader }

// writeManifest makes <id> the large object of its segments: a DLO manifest
// over their prefix, as glance_store's swift driver writes (it writes no SLO).
func (s *SwiftStore) writeManifest(ctx context.Context, id string) error {
	resp, err := s.request(ctx, http.MethodPut, s.objectPath(id), "", http.NoBody, 0, http.Header{
		"X-Object-Manifest": {s.container + "/" + id + "-"},
		"Content-Type":      {"application/octet-stream"},
	})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return statusError(http.MethodPut, s.objectPath(id), resp)
	}
	drain(resp)
	return nil
}

// Open returns the image's data: a reader that GETs the object from its offset
// when first read after a Seek (a Range request, which the object store serves
// from the segments it covers).
func (s *SwiftStore) Open(id string) (io.ReadSeekCloser, int64, error) {
	ctx := context.Background()
	resp, err := s.request(ctx, http.MethodHead, s.objectPath(id), "", nil, 0, nil)
	if err != nil {
		return nil, 0, err
	}
	drain(resp)
	if resp.StatusCode == http.StatusNotFound {
		return nil, 0, fmt.Errorf("image data %s: %w", id, errNotStored)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("object store: HEAD %s: %d", s.objectPath(id), resp.StatusCode)
	}
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || size < 0 {
		return nil, 0, fmt.Errorf("object store: HEAD %s: bad Content-Length", s.objectPath(id))
	}
	return &swiftReader{s: s, path: s.objectPath(id), size: size}, size, nil
}

var errNotStored = errors.New("not in the object store")

// swiftReader reads an object from off, one GET from there to the end.
type swiftReader struct {
	s         *SwiftStore
	path      string
	size, off int64
	body      io.ReadCloser
}

func (r *swiftReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		var hdr http.Header
		if r.off > 0 {
			hdr = http.Header{"Range": {fmt.Sprintf("bytes=%d-", r.off)}}
		}
		resp, err := r.s.request(context.Background(), http.MethodGet, r.path, "", nil, 0, hdr)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
			return 0, statusError(http.MethodGet, r.path, resp)
		}
		r.body = resp.Body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	if err == io.EOF && r.off < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *swiftReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start")
	}
	if offset != r.off && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.off = offset
	return offset, nil
}

func (r *swiftReader) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}

// Delete removes the segments, then the manifest, as glance_store deletes a
// segmented image; segments are found by their name (<id>-NNNNN), so those of a
// write that never reached its manifest go too.
func (s *SwiftStore) Delete(id string) error {
	if s.hold(id, time.Time{}) {
		return nil
	}
	return s.remove(context.Background(), id)
}

// remove is Delete, now. An SLO image (which Nimbus does not write) goes with
// its segments through multipart-manifest=delete, as glance_store deletes it.
func (s *SwiftStore) remove(ctx context.Context, id string) error {
	head, err := s.request(ctx, http.MethodHead, s.objectPath(id), "", nil, 0, nil)
	if err != nil {
		return err
	}
	drain(head)
	if head.StatusCode == http.StatusOK && strings.EqualFold(head.Header.Get("X-Static-Large-Object"), "true") {
		resp, err := s.request(ctx, http.MethodDelete, s.objectPath(id), "multipart-manifest=delete", nil, 0,
			http.Header{"Accept": {"application/json"}})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			return statusError(http.MethodDelete, s.objectPath(id), resp)
		}
		drain(resp)
	}
	segments, err := s.list(ctx, id+"-")
	if err != nil {
		return err
	}
	var names []string
	for _, o := range segments {
		if segmentOf(o.Name) == id {
			names = append(names, o.Name)
		}
	}
	if err := s.deleteNames(ctx, names); err != nil {
		return err
	}
	return s.deleteNames(ctx, []string{id})
}

// deleteNames deletes objects of the container; a missing one is no error.
func (s *SwiftStore) deleteNames(ctx context.Context, names []string) error {
	var errs []error
	for _, name := range names {
		resp, err := s.request(ctx, http.MethodDelete, s.objectPath(name), "", nil, 0, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
			errs = append(errs, statusError(http.MethodDelete, s.objectPath(name), resp))
			continue
		}
		drain(resp)
	}
	return errors.Join(errs...)
}

var segmentPattern = regexp.MustCompile(`^(.+)-[0-9]{5,}$`)

// segmentOf is the image a segment's name belongs to ("" for a manifest).
func segmentOf(name string) string {
	if m := segmentPattern.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

type listedObject struct {
	Name         string `json:"name"`
	LastModified string `json:"last_modified"`
}

// list lists the container's objects under prefix, page after page.
func (s *SwiftStore) list(ctx context.Context, prefix string) ([]listedObject, error) {
	var all []listedObject
	marker := ""
	for {
		q := url.Values{"format": {"json"}, "prefix": {prefix}}
		if marker != "" {
			q.Set("marker", marker)
		}
		resp, err := s.request(ctx, http.MethodGet, "/"+s.container, q.Encode(), nil, 0, nil)
		if err != nil {
			return nil, err
		}
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusNoContent:
			drain(resp)
			return all, nil
		case http.StatusOK:
		default:
			return nil, statusError(http.MethodGet, "/"+s.container, resp)
		}
		var page []listedObject
		err = json.NewDecoder(resp.Body).Decode(&page)
		drain(resp)
		if err != nil {
			return nil, fmt.Errorf("object store listing: %w", err)
		}
		if len(page) == 0 {
			return all, nil
		}
		all = append(all, page...)
		marker = page[len(page)-1].Name
	}
}

// Clean removes segments of writes that never reached their manifest (a crash
// mid-upload), last written before olderThan.
func (s *SwiftStore) Clean(olderThan time.Time) error {
	if s.hold("", olderThan) {
		return nil
	}
	ctx := context.Background()
	objects, err := s.list(ctx, "")
	if err != nil {
		return err
	}
	manifests := map[string]bool{}
	for _, o := range objects {
		if segmentOf(o.Name) == "" {
			manifests[o.Name] = true
		}
	}
	var orphans []string
	for _, o := range objects {
		id := segmentOf(o.Name)
		if id == "" || manifests[id] {
			continue
		}
		// listings give UTC times without a zone: 2006-01-02T15:04:05.000000
		t, err := time.Parse("2006-01-02T15:04:05.999999", o.LastModified)
		if err == nil && t.Before(olderThan) {
			orphans = append(orphans, o.Name)
		}
	}
	return s.deleteNames(ctx, orphans)
}
