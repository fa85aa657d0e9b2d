package proxy

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// backendResponse is a storage node's answer to a write, its body read.
type backendResponse struct {
	status int
	header http.Header
	body   string
	node   *ring.Device
}

// quorum is upstream's quorum_size for replicated policies: a majority.
func quorum(replicas int) int { return replicas/2 + 1 }

// nodeURL is the backend URL of path (/a[/c[/o]]) on device d.
func nodeURL(d *ring.Device, part int, path string) string {
	host := d.IP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + strconv.Itoa(d.Port) + "/" + url.PathEscape(d.Name) + "/" + strconv.Itoa(part) + escapePath(path)
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// serverError reports whether a node failed (rather than answered): the
// proxy then tries another node, as upstream does for 5xx and 507.
func serverError(status int) bool { return status >= 500 }

// nodeIter hands out a partition's nodes, primaries first and then
// handoffs, to the concurrent requests of one operation.
type nodeIter struct {
	mu    sync.Mutex
	nodes []*ring.Device
	next  int
}

// newNodeIter lists the nodes of part, those error-limited left out.
func (p *Proxy) newNodeIter(rg *ring.Ring, part int) *nodeIter {
	var nodes []*ring.Device
	for _, d := range append(rg.Nodes(part), rg.Handoffs(part)...) {
		if !p.limiter.limited(d) {
			nodes = append(nodes, d)
		}
	}
	return &nodeIter{nodes: nodes}
}

// noteResult feeds the error limiter with a node's answer.
func (p *Proxy) noteResult(d *ring.Device, status int) {
	if d != nil && serverError(status) {
		p.limiter.failed(d, status == http.StatusInsufficientStorage)
	}
}

// take returns the next node, nil when none is left.
func (it *nodeIter) take() *ring.Device {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.next >= len(it.nodes) {
		return nil
	}
	it.next++
	return it.nodes[it.next-1]
}

// do sends one request to a node and reads its (small) answer.
func (p *Proxy) do(ctx context.Context, method, target string, h http.Header, body io.Reader, length int64) backendResponse {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return backendResponse{status: http.StatusServiceUnavailable}
	}
	req.Header = h.Clone()
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.log.Warn("storage node unreachable", "method", method, "url", target, "error", err)
		return backendResponse{status: http.StatusServiceUnavailable}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if serverError(resp.StatusCode) {
		p.log.Warn("storage node error", "method", method, "url", target, "status", resp.StatusCode)
	}
	return backendResponse{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// makeRequests sends a bodiless write to every replica of part, in parallel;
// a replica whose node fails is sent to the next handoff instead. headerFor
// gives each replica's headers (their container or account update targets).
func (p *Proxy) makeRequests(ctx context.Context, rg *ring.Ring, part int, method, path string, headerFor func(i int) http.Header) []backendResponse {
	it := p.newNodeIter(rg, part)
	replicas := rg.ReplicaCount()
	out := make([]backendResponse, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = backendResponse{status: http.StatusServiceUnavailable}
			for node := it.take(); node != nil; node = it.take() {
				resp := p.do(ctx, method, nodeURL(node, part, path), p.withPolicy(rg, headerFor(i)), nil, 0)
				resp.node = node
				p.noteResult(node, resp.status)
				out[i] = resp
				if !serverError(resp.status) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// bestResponse is upstream's best_response: the first class of statuses (2xx,
// 3xx, 4xx) a quorum of replicas answered wins, with its highest status; no
// quorum is 503.
func bestResponse(resps []backendResponse, replicas int) (backendResponse, bool) {
	for _, class := range []int{200, 300, 400} {
		var best *backendResponse
		n := 0
		for i := range resps {
			if s := resps[i].status; s >= class && s < class+100 {
				n++
				if best == nil || s > best.status {
					best = &resps[i]
				}
			}
		}
		if n >= quorum(replicas) {
			return *best, true
		}
	}
	return backendResponse{status: http.StatusServiceUnavailable}, false
}

// readRequest is a read of path (with rawQuery) from node's replica of part,
// carrying a copy of h; target is its URL, for the logs.
func readRequest(ctx context.Context, node *ring.Device, part int, method, path, rawQuery string, h http.Header) (*http.Request, string, error) {
	target := nodeURL(node, part, path)
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, target, err
	}
	req.Header = h.Clone()
	return req, target, nil
}

// readFirst sends a read to the replicas of part (primaries in random order,
// then as many handoffs) until one answers with anything but a failure or a
// 404; a 404 is the answer only when no node had better. The caller closes
// the body.
func (p *Proxy) readFirst(ctx context.Context, rg *ring.Ring, part int, method, path, rawQuery string, h http.Header) *http.Response {
	h = p.withPolicy(rg, h)
	if strings.EqualFold(h.Get("X-Newest"), "true") {
		if resp := p.readNewest(ctx, rg, part, method, path, rawQuery, h); resp != nil {
			return resp
		}
	}
	primaries := rg.Nodes(part)
	rand.Shuffle(len(primaries), func(i, j int) { primaries[i], primaries[j] = primaries[j], primaries[i] })
	handoffs := rg.Handoffs(part)
	nodes := append(primaries, handoffs[:min(len(handoffs), rg.ReplicaCount())]...)
	var notFound *http.Response
	for _, node := range nodes {
		if p.limiter.limited(node) {
			continue
		}
		req, target, err := readRequest(ctx, node, part, method, path, rawQuery, h)
		if err != nil {
			continue
		}
		resp, err := p.client.Do(req)
		if err != nil {
			p.log.Warn("storage node unreachable", "method", method, "url", target, "error", err)
			p.noteResult(node, http.StatusServiceUnavailable)
			continue
		}
		switch {
		case serverError(resp.StatusCode):
			p.noteResult(node, resp.StatusCode)
			p.log.Warn("storage node error", "method", method, "url", target, "status", resp.StatusCode)
			resp.Body.Close()
		case resp.StatusCode == http.StatusNotFound:
			if notFound != nil {
				notFound.Body.Close()
			}
			notFound = resp
		default:
			if notFound != nil {
				notFound.Body.Close()
			}
			return resp
		}
	}
	return notFound
}

// hopHeaders are not passed from a storage node to the client.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Date": true, "Content-Length": true, "X-Put-Timestamp": true,
}

// copyHeaders passes a node's headers to the client as upstream's
// update_headers: ETag unquoted, backend-only headers dropped.
func copyHeaders(dst, src http.Header) {
	for k, v := range src {
		if hopHeaders[k] || strings.HasPrefix(k, "X-Backend-") {
			continue
		}
		if k == "Etag" {
			dst.Set("Etag", strings.ReplaceAll(v[0], `"`, ""))
			continue
		}
		dst[k] = v
	}
}

// relay answers the client with a node's response, streaming its body.
func relay(w http.ResponseWriter, r *http.Request, resp *http.Response) {
	copyHeaders(w.Header(), resp.Header)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, resp.Body)
	}
}

// answer writes a quorum's response to the client.
func answer(w http.ResponseWriter, resp backendResponse) {
	if resp.header != nil {
		copyHeaders(w.Header(), resp.header)
	}
	if resp.body == "" && resp.status != http.StatusCreated && resp.status != http.StatusNoContent {
		swob.Error(w, resp.status)
		return
	}
	ct := "text/html; charset=UTF-8"
	if resp.header != nil && resp.header.Get("Content-Type") != "" {
		ct = resp.header.Get("Content-Type")
	}
	swob.Write(w, resp.status, ct, resp.body)
}

// backendHeaders are the headers every backend request carries.
func (req *request) backendHeaders(ts swob.Timestamp) http.Header {
	h := http.Header{}
	h.Set("X-Timestamp", ts.Normal())
	h.Set("X-Trans-Id", req.transID)
	h.Set("User-Agent", "proxy-server")
	return h
}

// readNewest is a read with X-Newest: every primary is asked and the good
// answer with the newest timestamp wins, as upstream does for clients that
// must not see a stale replica. Nil when no primary answered well.
func (p *Proxy) readNewest(ctx context.Context, rg *ring.Ring, part int, method, path, rawQuery string, h http.Header) *http.Response {
	var best *http.Response
	var bestTime swob.Timestamp
	for _, node := range rg.Nodes(part) {
		if p.limiter.limited(node) {
			continue
		}
		req, _, err := readRequest(ctx, node, part, method, path, rawQuery, h)
		if err != nil {
			continue
		}
		resp, err := p.client.Do(req)
		if err != nil {
			p.noteResult(node, http.StatusServiceUnavailable)
			continue
		}
		p.noteResult(node, resp.StatusCode)
		if serverError(resp.StatusCode) || resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			continue
		}
		ts := responseTimestamp(resp.Header)
		if best == nil || ts > bestTime {
			if best != nil {
				best.Body.Close()
			}
			best, bestTime = resp, ts
		} else {
			resp.Body.Close()
		}
	}
	return best
}

// responseTimestamp is the timestamp a storage node answered with.
func responseTimestamp(h http.Header) swob.Timestamp {
	for _, k := range []string{"X-Backend-Timestamp", "X-Put-Timestamp", "X-Timestamp"} {
		if ts, err := swob.ParseTimestamp(h.Get(k)); err == nil && h.Get(k) != "" {
			return ts
		}
	}
	return 0
}
