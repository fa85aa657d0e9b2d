package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Static large object manifests, as upstream's slo middleware reads what a
// client PUTs with ?multipart-manifest=put and writes what it stores.

// upstream's defaults (DEFAULT_MAX_MANIFEST_SEGMENTS, DEFAULT_MAX_MANIFEST_SIZE)
const (
	maxManifestSegments = 1000
	maxManifestSize     = 8 << 20
	// maxSLODepth is SloGetContext.max_slo_recursion_depth.
	maxSLODepth = 10
)

// sloInput is one segment of a client's manifest, validated.
type sloInput struct {
	path      string
	etag      string
	hasEtag   bool
	size      int64
	hasSize   bool
	rng       *swob.ByteRange
	data      []byte
	inline    bool
	rangeText string
}

// sloSegment is one segment of a stored manifest (upstream's JSON keys).
type sloSegment struct {
	Name         string `json:"name"`
	Bytes        int64  `json:"bytes"`
	Hash         string `json:"hash"`
	ContentType  string `json:"content_type"`
	LastModified string `json:"last_modified"`
	Range        string `json:"range,omitempty"`
	SubSLO       bool   `json:"sub_slo,omitempty"`
	Data         string `json:"data,omitempty"`
}

// length is the segment's contribution to the large object
// (_annotate_segments' segment_length).
func (s sloSegment) length() int64 {
	if s.Data != "" {
		data, _ := base64.StdEncoding.DecodeString(s.Data)
		return int64(len(data))
	}
	if s.Range != "" {
		a, b, _ := strings.Cut(s.Range, "-")
		from, err1 := strconv.ParseInt(a, 10, 64)
		to, err2 := strconv.ParseInt(b, 10, 64)
		if err1 == nil && err2 == nil && to >= from {
			return to - from + 1
		}
		return 0
	}
	return s.Bytes
}

// manifestError is a refusal of a client's manifest: status and body as
// upstream answers them.
type manifestError struct {
	status      int
	contentType string
	body        string
}

// parseSLOManifest is upstream's parse_and_validate_input: the manifest a
// client PUT to /<account>/container/object, or the 400 listing each bad
// segment.
func parseSLOManifest(body []byte, container, object string) ([]sloInput, *manifestError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var parsed any
	if err := dec.Decode(&parsed); err != nil || dec.More() || !utf8.Valid(body) {
		return nil, &manifestError{400, "text/html; charset=UTF-8", "Manifest must be valid JSON.\n"}
	}
	list, ok := parsed.([]any)
	if !ok {
		return nil, &manifestError{400, "text/html; charset=UTF-8", "Manifest must be a list.\n"}
	}
	var errs []string
	out := make([]sloInput, 0, len(list))
	for i, item := range list {
		seg, problem := parseSLOSegment(item, i, len(list), container, object)
		if problem != "" {
			errs = append(errs, fmt.Sprintf("Index %d: %s", i, problem))
			continue
		}
		out = append(out, seg)
	}
	if len(list) > 0 && len(errs) == 0 {
		allData := true
		for _, s := range out {
			allData = allData && s.inline
		}
		if allData {
			errs = append(errs, "Inline data segments require at least one object-backed segment.")
		}
	}
	if len(errs) > 0 {
		return nil, &manifestError{400, "text/plain", strings.Join(errs, "\n") + "\n"}
	}
	return out, nil
}

func parseSLOSegment(item any, index, count int, container, object string) (sloInput, string) {
	d, ok := item.(map[string]any)
	if !ok {
		return sloInput{}, "not a JSON object"
	}
	var kind string
	var allowed map[string]bool
	switch {
	case has(d, "data"):
		kind, allowed = "data", map[string]bool{"data": true}
	case has(d, "path"):
		kind, allowed = "path", map[string]bool{"path": true, "range": true, "etag": true, "size_bytes": true}
	default:
		return sloInput{}, "expected keys to include one of 'data' or 'path'"
	}
	var extra []string
	for k := range d {
		if !allowed[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		for i, k := range extra {
			extra[i] = pyJSONString(k)
		}
		return sloInput{}, "extraneous keys " + strings.Join(extra, ", ")
	}
	if kind == "data" {
		s, _ := d["data"].(string)
		data, err := strictBase64(s)
		if err != nil || !isString(d["data"]) {
			return sloInput{}, "data must be valid base64"
		}
		if len(data) < 1 {
			return sloInput{}, "too small; each segment must be at least 1 byte."
		}
		return sloInput{data: data, inline: true}, ""
	}
	path, ok := d["path"].(string)
	if !ok {
		return sloInput{}, `"path" must be a string`
	}
	seg := sloInput{path: path}
	if e, present := d["etag"]; present && e != nil {
		s, ok := e.(string)
		if !ok {
			return sloInput{}, `"etag" must be a string or null (if provided)`
		}
		seg.etag, seg.hasEtag = s, true
	}
	if !strings.Contains(strings.Trim(path, "/"), "/") {
		return sloInput{}, "path does not refer to an object. Path must be of the form /container/object."
	}
	if v, present := d["size_bytes"]; present && v != nil {
		size, ok := jsonInt(v)
		if !ok {
			return sloInput{}, "invalid size_bytes"
		}
		if size < 1 && index != count-1 {
			return sloInput{}, "too small; each segment must be at least 1 byte."
		}
		seg.size, seg.hasSize = size, true
	}
	if strings.TrimLeft(path, "/") == container+"/"+object {
		return sloInput{}, "manifest must not include itself as a segment"
	}
	if r, present := d["range"]; present && pyTrue(r) {
		s, ok := r.(string)
		if !ok {
			return sloInput{}, "invalid range"
		}
		ranges, err := swob.ParseRange("bytes=" + s)
		if err != nil {
			return sloInput{}, "invalid range"
		}
		if len(ranges) > 1 {
			return sloInput{}, "multiple ranges (only one allowed)"
		}
		if seg.hasSize {
			if _, _, ok := rangeSpan(ranges[0], seg.size); !ok {
				return sloInput{}, "unsatisfiable range"
			}
		}
		seg.rng, seg.rangeText = &ranges[0], s
	}
	return seg, ""
}

func has(d map[string]any, k string) bool { _, ok := d[k]; return ok }

func isString(v any) bool { _, ok := v.(string); return ok }

// pyTrue is Python's truth of a JSON value (seg_dict.get('range') tests it).
func pyTrue(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, _ := x.Float64()
		return f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// jsonInt is Python's int() of a JSON value: integers, floats truncated,
// booleans, and decimal strings (with surrounding space, a sign and
// underscores between digits).
func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) > math.MaxInt64/2 {
			return 0, false
		}
		return int64(f), true
	case string:
		s := strings.TrimSpace(x)
		if strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || strings.HasPrefix(strings.TrimLeft(s, "+-"), "_") {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// strictBase64 is upstream's strict_b64decode: standard or URL-safe
// alphabet, padding required to a multiple of 4.
func strictBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "-_") {
		s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	}
	if len(s)%4 != 0 {
		return nil, fmt.Errorf("bad padding")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// rangeSpan is swob's ranges_for_length for one range: [from, to) of an
// entity of length bytes, false when unsatisfiable.
func rangeSpan(r swob.ByteRange, length int64) (int64, int64, bool) {
	switch {
	case r.Start < 0:
		if r.End == 0 {
			return 0, 0, false
		}
		return max(length-r.End, 0), length, true
	case r.End < 0:
		return r.Start, length, r.Start < length
	default:
		return r.Start, min(r.End+1, length), r.Start < length
	}
}

// pyJSONString is Python's json.dumps of a string (ensure_ascii): what
// upstream's error messages and stored manifests hold.
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// encodeManifest is json.dumps(data_for_storage) as upstream stores it: the
// keys in the order the middleware sets them, Python's separators.
func encodeManifest(segs []sloSegment) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range segs {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.Data != "" {
			b.WriteString(`{"data": ` + pyJSONString(s.Data) + "}")
			continue
		}
		fmt.Fprintf(&b, `{"name": %s, "bytes": %d, "hash": %s, "content_type": %s, "last_modified": %s`,
			pyJSONString(s.Name), s.Bytes, pyJSONString(s.Hash), pyJSONString(s.ContentType), pyJSONString(s.LastModified))
		if s.Range != "" {
			b.WriteString(`, "range": ` + pyJSONString(s.Range))
		}
		if s.SubSLO {
			b.WriteString(`, "sub_slo": true`)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// rawManifest is convert_segment_listing: the stored manifest in the form a
// client PUTs (?multipart-manifest=get&format=raw), json.dumps(sort_keys=True).
func rawManifest(segs []sloSegment) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range segs {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.Data != "" {
			b.WriteString(`{"data": ` + pyJSONString(s.Data) + "}")
			continue
		}
		fmt.Fprintf(&b, `{"etag": %s, "path": %s, `, pyJSONString(s.Hash), pyJSONString(s.Name))
		if s.Range != "" {
			b.WriteString(`"range": ` + pyJSONString(s.Range) + ", ")
		}
		fmt.Fprintf(&b, `"size_bytes": %d}`, s.Bytes)
	}
	b.WriteByte(']')
	return []byte(b.String())
}
