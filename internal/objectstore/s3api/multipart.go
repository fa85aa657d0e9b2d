package s3api

import (
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
// in its system metadata. Unlike upstream, parts are named with five digits
// so that their names sort in part order (see writeManifest).

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
	var size int64
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
		size += up.Bytes
	}
	s3ETag, ok := multipartETag(etags)
	if !ok {
		return errInternal()
	}
	if err := s.deleteParts(uploadID, keep); err != nil {
		return err
	}
	if err := s.writeManifest(uploadID, s3ETag, size, marker.Header); err != nil {
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

// writeManifest writes the object that joins the upload's parts: upstream
// writes a static large object manifest; Nimbus writes a dynamic one over
// the upload's part prefix (only the named parts are left under it, and
// their five-digit names sort in part order), keeping the S3 ETag and the
// upload id in system metadata, and its container listing row showing the
// upload's size and S3 ETag (container update overrides, as upstream's).
// This is the one place to switch to SLO.
func (s *s3req) writeManifest(uploadID, s3ETag string, size int64, marker http.Header) *s3Error {
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
	h.Set("X-Object-Manifest", uriEncode(s.bucket+multiuploadSuffix+"/"+s.key+"/"+uploadID+"/", true))
	h.Set(sysmetaETag, s3ETag)
	h.Set(sysmetaUploadID, uploadID)
	h.Set("X-Object-Sysmeta-Container-Update-Override-Size", strconv.FormatInt(size, 10))
	h.Set("X-Object-Sysmeta-Container-Update-Override-Etag", s3ETag)
	resp := s.swift(http.MethodPut, s.bucket, s.key, nil, h, nil, 0)
	return s.check(resp, http.MethodPut, s.bucket, s.key)
}

// deleteUploadSegments deletes the parts of a completed upload whose
// manifest is bucket/key (before the manifest itself is deleted or
// replaced), as upstream's multipart-manifest=delete does for its SLOs.
func (s *s3req) deleteUploadSegments(bucket, key string) {
	resp := s.swift(http.MethodHead, bucket, key, url.Values{"multipart-manifest": {"get"}}, nil, nil, 0)
	uploadID := resp.Header.Get(sysmetaUploadID)
	if resp.Status != http.StatusOK || uploadID == "" || resp.Header.Get("X-Object-Manifest") == "" {
		return
	}
	saved := s.key
	s.key = key
	_ = s.deleteParts(uploadID, nil)
	s.key = saved
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
