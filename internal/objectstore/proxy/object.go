package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// objectRequest serves /v1/<account>/<container>/<object>.
func (p *Proxy) objectRequest(req *request) {
	if len(req.object) > MaxObjectNameLength && req.r.Method != http.MethodPut {
		// longer names can never have been stored
		swob.Error(req.w, http.StatusNotFound)
		return
	}
	if p.objectMiddleware(req) {
		return
	}
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		p.objectGet(req)
	case http.MethodPut:
		if req.r.Header.Get("X-Copy-From") != "" {
			p.objectCopyFrom(req)
			return
		}
		p.objectPut(req)
	case "COPY":
		p.objectCopyVerb(req)
	case http.MethodPost:
		p.objectPost(req)
	case http.MethodDelete:
		p.objectDelete(req)
	default:
		req.w.Header().Set("Allow", "COPY, DELETE, GET, HEAD, POST, PUT")
		swob.Error(req.w, http.StatusMethodNotAllowed)
	}
}

func (req *request) objectPath() string {
	return "/" + req.account + "/" + req.container + "/" + req.object
}

// conditionalHeaders are what a GET or HEAD passes to the object server,
// which answers conditional requests and ranges itself, as upstream's.
var conditionalHeaders = []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}

func (p *Proxy) objectGet(req *request) {
	r := req.r
	rg := p.objectRing(r.Context(), req.transID, req.account, req.container)
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	for _, k := range append(conditionalHeaders, "X-Newest") {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	resp := p.readFirst(r.Context(), rg, rg.Partition(req.account, req.container, req.object), r.Method, req.objectPath(), "", h)
	if resp == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	if p.objectReadMiddleware(req, resp) {
		return
	}
	if p.serveDLO(req, resp) {
		return
	}
	if req.tempURLExpires != 0 && resp.StatusCode/100 == 2 {
		tempURLResponseHeaders(req, resp.Header)
	}
	relay(req.w, r, resp)
}

// requireContainer answers 404 (or 503) unless the object's container
// exists, and returns its headers.
func (p *Proxy) requireContainer(ctx context.Context, req *request) http.Header {
	info, answered := p.containerInfo(ctx, req)
	switch {
	case !answered:
		swob.Error(req.w, http.StatusServiceUnavailable)
		return nil
	case info == nil:
		swob.Error(req.w, http.StatusNotFound)
		return nil
	}
	return info
}

// containerTargets is, for object request i of n, the container replicas it
// tells of the write (X-Container-Host, -Device, -Partition).
func (p *Proxy) containerTargets(req *request) func(i int, h http.Header) {
	containers := p.opts.Rings.Container
	part := containers.Partition(req.account, req.container)
	nodes := containers.Nodes(part)
	n := p.objectRing(req.r.Context(), req.transID, req.account, req.container).ReplicaCount()
	return func(i int, h http.Header) {
		hosts, devices := pairNodes(nodes, i, n)
		h.Set("X-Container-Host", hosts)
		h.Set("X-Container-Device", devices)
		h.Set("X-Container-Partition", strconv.Itoa(part))
	}
}

// objectMetadata is what a PUT or POST stores besides the data: user
// metadata and the headers objects keep (Content-Disposition, ...).
func objectMetadata(src http.Header) http.Header {
	out := metadataHeaders(src, "Object")
	for k, v := range src { // set by the proxy's middleware only (objectMiddleware drops clients')
		if strings.HasPrefix(k, "X-Object-Sysmeta-") || k == "X-Static-Large-Object" {
			out[k] = v
		}
	}
	for _, k := range []string{"Content-Disposition", "Content-Encoding", "X-Delete-At", "X-Object-Manifest",
		"Cache-Control", "Content-Language", "Expires", "X-Robots-Tag"} {
		if v := src.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// checkDeleteHeaders is upstream's check_delete_headers: X-Delete-After
// becomes X-Delete-At; either must be an integer in the future.
func checkDeleteHeaders(w http.ResponseWriter, r *http.Request) bool {
	now := time.Now()
	if v := r.Header.Get("X-Delete-After"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			swob.Text(w, http.StatusBadRequest, "Non-integer X-Delete-After")
			return false
		}
		if after < 0 {
			swob.Text(w, http.StatusBadRequest, "X-Delete-After in past")
			return false
		}
		r.Header.Set("X-Delete-At", strconv.FormatInt(now.Unix()+after, 10))
		r.Header.Del("X-Delete-After")
	}
	if v := r.Header.Get("X-Delete-At"); v != "" {
		at, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			swob.Text(w, http.StatusBadRequest, "Non-integer X-Delete-At")
			return false
		}
		if at <= now.Unix() {
			swob.Text(w, http.StatusBadRequest, "X-Delete-At in past")
			return false
		}
	}
	return true
}

func (p *Proxy) objectPost(req *request) {
	r := req.r
	if !checkMetadata(req.w, r, "object") || !checkDeleteHeaders(req.w, r) {
		return
	}
	ctx := r.Context()
	if p.requireContainer(ctx, req) == nil {
		return
	}
	extra := objectMetadata(r.Header)
	if strings.EqualFold(r.Header.Get("X-Detect-Content-Type"), "true") {
		extra.Set("Content-Type", guessType(req.object))
	} else if ct := r.Header.Get("Content-Type"); ct != "" {
		extra.Set("Content-Type", ct)
	}
	p.objectWrite(req, http.MethodPost, extra)
}

func (p *Proxy) objectDelete(req *request) {
	info := p.requireContainer(req.r.Context(), req)
	if info == nil || p.versionedDelete(req, info) {
		return
	}
	p.objectWrite(req, http.MethodDelete, nil)
}

func (p *Proxy) objectWrite(req *request, method string, extra http.Header) {
	rg := p.objectRing(req.r.Context(), req.transID, req.account, req.container)
	part := rg.Partition(req.account, req.container, req.object)
	ts := swob.Now()
	targets := p.containerTargets(req)
	deleteAt := func(int, http.Header) {}
	if method == http.MethodPost {
		deleteAt = p.deleteAtTargets(req.r.Context(), req, rg.ReplicaCount())
	}
	resps := p.makeRequests(req.r.Context(), rg, part, method, req.objectPath(), func(i int) http.Header {
		h := req.backendHeaders(ts)
		for k, v := range extra {
			h[k] = v
		}
		if method == http.MethodDelete || method == http.MethodPost {
			targets(i, h)
		}
		deleteAt(i, h)
		return h
	})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	if method == http.MethodDelete && (best.status/100 == 2 || best.status == http.StatusNotFound) {
		p.missedContainerUpdates(req, resps, method, ts, http.Header{})
	}
	answer(req.w, best)
}

// putter is one replica's upload: the request runs in its own goroutine,
// reading the body from a pipe the proxy writes every client chunk into.
type putter struct {
	node    *ring.Device
	pw      *io.PipeWriter
	started chan struct{} // closed when the node asks for the body (100 Continue)
	done    chan backendResponse
	final   *backendResponse // the node's answer, when it came before the body
	dead    bool
}

// startedReader closes started on the first read: the transport reads the
// body only after the node's 100 Continue, so a node that refuses the write
// up front (409, 507) is known before any byte is sent.
type startedReader struct {
	io.Reader
	once    sync.Once
	started chan struct{}
}

func (s *startedReader) Read(b []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	return s.Reader.Read(b)
}

// connect opens the upload of one replica: the primary, or the next handoff
// while nodes fail.
func (p *Proxy) connect(ctx context.Context, it *nodeIter, part int, path string, h http.Header, length int64) *putter {
	var last *putter
	for node := it.take(); node != nil; node = it.take() {
		pr, pw := io.Pipe()
		pu := &putter{node: node, pw: pw, started: make(chan struct{}), done: make(chan backendResponse, 1)}
		var body io.Reader = &startedReader{Reader: pr, started: pu.started}
		hh := h.Clone()
		if length != 0 {
			hh.Set("Expect", "100-continue")
		} else {
			body = nil
			close(pu.started)
		}
		go func() {
			resp := p.do(ctx, http.MethodPut, nodeURL(node, part, path), hh, body, length)
			resp.node = node
			p.noteResult(node, resp.status)
			_ = pr.CloseWithError(errors.New("the storage node answered"))
			pu.done <- resp
		}()
		if length == 0 {
			resp := <-pu.done
			pu.final = &resp
			if !serverError(resp.status) {
				return pu
			}
			last = pu
			continue
		}
		select {
		case <-pu.started:
			return pu
		case resp := <-pu.done:
			pu.final = &resp
			last = pu
			if !serverError(resp.status) {
				return pu
			}
		}
	}
	return last
}

func (p *Proxy) objectPut(req *request) {
	r := req.r
	if !checkObjectCreation(req.w, r, req.object) || !checkMetadata(req.w, r, "object") || !checkDeleteHeaders(req.w, r) {
		return
	}
	if v := r.Header.Get("If-None-Match"); v != "" && v != "*" {
		swob.Text(req.w, http.StatusBadRequest, "If-None-Match only supports *")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	info := p.requireContainer(ctx, req)
	if info == nil {
		return
	}
	if p.accountOverQuota(req, r.ContentLength) {
		return
	}
	if overQuota(info, r.ContentLength) {
		swob.Text(req.w, http.StatusRequestEntityTooLarge, "Upload exceeds quota.")
		return
	}
	if !p.archiveCurrentVersion(req, info) {
		return
	}
	rg := p.objectRing(ctx, req.transID, req.account, req.container)
	part := rg.Partition(req.account, req.container, req.object)
	replicas := rg.ReplicaCount()
	ts := swob.Now()
	targets := p.containerTargets(req)
	deleteAt := p.deleteAtTargets(ctx, req, replicas)
	meta := objectMetadata(r.Header)
	trustedSysmeta(r, meta)
	it := p.newNodeIter(rg, part)
	putters := make([]*putter, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		h := req.backendHeaders(ts)
		for k, v := range meta {
			h[k] = v
		}
		h.Set("Content-Type", r.Header.Get("Content-Type"))
		if v := r.Header.Get("ETag"); v != "" {
			h.Set("ETag", v)
		}
		if v := r.Header.Get("If-None-Match"); v != "" {
			h.Set("If-None-Match", v)
		}
		targets(i, h)
		deleteAt(i, h)
		h = p.withPolicy(rg, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			putters[i] = p.connect(ctx, it, part, req.objectPath(), h, r.ContentLength)
		}()
	}
	wg.Wait()
	var live []*putter
	for _, pu := range putters {
		if pu != nil && pu.final == nil {
			live = append(live, pu)
		}
	}
	if r.ContentLength != 0 && len(live) < quorum(replicas) {
		// too few nodes will take the body: the answers they gave decide
		// (409 and 412 from a quorum are the client's, anything else 503)
		for _, pu := range live {
			_ = pu.pw.CloseWithError(errors.New("no quorum"))
			<-pu.done
		}
		var resps []backendResponse
		for _, pu := range putters {
			if pu != nil && pu.final != nil {
				resps = append(resps, *pu.final)
			}
		}
		best, ok := bestResponse(resps, replicas)
		if !ok || best.status/100 == 2 {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return
		}
		answer(req.w, best)
		return
	}
	var size int64
	if r.ContentLength != 0 {
		var status int
		if size, status = p.transfer(r.Body, live, replicas); status != 0 {
			cancel()
			for _, pu := range live {
				<-pu.done
			}
			swob.Error(req.w, status)
			return
		}
	}
	resps := make([]backendResponse, replicas)
	for i, pu := range putters {
		switch {
		case pu == nil:
			resps[i] = backendResponse{status: http.StatusServiceUnavailable}
		case pu.final != nil:
			resps[i] = *pu.final
		default:
			resps[i] = <-pu.done
		}
	}
	etags := map[string]bool{}
	for _, resp := range resps {
		if resp.status == http.StatusCreated {
			etags[strings.Trim(resp.header.Get("Etag"), `"`)] = true
		}
	}
	if len(etags) > 1 {
		p.log.Error("object servers returned mismatched etags", "path", req.objectPath(), "etags", len(etags))
		swob.Error(req.w, http.StatusInternalServerError)
		return
	}
	best, _ := bestResponse(resps, replicas)
	if best.status == http.StatusCreated {
		req.w.Header().Set("Last-Modified", ts.LastModified())
		for etag := range etags {
			p.missedContainerUpdates(req, resps, http.MethodPut, ts, withListingOverrides(r.Header, http.Header{
				"X-Size": {strconv.FormatInt(size, 10)}, "X-Etag": {etag}, "X-Content-Type": {r.Header.Get("Content-Type")},
			}))
		}
	}
	answer(req.w, best)
}

// missedContainerUpdates sends, for each object replica that failed, the
// container update its object server would have sent: each container
// replica hears from exactly one object request, so without this a failed
// object node would leave its container replica's listing behind until
// replication.
func (p *Proxy) missedContainerUpdates(req *request, resps []backendResponse, method string, ts swob.Timestamp, h http.Header) {
	targets := p.containerTargets(req)
	for i, resp := range resps {
		if !serverError(resp.status) {
			continue
		}
		th := http.Header{}
		targets(i, th)
		hosts := strings.Split(th.Get("X-Container-Host"), ",")
		devices := strings.Split(th.Get("X-Container-Device"), ",")
		part, _ := strconv.Atoi(th.Get("X-Container-Partition"))
		for j := range min(len(hosts), len(devices)) {
			uh := req.backendHeaders(ts)
			for k, v := range h {
				uh[k] = v
			}
			host, port, _ := strings.Cut(hosts[j], ":")
			if strings.HasPrefix(hosts[j], "[") {
				host, port, _ = strings.Cut(strings.TrimPrefix(hosts[j], "["), "]:")
			}
			portN, _ := strconv.Atoi(port)
			node := &ring.Device{IP: host, Port: portN, Name: devices[j]}
			res := p.do(req.r.Context(), method, nodeURL(node, part, req.objectPath()), uh, nil, 0)
			if res.status/100 != 2 {
				p.log.Warn("container update for a failed object replica failed too", "path", req.objectPath(),
					"container_host", hosts[j], "status", res.status)
			}
		}
	}
}
