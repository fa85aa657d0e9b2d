package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Multipart uploads, as upstream's multi_upload.py: an upload is a marker
// object "<key>/<upload id>" in "<bucket>+segments" (carrying the content
// type and metadata the upload began with), its parts are objects
// "<key>/<upload id>/<part>" beside it, and Complete writes the manifest that
// joins them, with the S3 ETag (the MD5 of the parts' MD5s, "-<count>") kept
// in its system metadata. Unlike upstream ("<key>/<upload id>/<n>"), parts
// are named with five digits so that their listing is in part order, which
// ListParts and Complete page through by part number; the SLO manifest
// names each part, so readers do not depend on the names.

// newUploadID is upstream's unique_id: the URL-safe base64 of a random UUID.
func newUploadID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	u := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	return base64.URLEncoding.EncodeToString([]byte(u))
}

// partName is a part's object name in the segments container.
func partName(key, uploadID string, part int) string {
	return fmt.Sprintf("%s/%s/%05d", key, uploadID, part)
}

// uploads is POST ?uploads (CreateMultipartUpload) and GET ?uploads
// (ListMultipartUploads).
func (s *s3req) uploads() *s3Error {
	switch {
	case s.r.Method == http.MethodPost && s.key != "":
		return s.createUpload()
	case s.r.Method == http.MethodGet && s.key == "":
		return s.listUploads()
	}
	return errMethodNotAllowed(s.r.Method, "UPLOADS")
}

// upload is ListParts (GET), CompleteMultipartUpload (POST) and
// AbortMultipartUpload (DELETE) of ?uploadId.
func (s *s3req) upload() *s3Error {
	if s.key == "" {
		return errMethodNotAllowed(s.r.Method, "UPLOAD")
	}
	switch s.r.Method {
	case http.MethodGet:
		return s.listParts()
	case http.MethodPost:
		return s.completeUpload()
	case http.MethodDelete:
		return s.abortUpload()
	}
	return errMethodNotAllowed(s.r.Method, "UPLOAD")
}

// createUpload makes the segments container if needed and the upload's marker.
func (s *s3req) createUpload() *s3Error {
	if len(s.key) > 1024 {
		return errKeyTooLong()
	}
	head := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(head, http.MethodHead, s.bucket, ""); err != nil {
		return err
	}
	h, err := swiftObjectHeaders(s.r.Header)
	if err != nil {
		return err
	}
	h.Del("Etag")
	segments := s.bucket + multiuploadSuffix
	if resp := s.swift(http.MethodPut, segments, "", nil, nil, nil, 0); resp.Status != http.StatusCreated && resp.Status != http.StatusAccepted {
		return s.swiftError(resp.Status, resp.Body, http.MethodPut, segments, "")
	}
	uploadID := newUploadID()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	resp := s.swift(http.MethodPut, segments, s.key+"/"+uploadID, nil, h, nil, 0)
	if err := s.check(resp, http.MethodPut, segments, s.key+"/"+uploadID); err != nil {
		return err
	}
	d := newDoc("InitiateMultipartUploadResult", true)
	d.elem("Bucket", s.bucket)
	d.elem("Key", s.key)
	d.elem("UploadId", uploadID)
	return s.writeXML(http.StatusOK, d.end("InitiateMultipartUploadResult"))
}

// uploadMarker HEADs the upload's marker: NoSuchUpload when it is not there.
func (s *s3req) uploadMarker(uploadID string) (*swiftResp, *s3Error) {
	if uploadID == "" || strings.Contains(uploadID, "/") {
		return nil, errNoSuchUpload(uploadID)
	}
	resp := s.swift(http.MethodHead, s.bucket+multiuploadSuffix, s.key+"/"+uploadID, nil, nil, nil, 0)
	if resp.Status == http.StatusNotFound {
		if !s.containerExists(s.bucket) {
			return nil, errNoSuchBucket(s.bucket)
		}
		return nil, errNoSuchUpload(uploadID)
	}
	if err := s.check(resp, http.MethodHead, s.bucket+multiuploadSuffix, s.key+"/"+uploadID); err != nil {
		return nil, err
	}
	return resp, nil
}

// partNumber reads partNumber: 1 to maxUploadPartNum.
func partNumber(q url.Values) (int, *s3Error) {
	raw := lastValue(q, "partNumber")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxUploadPartNum {
		return 0, errInvalidArgument("partNumber", raw,
			fmt.Sprintf("Part number must be an integer between 1 and %d, inclusive", maxUploadPartNum))
	}
	return n, nil
}

// uploadPart is UploadPart (and UploadPartCopy with x-amz-copy-source).
func (s *s3req) uploadPart() *s3Error {
	if !s.q.Has("uploadId") {
		return errInvalidArgument("ResourceType", "partNumber", "Unexpected query string parameter")
	}
	n, err := partNumber(s.q)
	if err != nil {
		return err
	}
	uploadID := lastValue(s.q, "uploadId")
	if _, err := s.uploadMarker(uploadID); err != nil {
		return err
	}
	segments, name := s.bucket+multiuploadSuffix, partName(s.key, uploadID, n)
	if s.r.Header.Get("X-Amz-Copy-Source") != "" {
		return s.copyObject(segments, name)
	}
	if s.r.ContentLength < 0 {
		return errMissingContentLength()
	}
	h := http.Header{}
	if v := s.r.Header.Get("Content-Md5"); v != "" {
		etag, err := contentMD5ETag(v)
		if err != nil {
			return err
		}
		h.Set("Etag", etag)
	}
	resp := s.swift(http.MethodPut, segments, name, nil, h, s.r.Body, s.r.ContentLength)
	if resp.Status == http.StatusNotFound {
		return errNoSuchUpload(uploadID)
	}
	if err := s.check(resp, http.MethodPut, segments, name); err != nil {
		return err
	}
	s.w.Header().Set("Etag", `"`+strings.Trim(resp.Header.Get("Etag"), `"`)+`"`)
	s.w.Header().Set("Content-Length", "0")
	s.w.WriteHeader(http.StatusOK)
	return nil
}

// uploadedPart is a part as the segments listing shows it.
type uploadedPart struct {
	Number int
	listedObject
}

// listUploadParts lists the upload's parts in part order, from after marker.
func (s *s3req) listUploadParts(uploadID string, marker, limit int) ([]uploadedPart, *s3Error) {
	prefix := s.key + "/" + uploadID + "/"
	query := url.Values{"format": {"json"}, "prefix": {prefix}, "limit": {strconv.Itoa(limit)}}
	if marker > 0 {
		query.Set("marker", partName(s.key, uploadID, marker))
	}
	resp := s.swift(http.MethodGet, s.bucket+multiuploadSuffix, "", query, nil, nil, 0)
	if resp.Status == http.StatusNoContent {
		return nil, nil
	}
	if err := s.check(resp, http.MethodGet, s.bucket+multiuploadSuffix, ""); err != nil {
		return nil, err
	}
	var objs []listedObject
	if json.Unmarshal(resp.Body, &objs) != nil {
		return nil, errInternal()
	}
	var parts []uploadedPart
	for _, o := range objs {
		n, err := strconv.Atoi(strings.TrimPrefix(o.Name, prefix))
		if err != nil || n < 1 {
			continue
		}
		parts = append(parts, uploadedPart{Number: n, listedObject: o})
	}
	return parts, nil
}

// listParts is ListParts.
func (s *s3req) listParts() *s3Error {
	uploadID := lastValue(s.q, "uploadId")
	if _, err := s.uploadMarker(uploadID); err != nil {
		return err
	}
	maxParts, err := validatedParam(s.q, "max-parts", maxPartsListing, maxPartsListing)
	if err != nil {
		return err
	}
	marker, err := validatedParam(s.q, "part-number-marker", 0, maxUploadPartNum)
	if err != nil {
		return err
	}
	parts, err := s.listUploadParts(uploadID, marker, maxParts+1)
	if err != nil {
		return err
	}
	truncated := len(parts) > maxParts
	if truncated {
		parts = parts[:maxParts]
	}
	d := newDoc("ListPartsResult", true)
	d.elem("Bucket", s.bucket)
	d.elem("Key", s.key)
	d.elem("UploadId", uploadID)
	for _, who := range []string{"Initiator", "Owner"} {
		d.open(who)
		d.elem("ID", s.userID())
		d.elem("DisplayName", s.userID())
		d.close(who)
	}
	d.elem("StorageClass", "STANDARD")
	d.elem("PartNumberMarker", strconv.Itoa(marker))
	next := marker
	if len(parts) > 0 {
		next = parts[len(parts)-1].Number
	}
	d.elem("NextPartNumberMarker", strconv.Itoa(next))
	d.elem("MaxParts", strconv.Itoa(maxParts))
	d.elem("IsTruncated", strconv.FormatBool(truncated))
	for _, p := range parts {
		d.open("Part")
		d.elem("PartNumber", strconv.Itoa(p.Number))
		d.elem("LastModified", s3Time(p.LastModified))
		d.elem("ETag", `"`+p.Hash+`"`)
		d.elem("Size", strconv.FormatInt(p.Bytes, 10))
		d.close("Part")
	}
	return s.writeXML(http.StatusOK, d.end("ListPartsResult"))
}

// abortUpload deletes the upload's parts and its marker.
func (s *s3req) abortUpload() *s3Error {
	uploadID := lastValue(s.q, "uploadId")
	if _, err := s.uploadMarker(uploadID); err != nil {
		return err
	}
	if err := s.deleteParts(uploadID, nil); err != nil {
		return err
	}
	s.swift(http.MethodDelete, s.bucket+multiuploadSuffix, s.key+"/"+uploadID, nil, nil, nil, 0)
	s.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteParts deletes the upload's parts but those kept.
func (s *s3req) deleteParts(uploadID string, keep map[int]bool) *s3Error {
	marker := 0
	for {
		parts, err := s.listUploadParts(uploadID, marker, 1000)
		if err != nil {
			return err
		}
		if len(parts) == 0 {
			return nil
		}
		for _, p := range parts {
			if keep[p.Number] {
				continue
			}
			resp := s.swift(http.MethodDelete, s.bucket+multiuploadSuffix, p.Name, nil, nil, nil, 0)
			if resp.Status >= 300 && resp.Status != http.StatusNotFound {
				return errServiceUnavailable()
			}
		}
		marker = parts[len(parts)-1].Number
	}
}

// completeRequest is CompleteMultipartUpload's body.
type completeRequest struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber *int   `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

// multipartETag is S3's ETag of a multipart upload: the MD5 of its parts'
// binary MD5s, then "-" and their count.
func multipartETag(partETags []string) (string, bool) {
	h := md5.New()
	for _, e := range partETags {
		raw, err := hex.DecodeString(strings.Trim(e, `"`))
		if err != nil || len(raw) != md5.Size {
			return "", false
		}
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(h.Sum(nil)), len(partETags)), true
}

// completeUpload checks the parts the client names (ascending, present, with
// their ETags, all but the last at least min_segment_size), deletes the
// others, and writes the manifest.
func (s *s3req) completeUpload() *s3Error {
	uploadID := lastValue(s.q, "uploadId")
	marker, err := s.uploadMarker(uploadID)
	if err != nil {
		return err
	}
	body, err := s.readXML(maxXMLBody)
	if err != nil {
		return err
	}
	var req completeRequest
	if xml.Unmarshal(body, &req) != nil || len(req.Parts) == 0 {
		return errMalformedXML()
	}
	uploaded := map[int]uploadedPart{}
	last := 0
	for {
		parts, err := s.listUploadParts(uploadID, last, 1000)
		if err != nil {
			return err
		}
		if len(parts) == 0 {
			break
		}
		for _, p := range parts {
			uploaded[p.Number] = p
		}
		last = parts[len(parts)-1].Number
	}
	prev := 0
	for _, p := range req.Parts {
		if p.PartNumber == nil {
			return errMalformedXML()
		}
		if *p.PartNumber <= prev {
			return errInvalidPartOrder()
		}
		prev = *p.PartNumber
	}
	keep := map[int]bool{}
	var etags []string
	var named []uploadedPart
	for i, p := range req.Parts {
		n := *p.PartNumber
		up, ok := uploaded[n]
		if !ok || strings.Trim(strings.TrimSpace(p.ETag), `"`) != up.Hash {
			return errInvalidPart().with("UploadId", uploadID).with("PartNumber", strconv.Itoa(n))
		}
		if i < len(req.Parts)-1 && up.Bytes < minSegmentSize {
			return errEntityTooSmall()
		}
		keep[n] = true
		etags = append(etags, up.Hash)
		named = append(named, up)
	}
	s3ETag, ok := multipartETag(etags)
	if !ok {
		return errInternal()
	}
	if err := s.deleteParts(uploadID, keep); err != nil {
		return err
	}
	if err := s.writeManifest(uploadID, s3ETag, named, marker.Header); err != nil {
		return err
	}
	s.swift(http.MethodDelete, s.bucket+multiuploadSuffix, s.key+"/"+uploadID, nil, nil, nil, 0)
	scheme := "http"
	if s.r.TLS != nil {
		scheme = "https"
	}
	d := newDoc("CompleteMultipartUploadResult", true)
	d.elem("Location", scheme+"://"+s.r.Host+rawPath(s.r))
	d.elem("Bucket", s.bucket)
	d.elem("Key", s.key)
	d.elem("ETag", `"`+s3ETag+`"`)
	return s.writeXML(http.StatusOK, d.end("CompleteMultipartUploadResult"))
}

// writeManifest writes the object that joins the upload's parts as
// upstream's s3api does: a static large object manifest PUT
// (?multipart-manifest=put) naming the parts in order with their ETags and
// sizes, the S3 ETag and upload id in system metadata, and the listing ETag
// override "; s3_etag=<S3 ETag>" to which SLO prepends its own values (the
// listing size is SLO's). The parts were checked above, so an SLO refusal
// here means a part changed meanwhile: InvalidPart, as upstream maps it.
// Upstream asks SLO for a heartbeat and passes its spaces on after 10 s;
// Nimbus's in-process subrequests are buffered and the segment HEADs run in
// parallel, so the answer comes whole.
func (s *s3req) writeManifest(uploadID, s3ETag string, parts []uploadedPart, marker http.Header) *s3Error {
	h := http.Header{}
	for k, v := range marker {
		if strings.HasPrefix(k, "X-Object-Meta-") {
			h[k] = v
		}
	}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language",
		"Cache-Control", "Expires"} {
		if v := marker.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	type segment struct {
		Path      string `json:"path"`
		Etag      string `json:"etag"`
		SizeBytes int64  `json:"size_bytes"`
	}
	manifest := make([]segment, len(parts))
	for i, p := range parts {
		manifest[i] = segment{Path: "/" + s.bucket + multiuploadSuffix + "/" + p.Name, Etag: p.Hash, SizeBytes: p.Bytes}
	}
	body, jerr := json.Marshal(manifest)
	if jerr != nil {
		return errInternal()
	}
	h.Set("Accept", "application/json")
	h.Set(sysmetaETag, s3ETag)
	h.Set(sysmetaUploadID, uploadID)
	h.Set("X-Object-Sysmeta-Container-Update-Override-Etag", "; s3_etag="+s3ETag)
	resp := s.swift(http.MethodPut, s.bucket, s.key, url.Values{"multipart-manifest": {"put"}}, h,
		bytes.NewReader(body), int64(len(body)))
	if resp.Status == http.StatusBadRequest {
		return errInvalidPart().with("UploadId", uploadID)
	}
	return s.check(resp, http.MethodPut, s.bucket, s.key)
}

// deleteObjectAndSegments deletes bucket/key the way upstream's s3api deletes
// an object (gen_multipart_manifest_delete_query): a static large object
// goes with its segments (?multipart-manifest=delete); the DLO manifest of
// an upload completed before Nimbus wrote SLOs has its parts deleted first.
// It answers Swift's response to the object DELETE.
func (s *s3req) deleteObjectAndSegments(bucket, key string) *swiftResp {
	head := s.swift(http.MethodHead, bucket, key, url.Values{"multipart-manifest": {"get"}, "symlink": {"get"}}, nil, nil, 0)
	if head.Status == http.StatusOK && strings.EqualFold(head.Header.Get("X-Static-Large-Object"), "true") {
		resp := s.swift(http.MethodDelete, bucket, key, url.Values{"multipart-manifest": {"delete"}},
			http.Header{"Accept": {"application/json"}}, nil, 0)
		if resp.Status != http.StatusOK {
			return resp
		}
		var result struct {
			Status   string `json:"Response Status"`
			NotFound int    `json:"Number Not Found"`
			Deleted  int    `json:"Number Deleted"`
		}
		if json.Unmarshal(resp.Body, &result) != nil {
			return &swiftResp{Status: http.StatusServiceUnavailable, Header: http.Header{}}
		}
		code, _, _ := strings.Cut(result.Status, " ")
		status, _ := strconv.Atoi(code)
		switch {
		case status/100 == 2 && result.Deleted == 0 && result.NotFound > 0:
			status = http.StatusNotFound
		case status/100 == 2:
			status = http.StatusNoContent
		case status == 0:
			status = http.StatusServiceUnavailable
		}
		return &swiftResp{Status: status, Header: resp.Header, Body: resp.Body}
	}
	if uploadID := head.Header.Get(sysmetaUploadID); head.Status == http.StatusOK && uploadID != "" &&
		head.Header.Get("X-Object-Manifest") != "" {
		saved := s.key
		s.key = key
		_ = s.deleteParts(uploadID, nil)
		s.key = saved
	}
	return s.swift(http.MethodDelete, bucket, key, nil, nil, nil, 0)
}

// listUploads is ListMultipartUploads: the markers in the segments container.
func (s *s3req) listUploads() *s3Error {
	maxUploads, err := validatedParam(s.q, "max-uploads", 1000, 1000)
	if err != nil {
		return err
	}
	head := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(head, http.MethodHead, s.bucket, ""); err != nil {
		return err
	}
	prefix, keyMarker := lastValue(s.q, "prefix"), lastValue(s.q, "key-marker")
	type upload struct{ Key, ID, Initiated string }
	var uploads []upload
	marker := keyMarker
	for len(uploads) <= maxUploads {
		query := url.Values{"format": {"json"}, "prefix": {prefix}, "marker": {marker}}
		resp := s.swift(http.MethodGet, s.bucket+multiuploadSuffix, "", query, nil, nil, 0)
		var objs []listedObject
		if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &objs) != nil || len(objs) == 0 {
			break
		}
		for _, o := range objs {
			i := strings.LastIndexByte(o.Name, '/')
			if i < 0 {
				continue
			}
			if _, err := strconv.Atoi(o.Name[i+1:]); err == nil {
				continue // a part
			}
			uploads = append(uploads, upload{Key: o.Name[:i], ID: o.Name[i+1:], Initiated: s3Time(o.LastModified)})
		}
		marker = objs[len(objs)-1].Name
	}
	truncated := len(uploads) > maxUploads
	if truncated {
		uploads = uploads[:maxUploads]
	}
	d := newDoc("ListMultipartUploadsResult", true)
	d.elem("Bucket", s.bucket)
	d.elem("KeyMarker", keyMarker)
	d.elem("UploadIdMarker", lastValue(s.q, "upload-id-marker"))
	if len(uploads) > 0 {
		d.elem("NextKeyMarker", uploads[len(uploads)-1].Key)
		d.elem("NextUploadIdMarker", uploads[len(uploads)-1].ID)
	}
	if prefix != "" {
		d.elem("Prefix", prefix)
	}
	d.elem("MaxUploads", strconv.Itoa(maxUploads))
	d.elem("IsTruncated", strconv.FormatBool(truncated))
	for _, u := range uploads {
		d.open("Upload")
		d.elem("Key", u.Key)
		d.elem("UploadId", u.ID)
		for _, who := range []string{"Initiator", "Owner"} {
			d.open(who)
			d.elem("ID", s.userID())
			d.elem("DisplayName", s.userID())
			d.close(who)
		}
		d.elem("StorageClass", "STANDARD")
		d.elem("Initiated", u.Initiated)
		d.close("Upload")
	}
	return s.writeXML(http.StatusOK, d.end("ListMultipartUploadsResult"))
}
