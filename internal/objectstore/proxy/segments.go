package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Large objects (DLO and SLO) are read as upstream's SegmentedIterable reads
// them: a list of pieces, each a byte range of one segment object (or data
// inlined in an SLO manifest), fetched in turn with the caller's rights and
// checked against what the manifest says of them. segmentReader presents the
// pieces as one io.ReaderAt so swob.Serve answers conditionals, a single
// Range and multiple ranges (multipart/byteranges) over them exactly as it
// answers them for a plain object.

// segmentPiece is one contiguous run of a large object's bytes.
type segmentPiece struct {
	container, object string // the segment, in the request's account
	first, last       int64  // the bytes of the segment used, inclusive
	etag              string // the segment's expected ETag, "" unchecked
	size              int64  // the segment's expected length, -1 unchecked
	data              []byte // inline data (SLO "data" segments) instead
	inline            bool
	// subSLO: the piece is bytes first..last of a nested manifest, expanded
	// into its own pieces when a read reaches it; depth is its level
	subSLO bool
	depth  int
}

func (s segmentPiece) length() int64 {
	if s.inline {
		return int64(len(s.data))
	}
	return s.last - s.first + 1
}

// errSegment is a segment that cannot be read as the manifest describes it;
// upstream logs it and ends the response short (409 before the first byte).
var errSegment = errors.New("large object segment unavailable or changed")

// segmentReader reads the pieces in order, keeping one segment's stream open
// so a sequential read costs one backend request per segment and range.
type segmentReader struct {
	p       *Proxy
	req     *request
	pieces  []segmentPiece
	offsets []int64 // where each piece starts in the large object
	length  int64
	// allowed caches the caller's read right per segment container
	allowed map[string]bool

	cur    io.ReadCloser
	curPos int64 // the object offset of the stream's next byte
	curEnd int64 // the object offset where the stream ends
}

func newSegmentReader(p *Proxy, req *request, pieces []segmentPiece) *segmentReader {
	sr := &segmentReader{p: p, req: req, allowed: map[string]bool{}}
	for _, s := range pieces {
		if s.length() <= 0 {
			continue
		}
		sr.pieces = append(sr.pieces, s)
		sr.offsets = append(sr.offsets, sr.length)
		sr.length += s.length()
	}
	return sr
}

// Close ends the open segment stream.
func (sr *segmentReader) Close() {
	if sr.cur != nil {
		sr.cur.Close()
		sr.cur = nil
	}
}

// ReadAt fills b from offset off, opening segments as it goes.
func (sr *segmentReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		if off >= sr.length {
			return n, io.EOF
		}
		if sr.cur == nil || sr.curPos != off {
			if err := sr.openAt(off); err != nil {
				return n, err
			}
		}
		want := min(int64(len(b)-n), sr.curEnd-sr.curPos)
		m, err := io.ReadFull(sr.cur, b[n:n+int(want)])
		n += m
		off += int64(m)
		sr.curPos += int64(m)
		if err != nil {
			sr.Close()
			return n, fmt.Errorf("%w: %v", errSegment, err)
		}
		if sr.curPos == sr.curEnd {
			sr.Close()
		}
	}
	return n, nil
}

// openAt opens the piece holding object offset off, from off to its end.
func (sr *segmentReader) openAt(off int64) error {
	sr.Close()
	i := len(sr.offsets) - 1
	for i > 0 && sr.offsets[i] > off {
		i--
	}
	if i < 0 || off >= sr.length {
		return io.EOF
	}
	for sr.pieces[i].subSLO {
		if err := sr.expand(i); err != nil {
			sr.p.log.Warn("large object submanifest unreadable", "segment", sr.pieces[i].container+"/"+sr.pieces[i].object, "error", err)
			return errSegment
		}
		for i+1 < len(sr.offsets) && sr.offsets[i+1] <= off {
			i++
		}
	}
	piece := sr.pieces[i]
	skip := off - sr.offsets[i]
	sr.curPos, sr.curEnd = off, sr.offsets[i]+piece.length()
	if piece.inline {
		sr.cur = io.NopCloser(bytes.NewReader(piece.data[skip:]))
		return nil
	}
	if !sr.mayRead(piece) {
		sr.p.log.Warn("large object segment not readable by the caller", "segment", piece.container+"/"+piece.object)
		return errSegment
	}
	h := http.Header{}
	h.Set("X-Trans-Id", sr.req.transID)
	from := piece.first + skip
	// a whole segment is read without Range, so the object server verifies
	// its checksum before sending it
	if from != 0 || piece.size < 0 || piece.last != piece.size-1 {
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", from, piece.last))
	}
	rg := sr.p.opts.Rings.Object
	path := "/" + sr.req.account + "/" + piece.container + "/" + piece.object
	resp := sr.p.readFirst(sr.req.r.Context(), rg, rg.Partition(sr.req.account, piece.container, piece.object),
		http.MethodGet, path, "", h)
	if resp == nil {
		return errSegment
	}
	if problem := segmentProblem(resp, piece); problem != "" {
		resp.Body.Close()
		sr.p.log.Warn("large object segment refused", "segment", piece.container+"/"+piece.object, "problem", problem)
		return errSegment
	}
	sr.cur = resp.Body
	return nil
}

// expand replaces the sub-manifest piece i by the pieces it stands for.
func (sr *segmentReader) expand(i int) error {
	sub, err := sr.p.expandSubSLO(sr.req, sr.pieces[i])
	if err != nil {
		return err
	}
	var kept []segmentPiece
	for _, pc := range sub {
		if pc.length() > 0 {
			kept = append(kept, pc)
		}
	}
	if len(sr.pieces)+len(kept) > maxSLOPieces {
		return errors.New("too many segments")
	}
	pieces := append(append(append([]segmentPiece{}, sr.pieces[:i]...), kept...), sr.pieces[i+1:]...)
	offsets := make([]int64, len(pieces))
	var at int64
	for j, pc := range pieces {
		offsets[j] = at
		at += pc.length()
	}
	sr.pieces, sr.offsets = pieces, offsets
	return nil
}

// segmentProblem is what SegmentedIterable finds wrong with a segment's
// answer: an error status, or an ETag or length the manifest did not record.
func segmentProblem(resp *http.Response, piece segmentPiece) string {
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return "status " + strconv.Itoa(resp.StatusCode)
	}
	if piece.etag != "" && strings.Trim(resp.Header.Get("Etag"), `"`) != piece.etag {
		return "etag mismatch"
	}
	if piece.size >= 0 {
		size := resp.ContentLength
		if cr := resp.Header.Get("Content-Range"); cr != "" {
			_, total, _ := strings.Cut(cr, "/")
			size, _ = strconv.ParseInt(total, 10, 64)
		}
		if size != piece.size {
			return "length mismatch"
		}
	}
	return ""
}

// mayRead reports whether the caller may GET the piece's segment, as
// upstream's segment subrequests are authorized with the caller's identity.
func (sr *segmentReader) mayRead(piece segmentPiece) bool {
	if ok, seen := sr.allowed[piece.container]; seen {
		return ok
	}
	ok := sr.p.mayReadObject(sr.req, sr.req.account, piece.container, piece.object)
	sr.allowed[piece.container] = ok
	return ok
}

// mayReadObject runs the caller's authorization for a GET of another object.
func (p *Proxy) mayReadObject(req *request, account, container, object string) bool {
	return p.mayReadObjectAs(req, account, container, object, http.MethodGet, httptest.NewRecorder())
}

// firstByteServed is the object offset a GET with rangeHeader starts at, as
// swob's ranges_for_length picks the first satisfiable range; false when
// nothing would be read.
func firstByteServed(rangeHeader string, length int64) (int64, bool) {
	if length <= 0 {
		return 0, false
	}
	if rangeHeader == "" {
		return 0, true
	}
	ranges, err := swob.ParseRange(rangeHeader)
	if err != nil {
		return 0, true
	}
	for _, r := range ranges {
		switch {
		case r.Start < 0:
			if r.End > 0 {
				return max(length-r.End, 0), true
			}
		case r.Start < length:
			return r.Start, true
		}
	}
	return 0, false
}

// serveSegments answers a GET or HEAD of a large object made of pieces,
// with its ETag and Last-Modified; w's other headers are set by the caller.
// As upstream, a first segment that cannot be read is 409 Conflict, and a
// later one ends the body short.
func (p *Proxy) serveSegments(req *request, pieces []segmentPiece, etag string, lastModified time.Time, contentType string) {
	sr := newSegmentReader(p, req, pieces)
	defer sr.Close()
	entity := swob.Entity{ETag: etag, LastModified: lastModified, Length: sr.length, ContentType: contentType, Body: sr}
	req.w.Header().Del("Content-Range")
	if req.r.Method == http.MethodGet && swob.Precondition(req.r, entity) == 0 {
		if first, ok := firstByteServed(req.r.Header.Get("Range"), sr.length); ok {
			if err := sr.openAt(first); err != nil {
				req.w.Header().Del("Etag")
				req.w.Header().Del("Last-Modified")
				swob.Error(req.w, http.StatusConflict)
				return
			}
		}
	}
	swob.Serve(req.w, req.r, entity)
}
