package storage

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// allowedHeaders are the client headers an object keeps besides its metadata
// (upstream's object server allowed_headers, and its always-kept ones).
var allowedHeaders = map[string]bool{
	"Content-Disposition": true, "Content-Encoding": true, "X-Delete-At": true,
	"X-Object-Manifest": true, "X-Static-Large-Object": true, "Cache-Control": true,
	"Content-Language": true, "Expires": true, "X-Robots-Tag": true,
}

// isObjectMeta reports whether a header is object user or system metadata.
func isObjectMeta(key string) bool {
	k := http.CanonicalHeaderKey(key)
	return strings.HasPrefix(k, "X-Object-Meta-") || strings.HasPrefix(k, "X-Object-Sysmeta-") ||
		strings.HasPrefix(k, "X-Object-Transient-Sysmeta-")
}

// ObjectHandler is the object server: GET, HEAD, PUT, POST and DELETE of
// /<device>/<partition>/<account>/<container>/<object>.
func (s *Server) ObjectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "REPLICATE":
			s.replicate(w, r)
			return
		case "SSYNC":
			s.missingCheck(w, r)
			return
		}
		p, dev, ok := s.requestDevice(w, r, 5, 5)
		if !ok {
			return
		}
		policy, ok := requestPolicy(w, r)
		if !ok {
			return
		}
		dir, hash := s.hashDir(dev, policy.DataDir(), p.partition, p.account, p.container, p.object)
		o := objectRequest{s: s, w: w, r: r, p: p, dev: dev, dir: dir, hash: hash}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			o.get()
		case http.MethodPut:
			o.put()
		case http.MethodPost:
			o.post()
		case http.MethodDelete:
			o.delete()
		default:
			swob.Error(w, http.StatusMethodNotAllowed)
		}
	})
}

type objectRequest struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	p    backendPath
	dev  string
	dir  string
	hash string
}

func (o *objectRequest) name() string {
	return "/" + o.p.account + "/" + o.p.container + "/" + o.p.object
}

// current reads the object's newest state; md is nil when it does not exist.
func (o *objectRequest) current() (objectFiles, map[string]string, error) {
	f, err := scanObject(o.dir)
	if err != nil || f.data == "" {
		return f, nil, err
	}
	md, err := readMetadata(filepath.Join(o.dir, f.data))
	if err != nil {
		return f, nil, err
	}
	if f.meta != "" {
		if meta, err := readMetadata(filepath.Join(o.dir, f.meta)); err == nil {
			// X-Static-Large-Object stays the .data's, as upstream's
			// DATAFILE_SYSTEM_META: a POST does not unmake a manifest
			for k := range md {
				if (strings.HasPrefix(k, "X-Object-Meta-") || strings.HasPrefix(k, "X-Object-Transient-Sysmeta-") || allowedHeaders[k]) &&
					k != "X-Static-Large-Object" {
					delete(md, k)
				}
			}
			for k, v := range meta {
				if k != "X-Timestamp" && k != "X-Static-Large-Object" {
					md[k] = v
				}
			}
		}
	}
	return f, md, nil
}

func (o *objectRequest) failed(err error) {
	o.s.log.Error("object server", "path", o.name(), "device", o.p.device, "error", err)
	swob.Error(o.w, http.StatusInternalServerError)
}

func (o *objectRequest) get() {
	f, md, err := o.current()
	if err != nil {
		o.failed(err)
		return
	}
	h := o.w.Header()
	if md == nil {
		if f.tomb != "" {
			h.Set("X-Backend-Timestamp", f.tombTime.Normal())
		}
		if o.r.Header.Get("If-Match") != "" {
			swob.Error(o.w, http.StatusPreconditionFailed)
			return
		}
		swob.Error(o.w, http.StatusNotFound)
		return
	}
	if at := md["X-Delete-At"]; at != "" {
		if t, err := strconv.ParseInt(at, 10, 64); err == nil && t <= time.Now().Unix() {
			swob.Error(o.w, http.StatusNotFound)
			return
		}
	}
	fd, err := os.Open(filepath.Join(o.dir, f.data))
	if err != nil {
		o.failed(err)
		return
	}
	defer fd.Close()
	size, err := strconv.ParseInt(md["Content-Length"], 10, 64)
	if err != nil {
		o.failed(errors.New("no Content-Length in the metadata"))
		return
	}
	var body io.ReaderAt = fd
	if o.r.Method == http.MethodGet && o.r.Header.Get("Range") == "" {
		if size <= verifyBeforeSendLimit {
			if err := checkDataFile(fd.Name()); errors.Is(err, errCorrupt) {
				o.quarantine(err)
				swob.Error(o.w, http.StatusNotFound)
				return
			} else if err != nil {
				o.failed(err)
				return
			}
		} else {
			body = newVerifiedBody(fd, size, md["ETag"], func() { o.quarantine(errCorrupt) })
		}
	}
	for k, v := range md {
		if isObjectMeta(k) || allowedHeaders[k] {
			h.Set(k, v)
		}
	}
	ts := f.dataTime
	if f.meta != "" {
		ts = f.metaTime
	}
	h.Set("X-Timestamp", ts.Normal())
	h.Set("X-Backend-Timestamp", ts.Normal())
	h.Set("X-Backend-Data-Timestamp", f.dataTime.Normal())
	h.Set("Last-Modified", ts.LastModified())
	swob.Serve(o.w, o.r, swob.Entity{ETag: md["ETag"], LastModified: ts.Time(), Length: size,
		ContentType: md["Content-Type"], Body: body})
}

// quarantine sets aside the object a GET found corrupt; the caller answers
// 404 when nothing was sent yet, as upstream (the proxy then reads another
// replica), or aborts the response.
func (o *objectRequest) quarantine(err error) {
	o.s.log.Warn("object server: corrupt object", "path", o.name(), "device", o.p.device, "error", err)
	if qerr := o.s.quarantine(o.dir); qerr != nil {
		o.s.log.Error("object server: quarantine", "dir", o.dir, "error", qerr)
	}
}

// conflict answers 409 when the object already holds a newer (or the same)
// write, as upstream: last write wins, by X-Timestamp.
func (o *objectRequest) conflict(f objectFiles, ts swob.Timestamp) bool {
	if newest := max(f.newest(), f.metaTime); newest >= ts {
		o.w.Header().Set("X-Backend-Timestamp", newest.Normal())
		swob.Error(o.w, http.StatusConflict)
		return true
	}
	return false
}

func (o *objectRequest) put() {
	ts, ok := requestTimestamp(o.w, o.r)
	if !ok {
		return
	}
	contentType := o.r.Header.Get("Content-Type")
	if contentType == "" {
		swob.Text(o.w, http.StatusBadRequest, "No content type")
		return
	}
	f, md, err := o.current()
	if err != nil {
		o.failed(err)
		return
	}
	if max(f.newest(), f.metaTime) >= ts {
		o.conflict(f, ts)
		return
	}
	if md != nil && o.r.Header.Get("If-None-Match") == "*" {
		swob.Error(o.w, http.StatusPreconditionFailed)
		return
	}
	tmp, err := createObjectTemp(filepath.Join(o.dev, "tmp"), "put-")
	if err != nil {
		o.failed(err)
		return
	}
	defer tmp.discard()
	sum := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), o.r.Body)
	if err != nil {
		// the client went away mid-body: upstream answers 499
		swob.Error(o.w, 499)
		return
	}
	if o.r.ContentLength >= 0 && n != o.r.ContentLength {
		swob.Error(o.w, 499)
		return
	}
	etag := hex.EncodeToString(sum.Sum(nil))
	if want := strings.Trim(strings.ToLower(o.r.Header.Get("ETag")), `"`); want != "" && want != etag {
		swob.Error(o.w, http.StatusUnprocessableEntity)
		return
	}
	meta := map[string]string{
		"name": o.name(), "X-Timestamp": ts.Normal(), "Content-Type": contentType,
		"Content-Length": strconv.FormatInt(n, 10), "ETag": etag,
	}
	for k := range o.r.Header {
		// an empty value sets nothing (a POST replaces all user metadata, so
		// an empty one is how clients remove a key)
		if v := o.r.Header.Get(k); v != "" && (isObjectMeta(k) || allowedHeaders[k]) {
			meta[k] = v
		}
	}
	if err := tmp.setMetadata(meta); err != nil {
		o.failed(err)
		return
	}
	// fsync before acknowledging: an object the proxy counts toward its
	// quorum survives a crash of this node
	if err := tmp.Sync(); err != nil {
		o.failed(err)
		return
	}
	if err := tmp.commit(o.dir, ts.Normal()+".data"); err != nil {
		o.failed(err)
		return
	}
	if err := o.s.invalidateSuffix(o.dir); err != nil {
		o.failed(err)
		return
	}
	if after, err := scanObject(o.dir); err == nil {
		after.cleanup()
	}
	o.containerUpdate(http.MethodPut, ts, listingOverrides(o.r.Header.Get, http.Header{
		"X-Size": {strconv.FormatInt(n, 10)}, "X-Content-Type": {contentType}, "X-Etag": {etag},
	}))
	o.deleteAtUpdate(ts)
	o.w.Header().Set("ETag", `"`+etag+`"`)
	o.w.Header().Set("Last-Modified", ts.LastModified())
	swob.Write(o.w, http.StatusCreated, "text/html; charset=UTF-8", "")
}

func (o *objectRequest) post() {
	ts, ok := requestTimestamp(o.w, o.r)
	if !ok {
		return
	}
	f, md, err := o.current()
	if err != nil {
		o.failed(err)
		return
	}
	if md == nil {
		if f.tomb != "" {
			o.w.Header().Set("X-Backend-Timestamp", f.tombTime.Normal())
		}
		swob.Error(o.w, http.StatusNotFound)
		return
	}
	if o.conflict(f, ts) {
		return
	}
	meta := map[string]string{"X-Timestamp": ts.Normal()}
	for k := range o.r.Header {
		v := o.r.Header.Get(k)
		if v != "" && (strings.HasPrefix(k, "X-Object-Meta-") || strings.HasPrefix(k, "X-Object-Transient-Sysmeta-") || allowedHeaders[k]) {
			meta[k] = v
		}
	}
	// a POST may change the content type too (upstream's fast-POST), which
	// the container's listing then shows
	contentType := o.r.Header.Get("Content-Type")
	if contentType != "" {
		meta["Content-Type"] = contentType
	}
	if err := o.writeEmpty(ts.Normal()+".meta", meta); err != nil {
		o.failed(err)
		return
	}
	if contentType != "" && contentType != md["Content-Type"] {
		o.containerUpdate(http.MethodPut, ts, listingOverrides(func(k string) string { return md[k] }, http.Header{
			"X-Size": {md["Content-Length"]}, "X-Content-Type": {contentType}, "X-Etag": {md["ETag"]},
		}))
	}
	for k, v := range md { // as upstream, so the proxy's symlink middleware sees a link
		if strings.HasPrefix(k, "X-Object-Sysmeta-") {
			o.w.Header().Set(k, v)
		}
	}
	o.deleteAtUpdate(ts)
	swob.Error(o.w, http.StatusAccepted)
}

func (o *objectRequest) delete() {
	ts, ok := requestTimestamp(o.w, o.r)
	if !ok {
		return
	}
	f, md, err := o.current()
	if err != nil {
		o.failed(err)
		return
	}
	if !o.checkIfDeleteAt(md) {
		return
	}
	if o.conflict(f, ts) {
		return
	}
	if err := o.writeEmpty(ts.Normal()+".ts", map[string]string{"name": o.name(), "X-Timestamp": ts.Normal()}); err != nil {
		o.failed(err)
		return
	}
	if after, err := scanObject(o.dir); err == nil {
		after.cleanup()
	}
	o.containerUpdate(http.MethodDelete, ts, http.Header{})
	// a tombstone is written either way, so a late replica of the old object
	// loses to it; the status says whether there was one
	if md == nil {
		swob.Error(o.w, http.StatusNotFound)
		return
	}
	swob.Error(o.w, http.StatusNoContent)
}

// writeEmpty writes a zero-length .meta or .ts file with its metadata, durably.
func (o *objectRequest) writeEmpty(name string, meta map[string]string) error {
	tmpDir := filepath.Join(o.dev, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(tmpDir, "meta-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := writeMetadata(tmp.Name(), tmp, meta); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := renameInto(tmp.Name(), o.dir, name); err != nil {
		return err
	}
	return o.s.invalidateSuffix(o.dir)
}

// asyncPending is an update a container server missed, kept under
// <device>/async_pending/<suffix>/<hash>-<timestamp> for the updater to
// replay, as upstream's pickled async pendings.
type asyncPending struct {
	Op        string      `json:"op"`
	Account   string      `json:"account"`
	Container string      `json:"container"`
	Object    string      `json:"obj"`
	Headers   http.Header `json:"headers"`
	Host      string      `json:"host"`
	Device    string      `json:"device"`
	Partition string      `json:"partition"`
}

// containerUpdate tells the container servers the proxy named (one or more)
// about the write; one it cannot reach is recorded as an async pending.
func (o *objectRequest) containerUpdate(method string, ts swob.Timestamp, h http.Header) {
	h.Set("X-Timestamp", ts.Normal())
	if id := o.r.Header.Get("X-Trans-Id"); id != "" {
		h.Set("X-Trans-Id", id)
	}
	path := "/" + o.p.account + "/" + o.p.container + "/" + o.p.object
	for _, u := range targets(o.r.Header, "Container") {
		u.method, u.path, u.headers = method, path, h
		ctx, cancel := context.WithTimeout(o.r.Context(), 5*time.Second)
		err := o.s.send(ctx, u)
		cancel()
		if err == nil {
			continue
		}
		o.s.log.Warn("container update failed; saved as async pending", "path", path, "container_host", u.host, "error", err)
		pending := asyncPending{Op: method, Account: o.p.account, Container: o.p.container, Object: o.p.object,
			Headers: h, Host: u.host, Device: u.device, Partition: u.part}
		if err := o.savePending(pending, o.hash, ts); err != nil {
			o.s.log.Error("save async pending", "path", path, "error", err)
		}
	}
}

// savePending writes p as <device>/async_pending/<suffix>/<name>-<timestamp>,
// fsynced, where the updater finds it.
func (o *objectRequest) savePending(p asyncPending, name string, ts swob.Timestamp) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dir := filepath.Join(o.dev, "async_pending", name[len(name)-3:])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(o.dev, "tmp"), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(o.dev, "tmp"), "pending-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	return renameInto(tmp.Name(), dir, name+"-"+ts.Normal())
}
