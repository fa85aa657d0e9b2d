package proxy

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Static large objects, as upstream's slo middleware: a manifest PUT with
// ?multipart-manifest=put lists segments (each HEADed with the caller's
// rights and checked against what the client said of it) and is stored as
// JSON with X-Static-Large-Object and the large object's ETag and size in
// sysmeta; a GET or HEAD answers the segments' concatenation (ETag the
// quoted MD5 of the segments' ETags); ?multipart-manifest=get answers the
// manifest and ?multipart-manifest=delete deletes the segments, then it.

const (
	sysmetaSLOEtag = "X-Object-Sysmeta-Slo-Etag"
	sysmetaSLOSize = "X-Object-Sysmeta-Slo-Size"
	// the container update overrides: what the object's listing row records
	sysmetaOverrideEtag = "X-Object-Sysmeta-Container-Update-Override-Etag"
	sysmetaOverrideSize = "X-Object-Sysmeta-Container-Update-Override-Size"
)

// sloPut is handle_multipart_put.
func (p *Proxy) sloPut(req *request) {
	r := req.r
	if r.Header.Get("X-Copy-From") != "" {
		swob.Write(req.w, http.StatusMethodNotAllowed, "text/html; charset=UTF-8", "Multipart Manifest PUTs cannot be COPY requests")
		return
	}
	chunked := strings.EqualFold(strings.Join(r.TransferEncoding, ","), "chunked")
	if r.ContentLength < 0 && !chunked {
		swob.Error(req.w, http.StatusLengthRequired)
		return
	}
	tooBig := fmt.Sprintf("Manifest File > %d bytes", maxManifestSize)
	if r.ContentLength > maxManifestSize {
		swob.Write(req.w, http.StatusRequestEntityTooLarge, "text/html; charset=UTF-8", tooBig)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		swob.Error(req.w, 499)
		return
	}
	if len(body) > maxManifestSize {
		swob.Write(req.w, http.StatusRequestEntityTooLarge, "text/html; charset=UTF-8", tooBig)
		return
	}
	inputs, merr := parseSLOManifest(body, req.container, req.object)
	if merr != nil {
		swob.Write(req.w, merr.status, merr.contentType, merr.body)
		return
	}
	objects := 0
	for _, in := range inputs {
		if !in.inline {
			objects++
		}
	}
	if objects > maxManifestSegments {
		swob.Write(req.w, http.StatusRequestEntityTooLarge, "text/html; charset=UTF-8",
			fmt.Sprintf("Number of object-backed segments must be <= %d", maxManifestSegments))
		return
	}
	format := bestMatchFormat(r.Header.Get("Accept"))
	var beat *heartbeat
	if configTrue(r.URL.Query().Get("heartbeat")) {
		beat = startHeartbeat(req.w, format)
	}
	heads := p.headSegments(req, inputs)
	beat.stop()
	stored := make([]sloSegment, len(inputs))
	var problems [][2]string
	var total int64
	for i, in := range inputs {
		if in.inline {
			stored[i] = sloSegment{Data: base64.StdEncoding.EncodeToString(in.data)}
			total += int64(len(in.data))
			continue
		}
		length, seg, segProblems := validateSLOSegment(in, heads[in.path], i == len(inputs)-1)
		problems = append(problems, segProblems...)
		stored[i] = seg
		total += length
	}
	if len(problems) > 0 {
		if beat != nil {
			beat.finish(map[string]any{}, http.StatusBadRequest, "", problems)
			return
		}
		swob.Write(req.w, http.StatusBadRequest, format, uploadErrorBody(format, problems))
		return
	}
	sloEtag := sloEtagOf(stored)
	if client := strings.Trim(r.Header.Get("Etag"), `"`); client != "" && client != sloEtag {
		if beat != nil {
			beat.finish(map[string]any{}, http.StatusUnprocessableEntity, "", nil)
			return
		}
		swob.Error(req.w, http.StatusUnprocessableEntity)
		return
	}
	manifest := encodeManifest(stored)
	sum := md5.Sum(manifest)
	put := r.Clone(r.Context())
	put.Body, put.ContentLength, put.TransferEncoding = io.NopCloser(bytes.NewReader(manifest)), int64(len(manifest)), nil
	put.Header.Del("Transfer-Encoding")
	put.Header.Set(sysmetaSLOEtag, sloEtag)
	put.Header.Set(sysmetaSLOSize, strconv.FormatInt(total, 10))
	put.Header.Set("X-Static-Large-Object", "True")
	put.Header.Set("Etag", hex.EncodeToString(sum[:]))
	// listings record the large object's size and both ETags; a base value
	// or parameters a middleware set (s3api's "; s3_etag=") are kept, as
	// upstream's SLO keeps them
	base, params, _ := strings.Cut(put.Header.Get(sysmetaOverrideEtag), ";")
	if base == "" {
		base = hex.EncodeToString(sum[:])
	}
	if params != "" {
		base += ";" + params
	}
	put.Header.Set(sysmetaOverrideEtag, base+"; slo_etag="+sloEtag)
	put.Header.Set(sysmetaOverrideSize, strconv.FormatInt(total, 10))
	if put.Header.Get("Content-Type") == "" {
		put.Header.Set("Content-Type", guessType(req.object))
	}
	sub := *req
	sub.r = put
	if beat != nil {
		// the answer goes in the heartbeat body, with the large object's ETag
		rec := httptest.NewRecorder()
		sub.w = rec
		p.objectPut(&sub)
		summary := map[string]any{}
		if rec.Code/100 == 2 {
			summary["Etag"] = `"` + sloEtag + `"`
			summary["Last Modified"] = rec.Header().Get("Last-Modified")
		}
		beat.finish(summary, rec.Code, rec.Body.String(), nil)
		return
	}
	// the answer's ETag is the large object's, as upstream sets resp.etag
	if f, ok := req.w.(*headerFilter); ok {
		f.intercept = func(status int, h http.Header) bool {
			if status/100 == 2 {
				h.Set("Etag", `"`+sloEtag+`"`)
			}
			return false
		}
	}
	p.objectPut(&sub)
}

// heartbeat is a manifest PUT with ?heartbeat=on: 202 at once, a space
// every yield_frequency while the segments are checked, then the outcome as
// a bulk-style body after a blank line.
type heartbeat struct {
	w      http.ResponseWriter
	format string
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
}

// heartbeatInterval is upstream's yield_frequency.
const heartbeatInterval = 10 * time.Second

func startHeartbeat(w http.ResponseWriter, format string) *heartbeat {
	b := &heartbeat{w: w, format: format, done: make(chan struct{})}
	w.Header().Set("Content-Type", format)
	w.WriteHeader(http.StatusAccepted)
	b.space()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		tick := time.NewTicker(heartbeatInterval)
		defer tick.Stop()
		for {
			select {
			case <-b.done:
				return
			case <-tick.C:
				b.space()
			}
		}
	}()
	return b
}

func (b *heartbeat) space() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, _ = io.WriteString(b.w, " ")
	if f, ok := b.w.(http.Flusher); ok {
		f.Flush()
	}
}

// stop ends the spaces (nil: no heartbeat).
func (b *heartbeat) stop() {
	if b == nil {
		return
	}
	close(b.done)
	b.wg.Wait()
}

// finish writes the outcome: status, its body (an error's without one is
// swob's reason and explanation) and the problems.
func (b *heartbeat) finish(summary map[string]any, status int, body string, problems [][2]string) {
	summary["Response Status"] = fmt.Sprintf("%d %s", status, swob.Title(status))
	if body == "" && status/100 != 2 {
		body = swob.Title(status)
		if e := swob.Explanation(status); e != "" {
			body += "\n" + e
		}
	}
	summary["Response Body"] = body
	_, _ = io.WriteString(b.w, "\r\n\r\n"+heartbeatBody(b.format, summary, problems))
}

// heartbeatBody is get_heartbeat_response_body(format, summary, problems,
// 'upload').
func heartbeatBody(format string, summary map[string]any, problems [][2]string) string {
	list := make([][]string, len(problems))
	for i, pr := range problems {
		list[i] = []string{pr[0], pr[1]}
	}
	var b strings.Builder
	switch {
	case format == "application/json":
		summary["Errors"] = list
		data, _ := json.Marshal(summary)
		return string(data)
	case strings.HasSuffix(format, "/xml"):
		b.WriteString("<upload>\n")
		for _, k := range sortedKeys(summary) {
			tag := strings.ToLower(strings.ReplaceAll(k, " ", "_"))
			fmt.Fprintf(&b, "<%s>%s</%s>\n", tag, xmlEscape(fmt.Sprint(summary[k])), tag)
		}
		b.WriteString("<errors>\n")
		for _, pr := range problems {
			fmt.Fprintf(&b, "<object><name>%s</name><status>%s</status></object>\n", xmlEscape(pr[0]), xmlEscape(pr[1]))
		}
		b.WriteString("</errors>\n</upload>\n")
	default:
		for _, k := range sortedKeys(summary) {
			fmt.Fprintf(&b, "%s: %v\n", k, summary[k])
		}
		b.WriteString("Errors:\n")
		for _, pr := range problems {
			fmt.Fprintf(&b, "%s, %s\n", pr[0], pr[1])
		}
	}
	return b.String()
}

// headSegments HEADs each distinct segment path of a manifest with the
// caller's rights, a few at a time (upstream's concurrency of 2).
func (p *Proxy) headSegments(req *request, inputs []sloInput) map[string]*httptest.ResponseRecorder {
	out := map[string]*httptest.ResponseRecorder{}
	var paths []string
	for _, in := range inputs {
		if !in.inline {
			if _, seen := out[in.path]; !seen {
				out[in.path] = nil
				paths = append(paths, in.path)
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for range min(4, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range work {
				rec := httptest.NewRecorder()
				sub := subrequest(req, http.MethodHead, "/"+req.version+"/"+req.account+"/"+strings.TrimLeft(path, "/"), "")
				p.dispatchRecovered(rec, sub, req.transID)
				mu.Lock()
				out[path] = rec
				mu.Unlock()
			}
		}()
	}
	for _, path := range paths {
		work <- path
	}
	close(work)
	wg.Wait()
	return out
}

// dispatchRecovered is a subrequest in a goroutine of its own: a panic is
// its 500, as the request's own recover would make it.
func (p *Proxy) dispatchRecovered(rec *httptest.ResponseRecorder, sub *http.Request, transID string) {
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("object-store subrequest panic", "method", sub.Method, "path", sub.URL.EscapedPath(), "panic", v)
			rec.Code = http.StatusInternalServerError
		}
	}()
	p.dispatch(rec, sub, transID)
}

// validateSLOSegment is validate_seg_dict: a segment of the client's
// manifest against the HEAD of it; its length in the large object, what the
// manifest stores of it, and its problems.
func validateSLOSegment(in sloInput, head *httptest.ResponseRecorder, allowEmpty bool) (int64, sloSegment, [][2]string) {
	name := quote(in.path, "/")
	if head == nil || head.Code/100 != 2 {
		code := http.StatusServiceUnavailable
		if head != nil {
			code = head.Code
		}
		return 0, sloSegment{}, [][2]string{{name, fmt.Sprintf("%d %s", code, swob.Title(code))}}
	}
	var problems [][2]string
	h := head.Header()
	size, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	etag := strings.ReplaceAll(h.Get("Etag"), `"`, "")
	length := size
	rangeText := ""
	if in.rng != nil {
		from, to, ok := rangeSpan(*in.rng, size)
		switch {
		case !ok:
			problems = append(problems, [2]string{name, "Unsatisfiable Range"})
		case from == 0 && to == size:
			// the whole segment: no range stored
		default:
			rangeText = fmt.Sprintf("%d-%d", from, to-1)
			length = to - from
		}
	}
	if length < 1 && !allowEmpty {
		problems = append(problems, [2]string{name, "Too small; each segment must be at least 1 byte."})
	}
	if in.hasSize && in.size != size {
		problems = append(problems, [2]string{name, "Size Mismatch"})
	}
	if in.hasEtag && in.etag != etag {
		problems = append(problems, [2]string{name, "Etag Mismatch"})
	}
	lastModified := time.Now().UTC()
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		lastModified = t
	}
	contentType, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	seg := sloSegment{
		Name:         "/" + strings.TrimLeft(in.path, "/"),
		Bytes:        size,
		Hash:         etag,
		ContentType:  contentType,
		LastModified: lastModified.Format("2006-01-02T15:04:05.000000"),
		Range:        rangeText,
		SubSLO:       configTrue(h.Get("X-Static-Large-Object")),
	}
	return length, seg, problems
}

// sloEtagOf is the large object's ETag: the MD5 of its segments' ETags (a
// ranged one as "<etag>:<range>;", inline data by its MD5).
func sloEtagOf(segs []sloSegment) string {
	sum := md5.New()
	for _, s := range segs {
		switch {
		case s.Data != "":
			data, _ := base64.StdEncoding.DecodeString(s.Data)
			d := md5.Sum(data)
			sum.Write([]byte(hex.EncodeToString(d[:])))
		case s.Range != "":
			sum.Write([]byte(s.Hash + ":" + s.Range + ";"))
		default:
			sum.Write([]byte(s.Hash))
		}
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// uploadErrorBody is get_heartbeat_response_body(format, {}, problems,
// 'upload') as a manifest PUT's 400 carries it.
func uploadErrorBody(format string, problems [][2]string) string {
	return heartbeatBody(format, map[string]any{}, problems)
}

// serveSLO answers a GET or HEAD whose backend answer is an SLO manifest;
// false when it is not one (or the manifest itself was asked for as stored).
func (p *Proxy) serveSLO(req *request, resp *http.Response) bool {
	if !configTrue(resp.Header.Get("X-Static-Large-Object")) {
		return false
	}
	q := req.r.URL.Query()
	if q.Get("multipart-manifest") == "get" {
		if q.Get("format") != "raw" {
			resp.Header.Set("Content-Type", "application/json; charset=utf-8")
			return false
		}
		p.serveRawManifest(req, resp)
		return true
	}
	part, problem := partNumber(req.r)
	if problem != "" {
		swob.Write(req.w, http.StatusBadRequest, "text/html; charset=UTF-8", problem)
		return true
	}
	sloEtag, sloSize := resp.Header.Get(sysmetaSLOEtag), resp.Header.Get(sysmetaSLOSize)
	legacy := sloEtag == "" || sloSize == ""
	method := http.MethodHead
	if req.r.Method == http.MethodGet || legacy || part > 0 {
		method = http.MethodGet
	}
	// the object server answered the manifest's own conditionals and Range;
	// the large object's are answered here, over a plain read of it
	manifest := resp
	if resp.StatusCode != http.StatusOK || method != req.r.Method {
		manifest = p.readManifest(req, req.account, req.container, req.object, method)
		if manifest == nil {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return true
		}
		defer manifest.Body.Close()
		if manifest.StatusCode != http.StatusOK || !configTrue(manifest.Header.Get("X-Static-Large-Object")) {
			relay(req.w, req.r, manifest)
			return true
		}
		sloEtag, sloSize = manifest.Header.Get(sysmetaSLOEtag), manifest.Header.Get(sysmetaSLOSize)
	}
	var segs []sloSegment
	if method == http.MethodGet {
		var ok bool
		if segs, ok = decodeManifest(manifest.Body); !ok {
			swob.Write(req.w, http.StatusInternalServerError, "text/html; charset=UTF-8", "Unable to load SLO manifest")
			return true
		}
		if legacy {
			var total int64
			for _, s := range segs {
				total += s.length()
			}
			sloEtag, sloSize = sloEtagOf(segs), strconv.FormatInt(total, 10)
		}
	}
	size, _ := strconv.ParseInt(sloSize, 10, 64)
	h := req.w.Header()
	copyHeaders(h, manifest.Header)
	h.Del("Content-Range")
	h.Set("X-Manifest-Etag", strings.Trim(manifest.Header.Get("Etag"), `"`))
	lastModified, _ := http.ParseTime(manifest.Header.Get("Last-Modified"))
	contentType := manifest.Header.Get("Content-Type")
	if part > 0 {
		// the part is served as the Range it covers, as upstream rewrites it
		h.Set("X-Parts-Count", strconv.Itoa(len(segs)))
		if part > len(segs) {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			h.Set("Etag", `"`+sloEtag+`"`)
			body := "The requested part number is not satisfiable"
			if req.r.Method == http.MethodHead {
				body = ""
			}
			swob.Write(req.w, http.StatusRequestedRangeNotSatisfiable, contentType, body)
			return true
		}
		var start int64
		for _, s := range segs[:part-1] {
			start += s.length()
		}
		req.r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, start+segs[part-1].length()-1))
	}
	if req.r.Method == http.MethodHead {
		swob.Serve(req.w, req.r, swob.Entity{ETag: sloEtag, LastModified: lastModified, Length: size, ContentType: contentType})
		return true
	}
	pieces, err := p.sloPieces(req, segs, 1)
	if err != nil {
		p.log.Warn("static large object unreadable", "path", req.objectPath(), "error", err)
		h.Del("Etag")
		swob.Error(req.w, http.StatusConflict)
		return true
	}
	p.serveSegments(req, pieces, sloEtag, lastModified, contentType)
	return true
}

// partNumber is get_valid_part_num: the ?part-number of a GET or HEAD of an
// SLO (0 without one), or the 400's body.
func partNumber(r *http.Request) (int, string) {
	q := r.URL.Query()
	if !q.Has("part-number") {
		return 0, ""
	}
	n, ok := jsonInt(q.Get("part-number"))
	if !ok || n <= 0 {
		return 0, "Part number must be an integer greater than 0"
	}
	n = min(n, math.MaxInt32) // past any manifest's parts: 416

	if v := r.Header.Get("Range"); v != "" {
		if _, err := swob.ParseRange(v); err == nil {
			return 0, "Range requests are not supported with part number queries"
		}
	}
	return int(n), ""
}

// readManifest is a plain read (no Range, no conditionals) of an object.
func (p *Proxy) readManifest(req *request, account, container, object, method string) *http.Response {
	rg := p.opts.Rings.Object
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	if v := req.r.Header.Get("X-Newest"); v != "" {
		h.Set("X-Newest", v)
	}
	return p.readFirst(req.r.Context(), rg, rg.Partition(account, container, object), method,
		"/"+account+"/"+container+"/"+object, "", h)
}

func decodeManifest(body io.Reader) ([]sloSegment, bool) {
	var segs []sloSegment
	if err := json.NewDecoder(io.LimitReader(body, 8*maxManifestSize)).Decode(&segs); err != nil {
		return nil, false
	}
	return segs, true
}

// serveRawManifest is ?multipart-manifest=get&format=raw: the manifest in
// the form a client PUTs, with the object's content type.
func (p *Proxy) serveRawManifest(req *request, resp *http.Response) {
	manifest := resp
	if resp.StatusCode != http.StatusOK || req.r.Method != http.MethodGet {
		manifest = p.readManifest(req, req.account, req.container, req.object, http.MethodGet)
		if manifest == nil {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return
		}
		defer manifest.Body.Close()
		if manifest.StatusCode != http.StatusOK {
			relay(req.w, req.r, manifest)
			return
		}
	}
	segs, ok := decodeManifest(manifest.Body)
	if !ok {
		swob.Write(req.w, http.StatusInternalServerError, "text/html; charset=UTF-8", "Unable to load SLO manifest")
		return
	}
	data := rawManifest(segs)
	sum := md5.Sum(data)
	h := req.w.Header()
	copyHeaders(h, manifest.Header)
	h.Del("Content-Range")
	h.Set("Etag", hex.EncodeToString(sum[:]))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	req.w.WriteHeader(http.StatusOK)
	if req.r.Method == http.MethodGet {
		_, _ = req.w.Write(data)
	}
}

// maxSLOPieces bounds what one GET flattens out of nested manifests.
const maxSLOPieces = 100 * maxManifestSegments

// sloPieces turns a manifest into pieces; a sub-manifest is one piece the
// reader expands when it reaches it (expandSubSLO), depth its level.
func (p *Proxy) sloPieces(req *request, segs []sloSegment, depth int) ([]segmentPiece, error) {
	var out []segmentPiece
	for _, s := range segs {
		if s.Data != "" {
			data, err := base64.StdEncoding.DecodeString(s.Data)
			if err != nil {
				return nil, fmt.Errorf("bad inline data")
			}
			out = append(out, segmentPiece{data: data, inline: true})
			continue
		}
		container, object, ok := strings.Cut(strings.TrimPrefix(s.Name, "/"), "/")
		if !ok || container == "" || object == "" {
			return nil, fmt.Errorf("bad segment name %q", s.Name)
		}
		first, last := int64(0), s.Bytes-1
		if s.Range != "" {
			a, b, _ := strings.Cut(s.Range, "-")
			f, err1 := strconv.ParseInt(a, 10, 64)
			l, err2 := strconv.ParseInt(b, 10, 64)
			if err1 != nil || err2 != nil || l < f {
				return nil, fmt.Errorf("bad segment range %q", s.Range)
			}
			first, last = f, l
		}
		if !s.SubSLO {
			out = append(out, segmentPiece{container: container, object: object, first: first, last: last, etag: s.Hash, size: s.Bytes})
		} else {
			// fetched only when a read reaches it, as upstream's
			// _byterange_listing_iterator skips sub-manifests no range needs
			out = append(out, segmentPiece{container: container, object: object, first: first, last: last, size: -1,
				subSLO: true, depth: depth})
		}
		if len(out) > maxSLOPieces {
			return nil, fmt.Errorf("too many segments")
		}
	}
	return out, nil
}

// expandSubSLO is the pieces a sub-manifest piece stands for: its manifest
// read with the caller's rights, down to upstream's recursion limit, and cut
// to the piece's range.
func (p *Proxy) expandSubSLO(req *request, piece segmentPiece) ([]segmentPiece, error) {
	if piece.depth >= maxSLODepth {
		return nil, fmt.Errorf("max recursion depth was exceeded")
	}
	sub, err := p.subManifest(req, piece.container, piece.object)
	if err != nil {
		return nil, err
	}
	subPieces, err := p.sloPieces(req, sub, piece.depth+1)
	if err != nil {
		return nil, err
	}
	out := slicePieces(subPieces, piece.first, piece.last)
	var n int64
	for _, pc := range out {
		n += pc.length()
	}
	if n != piece.length() {
		return nil, fmt.Errorf("submanifest %s/%s changed size", piece.container, piece.object)
	}
	return out, nil
}

// subManifest reads a nested manifest with the caller's rights.
func (p *Proxy) subManifest(req *request, container, object string) ([]sloSegment, error) {
	if !p.mayReadObject(req, req.account, container, object) {
		return nil, fmt.Errorf("submanifest %s/%s not readable by the caller", container, object)
	}
	resp := p.readManifest(req, req.account, container, object, http.MethodGet)
	if resp == nil {
		return nil, fmt.Errorf("submanifest %s/%s unavailable", container, object)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !configTrue(resp.Header.Get("X-Static-Large-Object")) {
		return nil, fmt.Errorf("GET of submanifest %s/%s failed with status %d", container, object, resp.StatusCode)
	}
	segs, ok := decodeManifest(resp.Body)
	if !ok {
		return nil, fmt.Errorf("JSON-decoding of submanifest %s/%s failed", container, object)
	}
	return segs, nil
}

// slicePieces keeps bytes first..last (inclusive) of what pieces make.
func slicePieces(pieces []segmentPiece, first, last int64) []segmentPiece {
	var out []segmentPiece
	var offset int64
	for _, pc := range pieces {
		n := pc.length()
		start, end := offset, offset+n-1
		offset += n
		if end < first || start > last || n <= 0 {
			continue
		}
		lo, hi := max(first, start)-start, min(last, end)-start
		if pc.inline {
			pc.data = pc.data[lo : hi+1]
		} else {
			pc.first, pc.last = pc.first+lo, pc.first+hi
		}
		out = append(out, pc)
	}
	return out
}

// sloDelete is handle_multipart_delete: every segment (nested manifests'
// too) and then the manifest, deleted with the caller's rights, answered as
// a bulk delete.
func (p *Proxy) sloDelete(req *request) {
	format := bestMatchFormat(req.r.Header.Get("Accept"))
	type item struct {
		name   string
		subSLO bool
		errMsg string
		errNo  int
	}
	queue := []item{{name: "/" + req.container + "/" + req.object, subSLO: true}}
	summary := map[string]any{"Response Status": "200 OK", "Response Body": "", "Number Deleted": 0, "Number Not Found": 0}
	deleted, notFound := 0, 0
	failed := [][]string{}
	unauthorized := false
	for len(queue) > 0 {
		if len(queue) > maxManifestSegments*10 {
			summary["Response Status"] = "400 Bad Request"
			summary["Response Body"] = "Too many buffered slo segments to delete."
			break
		}
		it := queue[0]
		queue = queue[1:]
		if it.subSLO {
			segs, code, msg := p.manifestSegments(req, it.name)
			if code != 0 {
				it.errNo, it.errMsg = code, msg
			}
			for _, s := range segs {
				if s.Data == "" {
					queue = append(queue, item{name: s.Name, subSLO: s.SubSLO})
				}
			}
			it.subSLO = false
			queue = append(queue, it)
			continue
		}
		if it.errNo == http.StatusNotFound {
			notFound++
			continue
		}
		if it.errNo != 0 {
			failed = append(failed, []string{quote(it.name, "/"), it.errMsg})
			continue
		}
		rec := httptest.NewRecorder()
		p.dispatch(rec, subrequest(req, http.MethodDelete, "/"+req.version+"/"+req.account+"/"+strings.TrimLeft(it.name, "/"), ""), req.transID)
		switch {
		case rec.Code/100 == 2:
			deleted++
		case rec.Code == http.StatusNotFound:
			notFound++
		default:
			unauthorized = unauthorized || rec.Code == http.StatusUnauthorized
			failed = append(failed, []string{quote(it.name, "/"), fmt.Sprintf("%d %s", rec.Code, swob.Title(rec.Code))})
		}
		if len(failed) >= maxFailedDeletes {
			summary["Response Status"] = "400 Bad Request"
			summary["Response Body"] = "Max delete failures exceeded"
			break
		}
	}
	summary["Number Deleted"], summary["Number Not Found"] = deleted, notFound
	if summary["Response Body"] == "" {
		switch {
		case unauthorized:
			summary["Response Status"] = "401 Unauthorized"
		case len(failed) > 0:
			summary["Response Status"] = "400 Bad Request"
		case deleted == 0 && notFound == 0:
			summary["Response Status"] = "400 Bad Request"
			summary["Response Body"] = "Invalid bulk delete."
		}
	}
	writeBulkSummary(req.w, format, summary, failed)
}

// manifestSegments is get_slo_segments: the segments of the manifest at
// name (/container/object), or the error code and message upstream records.
func (p *Proxy) manifestSegments(req *request, name string) ([]sloSegment, int, string) {
	rec := httptest.NewRecorder()
	p.dispatch(rec, subrequest(req, http.MethodGet, "/"+req.version+"/"+req.account+"/"+strings.TrimLeft(name, "/"),
		"multipart-manifest=get"), req.transID)
	switch {
	case rec.Code/100 == 2:
		if !configTrue(rec.Header().Get("X-Static-Large-Object")) {
			return nil, http.StatusBadRequest, "Not an SLO manifest"
		}
		segs, ok := decodeManifest(rec.Body)
		if !ok {
			return nil, http.StatusInternalServerError, "Unable to load SLO manifest"
		}
		return segs, 0, ""
	case rec.Code == http.StatusNotFound:
		return nil, http.StatusNotFound, "SLO manifest not found"
	case rec.Code == http.StatusUnauthorized:
		return nil, http.StatusUnauthorized, "401 Unauthorized"
	}
	return nil, http.StatusInternalServerError, "Unable to load SLO manifest or segment."
}
