package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
)

// deleteRequest is the body of POST ?delete (DeleteObjects).
type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   string   `xml:"Quiet"`
	Objects []struct {
		Key       *string `xml:"Key"`
		VersionID string  `xml:"VersionId"`
	} `xml:"Object"`
}

// multiDelete is DeleteObjects, as upstream's MultiObjectDeleteController:
// each key deleted as its own request with the caller's rights; a key that
// is not there counts as deleted.
func (s *s3req) multiDelete() *s3Error {
	body, err := s.readXML(maxXMLBody)
	if err != nil {
		return err
	}
	if v := headerStrip(s.r.Header.Get("Content-Md5")); v != "" {
		sum := md5.Sum(body)
		if base64.StdEncoding.EncodeToString(sum[:]) != v {
			return errBadDigest()
		}
	} else if !hasChecksumHeader(s.r.Header) {
		return errInvalidRequest("Missing required header for this request: Content-MD5")
	}
	var req deleteRequest
	if xml.Unmarshal(body, &req) != nil || len(req.Objects) == 0 || len(req.Objects) > maxMultiDeleteObjects {
		return errMalformedXML()
	}
	for _, o := range req.Objects {
		if o.Key == nil {
			return errMalformedXML()
		}
	}
	quiet := strings.EqualFold(strings.TrimSpace(req.Quiet), "true")
	head := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
	if err := s.check(head, http.MethodHead, s.bucket, ""); err != nil {
		return err
	}
	d := newDoc("DeleteResult", true)
	for _, o := range req.Objects {
		key := *o.Key
		var derr *s3Error
		switch {
		case o.VersionID != "" && o.VersionID != "null":
			derr = newError(http.StatusNotFound, "NoSuchVersion", "The specified version does not exist.")
		default:
			resp := s.deleteObjectAndSegments(s.bucket, key)
			if resp.Status != http.StatusNotFound {
				derr = s.check(resp, http.MethodDelete, s.bucket, key)
			}
		}
		if derr != nil {
			d.open("Error")
			d.elem("Key", key)
			d.elem("Code", derr.Code)
			d.elem("Message", derr.Message)
			d.close("Error")
			continue
		}
		if !quiet {
			d.open("Deleted")
			d.elem("Key", key)
			d.close("Deleted")
		}
	}
	return s.writeXML(http.StatusOK, d.end("DeleteResult"))
}

// hasChecksumHeader reports an x-amz-checksum-* value header, which newer
// SDKs send instead of Content-MD5.
func hasChecksumHeader(h http.Header) bool {
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-checksum-") && lk != "x-amz-checksum-algorithm" && lk != "x-amz-checksum-type" {
			return true
		}
	}
	return false
}
