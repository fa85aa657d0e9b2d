package s3api

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// s3Namespace is the namespace upstream's tostring puts on S3 documents.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// writeXML answers 200 with an S3 document.
func (s *s3req) writeXML(status int, body string) *s3Error {
	h := s.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	s.w.WriteHeader(status)
	if s.r.Method != http.MethodHead {
		_, _ = io.WriteString(s.w, body)
	}
	return nil
}

// doc builds an S3 document: the root element with the S3 namespace.
type doc struct{ b strings.Builder }

func newDoc(root string, namespace bool) *doc {
	d := &doc{}
	d.b.WriteString(xmlDeclaration)
	if namespace {
		d.b.WriteString("<" + root + ` xmlns="` + s3Namespace + `">`)
	} else {
		d.b.WriteString("<" + root + ">")
	}
	return d
}
func (d *doc) open(name string)       { d.b.WriteString("<" + name + ">") }
func (d *doc) close(name string)      { d.b.WriteString("</" + name + ">") }
func (d *doc) elem(name, v string)    { writeElement(&d.b, name, v) }
func (d *doc) empty(name string)      { d.b.WriteString("<" + name + "/>") }
func (d *doc) end(root string) string { d.close(root); return d.b.String() }

// userID is how upstream names the caller in Owner elements: "tenant:user".
func (s *s3req) userID() string {
	return s.creds.ProjectName + ":" + s.creds.UserName
}

// s3Time is an S3 XML timestamp of a Swift listing's last_modified, rounded
// up to the second as Last-Modified is.
func s3Time(iso string) string {
	t, err := time.Parse("2006-01-02T15:04:05.999999", iso)
	if err != nil {
		return "2009-02-03T16:45:09.000Z"
	}
	if t.Nanosecond() > 0 {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	return t.UTC().Format("2006-01-02T15:04:05") + ".000Z"
}

// listBuckets is GET Service: the account's containers that are valid
// bucket names (so not the "+segments" ones).
func (s *s3req) listBuckets() *s3Error {
	resp := s.swift(http.MethodGet, "", "", url.Values{"format": {"json"}}, nil, nil, 0)
	var containers []struct {
		Name string `json:"name"`
	}
	if resp.Status == http.StatusNoContent {
		resp.Status = http.StatusOK
	} else if resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &containers) != nil {
		return errInternal()
	}
	if err := s.check(resp, http.MethodGet, "", ""); err != nil {
		return err
	}
	d := newDoc("ListAllMyBucketsResult", true)
	d.open("Owner")
	d.elem("ID", s.userID())
	d.elem("DisplayName", s.userID())
	d.close("Owner")
	d.open("Buckets")
	for _, c := range containers {
		if !validBucketName(c.Name) {
			continue
		}
		d.open("Bucket")
		d.elem("Name", c.Name)
		d.elem("CreationDate", "2009-02-03T16:45:09.000Z") // as upstream: Swift keeps no creation date here
		d.close("Bucket")
	}
	d.close("Buckets")
	return s.writeXML(http.StatusOK, d.end("ListAllMyBucketsResult"))
}

// bucketOp is the bucket controller: HEAD, GET (list objects), PUT, DELETE.
func (s *s3req) bucketOp() *s3Error {
	switch s.r.Method {
	case http.MethodHead:
		resp := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
		if err := s.check(resp, http.MethodHead, s.bucket, ""); err != nil {
			return err
		}
		s.w.Header().Set("Content-Length", "0")
		s.w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodGet:
		return s.listObjects()
	case http.MethodPut:
		return s.createBucket()
	case http.MethodDelete:
		return s.deleteBucket()
	case http.MethodPost:
		return errNotImplemented("")
	}
	return errMethodNotAllowed(s.r.Method, "BUCKET")
}

// readXML reads a request's XML body, at most limit bytes.
func (s *s3req) readXML(limit int64) ([]byte, *s3Error) {
	data, err := io.ReadAll(io.LimitReader(s.r.Body, limit+1))
	if err != nil {
		if s.hashErr != nil {
			return nil, s.hashErr
		}
		return nil, errIncompleteBody("The request body terminated unexpectedly")
	}
	if int64(len(data)) > limit {
		return nil, errMalformedXML()
	}
	return data, nil
}

// createBucket is PUT Bucket: a LocationConstraint must be this endpoint's;
// a canned ACL (x-amz-acl) becomes the container's ACL.
func (s *s3req) createBucket() *s3Error {
	body, err := s.readXML(maxXMLBody)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg struct {
			XMLName  xml.Name `xml:"CreateBucketConfiguration"`
			Location *string  `xml:"LocationConstraint"`
		}
		if xml.Unmarshal(body, &cfg) != nil || cfg.Location == nil {
			return errMalformedXML()
		}
		if loc := *cfg.Location; loc != s.m.opts.Location && loc != strings.ToLower(s.m.opts.Location) {
			return errInvalidLocationConstraint()
		}
	}
	h := http.Header{}
	if err := applyCannedACL(s.r.Header, h); err != nil {
		return err
	}
	resp := s.swift(http.MethodPut, s.bucket, "", nil, h, nil, 0)
	if err := s.check(resp, http.MethodPut, s.bucket, ""); err != nil {
		return err
	}
	s.w.Header().Set("Location", "/"+s.bucket)
	s.w.Header().Set("Content-Length", "0")
	s.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucket is DELETE Bucket: refused while it holds objects; its
// uploads' segments go first, as upstream's _delete_segments_bucket.
func (s *s3req) deleteBucket() *s3Error {
	head := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if head.Status == http.StatusNoContent {
		if n, _ := strconv.Atoi(head.Header.Get("X-Container-Object-Count")); n > 0 {
			return errBucketNotEmpty()
		}
	}
	segments := s.bucket + multiuploadSuffix
	marker := ""
	for {
		resp := s.swift(http.MethodGet, segments, "", url.Values{"format": {"json"}, "marker": {marker}}, nil, nil, 0)
		if resp.Status == http.StatusNotFound {
			break
		}
		var objs []listedObject
		if resp.Status == http.StatusNoContent {
			objs = nil
		} else if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &objs) != nil {
			return errServiceUnavailable()
		}
		for _, o := range objs {
			d := s.swift(http.MethodDelete, segments, o.Name, nil, nil, nil, 0)
			if d.Status >= 300 && d.Status != http.StatusNotFound {
				return errServiceUnavailable()
			}
		}
		if len(objs) == 0 {
			if d := s.swift(http.MethodDelete, segments, "", nil, nil, nil, 0); d.Status >= 300 && d.Status != http.StatusNotFound {
				return errServiceUnavailable()
			}
			break
		}
		marker = objs[len(objs)-1].Name
	}
	resp := s.swift(http.MethodDelete, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(resp, http.MethodDelete, s.bucket, ""); err != nil {
		return err
	}
	s.w.WriteHeader(http.StatusNoContent)
	return nil
}

// listedObject is one row of a Swift JSON listing.
type listedObject struct {
	Name         string `json:"name"`
	Hash         string `json:"hash"`
	Bytes        int64  `json:"bytes"`
	ContentType  string `json:"content_type"`
	LastModified string `json:"last_modified"`
	Subdir       string `json:"subdir"`
	SLOEtag      string `json:"slo_etag"`
	S3Etag       string `json:"s3_etag"`
}

// s3ETag is the ETag a bucket listing shows for the row, as upstream's
// s3api: a multipart upload's S3 ETag (the s3_etag key listingETag made of
// its row's "; s3_etag="), else a static large object's "<slo etag>-N", else
// the MD5.
func (o listedObject) s3ETag() string {
	if o.S3Etag != "" {
		return `"` + strings.Trim(o.S3Etag, `"`) + `"`
	}
	hash, sloEtag := o.Hash, strings.Trim(o.SLOEtag, `"`)
	params := strings.Split(hash, ";")
	for _, p := range params[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "s3_etag":
			return `"` + strings.Trim(v, `"`) + `"`
		case "slo_etag":
			sloEtag = strings.Trim(v, `"`)
		}
	}
	if sloEtag != "" {
		return `"` + sloEtag + `-N"`
	}
	return `"` + strings.Trim(strings.TrimSpace(params[0]), `"`) + `"`
}

// validatedParam is upstream's get_validated_param: a whole number from 0 to
// 2^31-1, capped at limit; def when absent.
func validatedParam(q url.Values, name string, def, limit int) (int, *s3Error) {
	if !q.Has(name) {
		return def, nil
	}
	raw := lastValue(q, name)
	v, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil || v > math.MaxInt32 {
		return 0, errInvalidArgument(name, raw, "Provided "+name+" not an integer or within integer range")
	}
	if v < 0 {
		return 0, errInvalidArgument(name, raw, "Argument "+name+" must be an integer between 0 and 2147483647")
	}
	return min(int(v), limit), nil
}

// listObjects is GET Bucket, ListObjects (v1) and ListObjectsV2
// (list-type=2), as upstream's BucketController.GET.
func (s *s3req) listObjects() *s3Error {
	q := s.q
	tagMaxKeys, err := validatedParam(q, "max-keys", maxBucketListing, math.MaxInt32)
	if err != nil {
		return err
	}
	maxKeys := min(tagMaxKeys, maxBucketListing)
	encoding := ""
	if q.Has("encoding-type") {
		encoding = lastValue(q, "encoding-type")
		if encoding != "url" {
			return errInvalidArgument("encoding-type", encoding, "Invalid Encoding Method specified in Request")
		}
	}
	query := url.Values{"format": {"json"}, "limit": {strconv.Itoa(maxKeys + 1)}}
	for _, p := range []string{"prefix", "delimiter"} {
		if q.Has(p) {
			query.Set(p, lastValue(q, p))
		}
	}
	listType := 1
	if q.Has("list-type") {
		lt, perr := strconv.Atoi(lastValue(q, "list-type"))
		if perr != nil {
			return errInvalidArgument("list-type", lastValue(q, "list-type"), "Argument list-type must be an integer")
		}
		listType = lt
	}
	fetchOwner := false
	if listType == 2 {
		if q.Has("start-after") {
			query.Set("marker", lastValue(q, "start-after"))
		}
		if q.Has("continuation-token") {
			token := lastValue(q, "continuation-token")
			decoded, derr := base64.StdEncoding.DecodeString(token)
			if derr != nil || !isUTF8(decoded) {
				return errInvalidArgument("continuation-token", url.PathEscape(token), "The continuation token provided is incorrect")
			}
			query.Set("marker", string(decoded))
		}
		if v := strings.ToLower(lastValue(q, "fetch-owner")); v == "true" || v == "1" || v == "yes" || v == "on" || v == "t" || v == "y" {
			fetchOwner = true
		}
	} else if q.Has("marker") {
		query.Set("marker", lastValue(q, "marker"))
	}
	resp := s.swift(http.MethodGet, s.bucket, "", query, nil, nil, 0)
	if err := s.check(resp, http.MethodGet, s.bucket, ""); err != nil {
		return err
	}
	var objects []listedObject
	if resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &objects) != nil {
		return errInternal()
	}
	truncated := maxKeys > 0 && len(objects) > maxKeys
	if len(objects) > maxKeys {
		objects = objects[:maxKeys]
	}
	enc := func(v string) string {
		if encoding == "url" {
			return quotePath(v)
		}
		return v
	}
	d := newDoc("ListBucketResult", true)
	d.elem("Name", s.bucket)
	if q.Has("prefix") {
		d.elem("Prefix", enc(lastValue(q, "prefix")))
	} else {
		d.empty("Prefix")
	}
	last := func() string {
		o := objects[len(objects)-1]
		if o.Subdir != "" {
			return o.Subdir
		}
		return o.Name
	}
	if listType == 2 {
		if truncated {
			d.elem("NextContinuationToken", base64.StdEncoding.EncodeToString([]byte(last())))
		}
		if q.Has("continuation-token") {
			d.elem("ContinuationToken", lastValue(q, "continuation-token"))
		}
		if q.Has("start-after") {
			d.elem("StartAfter", enc(lastValue(q, "start-after")))
		}
		d.elem("KeyCount", strconv.Itoa(len(objects)))
	} else {
		if q.Has("marker") {
			d.elem("Marker", enc(lastValue(q, "marker")))
		} else {
			d.empty("Marker")
		}
		if truncated && q.Has("delimiter") {
			d.elem("NextMarker", enc(last()))
		}
	}
	d.elem("MaxKeys", strconv.Itoa(tagMaxKeys))
	if v := lastValue(q, "delimiter"); v != "" {
		d.elem("Delimiter", enc(v))
	}
	if encoding == "url" {
		d.elem("EncodingType", "url")
	}
	d.elem("IsTruncated", strconv.FormatBool(truncated))
	for _, o := range objects {
		if o.Subdir != "" {
			d.open("CommonPrefixes")
			d.elem("Prefix", enc(o.Subdir))
			d.close("CommonPrefixes")
			continue
		}
		d.open("Contents")
		d.elem("Key", enc(o.Name))
		d.elem("LastModified", s3Time(o.LastModified))
		d.elem("ETag", o.s3ETag())
		d.elem("Size", strconv.FormatInt(o.Bytes, 10))
		if fetchOwner || listType != 2 {
			d.open("Owner")
			d.elem("ID", s.userID())
			d.elem("DisplayName", s.userID())
			d.close("Owner")
		}
		d.elem("StorageClass", "STANDARD")
		d.close("Contents")
	}
	return s.writeXML(http.StatusOK, d.end("ListBucketResult"))
}

// quotePath is Python's quote(): all but unreserved characters and '/'.
func quotePath(s string) string { return uriEncode(s, true) }

func isUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// location is GET Bucket location: empty for us-east-1, as S3.
func (s *s3req) location() *s3Error {
	resp := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(resp, http.MethodHead, s.bucket, ""); err != nil {
		return err
	}
	d := &doc{}
	d.b.WriteString(xmlDeclaration)
	if s.m.opts.Location == "us-east-1" {
		d.b.WriteString(`<LocationConstraint xmlns="` + s3Namespace + `"/>`)
	} else {
		d.b.WriteString(`<LocationConstraint xmlns="` + s3Namespace + `">`)
		writeElementText(&d.b, s.m.opts.Location)
		d.b.WriteString("</LocationConstraint>")
	}
	return s.writeXML(http.StatusOK, d.b.String())
}

func writeElementText(b *strings.Builder, v string) { b.WriteString(escapeText(v)) }

// versioning answers GET ?versioning as upstream without versioning: no
// Status; PUT is not implemented here.
func (s *s3req) versioning() *s3Error {
	if s.key != "" {
		return errMethodNotAllowed(s.r.Method, "OBJECT")
	}
	if s.r.Method != http.MethodGet {
		return errNotImplemented("")
	}
	resp := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(resp, http.MethodHead, s.bucket, ""); err != nil {
		return err
	}
	return s.writeXML(http.StatusOK, xmlDeclaration+`<VersioningConfiguration xmlns="`+s3Namespace+`"/>`)
}
