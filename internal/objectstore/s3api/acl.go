package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// Canned ACLs, as upstream's swift_acl_translate maps them without s3_acl:
// Swift has no per-object ACLs, so they apply to buckets (container ACLs),
// and "private" leaves only the owner (an ACL of "." matches nobody).
var cannedACLs = map[string][][2]string{
	"public-read":               {{"X-Container-Read", ".r:*,.rlistings"}},
	"public-read-write":         {{"X-Container-Write", ".r:*"}, {"X-Container-Read", ".r:*,.rlistings"}},
	"private":                   {{"X-Container-Write", "."}, {"X-Container-Read", "."}},
	"bucket-owner-full-control": {{"X-Container-Write", "."}, {"X-Container-Read", "."}},
	"bucket-owner-read":         {{"X-Container-Write", "."}, {"X-Container-Read", "."}},
}

// translateACL is swift_acl_translate: the container headers of a canned ACL.
func translateACL(acl string) ([][2]string, *s3Error) {
	if acl == "authenticated-read" || acl == "log-delivery-write" {
		return nil, errNotImplemented("")
	}
	h, ok := cannedACLs[acl]
	if !ok {
		return nil, errInvalidArgument("x-amz-acl", acl, "")
	}
	return h, nil
}

// applyCannedACL sets dst's container ACL headers from src's x-amz-acl.
func applyCannedACL(src, dst http.Header) *s3Error {
	acl, ok := src["X-Amz-Acl"]
	if !ok {
		return nil
	}
	hs, err := translateACL(acl[0])
	if err != nil {
		return err
	}
	for _, h := range hs {
		dst.Set(h[0], h[1])
	}
	return nil
}

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

// accessControlPolicy is the body of PUT ?acl.
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Grants  []struct {
		Grantee *struct {
			Type string `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
		} `xml:"Grantee"`
		Permission *string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// aclFromXML is swift_acl_translate(xml=True): the canned ACL a policy
// amounts to, as upstream reads it.
func aclFromXML(body []byte) (string, *s3Error) {
	var p accessControlPolicy
	if xml.Unmarshal(body, &p) != nil {
		return "", errMalformedACL()
	}
	acl := "unknown"
	for _, g := range p.Grants {
		if g.Permission == nil || g.Grantee == nil {
			return "", errMalformedACL()
		}
		perm, typ := *g.Permission, g.Grantee.Type
		switch {
		case perm == "FULL_CONTROL" && typ == "CanonicalUser" && acl != "public-read" && acl != "public-read-write":
			acl = "private"
		case perm == "READ" && typ == "Group" && acl != "public-read-write":
			acl = "public-read"
		case perm == "WRITE" && typ == "Group":
			acl = "public-read-write"
		default:
			acl = "unsupported"
		}
	}
	return acl, nil
}

// acl is GET and PUT ?acl on a bucket or an object.
func (s *s3req) acl() *s3Error {
	switch s.r.Method {
	case http.MethodGet:
		resp := s.swift(http.MethodHead, s.bucket, s.key, nil, nil, nil, 0)
		if err := s.check(resp, http.MethodHead, s.bucket, s.key); err != nil {
			return err
		}
		return s.writeACL(resp.Header)
	case http.MethodPut:
		if s.key != "" {
			return errNotImplemented("")
		}
		body, err := s.readXML(maxXMLBody)
		if err != nil {
			return err
		}
		_, hasHeader := s.r.Header["X-Amz-Acl"]
		hasBody := len(strings.TrimSpace(string(body))) > 0
		switch {
		case hasHeader && hasBody:
			return errUnexpectedContent()
		case !hasHeader && !hasBody:
			return errMissingSecurityHeader("x-amz-acl")
		}
		h := http.Header{}
		if hasBody {
			acl, err := aclFromXML(body)
			if err != nil {
				return err
			}
			hs, terr := translateACL(acl)
			if terr != nil {
				if terr.Code == "InvalidArgument" {
					return errMalformedACL()
				}
				return terr
			}
			for _, kv := range hs {
				h.Set(kv[0], kv[1])
			}
		} else if err := applyCannedACL(s.r.Header, h); err != nil {
			return err
		}
		resp := s.swift(http.MethodPost, s.bucket, "", nil, h, nil, 0)
		if err := s.check(resp, http.MethodPost, s.bucket, ""); err != nil {
			return err
		}
		s.w.Header().Set("Location", s.bucket)
		s.w.Header().Set("Content-Length", "0")
		s.w.WriteHeader(http.StatusOK)
		return nil
	}
	return errMethodNotAllowed(s.r.Method, "ACL")
}

// writeACL is upstream's get_acl: the owner's FULL_CONTROL, and AllUsers'
// READ or WRITE when the container's ACL lets anyone (.r:*) in.
func (s *s3req) writeACL(h http.Header) *s3Error {
	owner := s.userID()
	d := newDoc("AccessControlPolicy", true)
	d.open("Owner")
	d.elem("ID", owner)
	d.elem("DisplayName", owner)
	d.close("Owner")
	d.open("AccessControlList")
	grant := func(typ, inner, perm string) {
		d.open("Grant")
		d.b.WriteString(`<Grantee xmlns:xsi="` + xsiNamespace + `" xsi:type="` + typ + `">`)
		d.b.WriteString(inner)
		d.close("Grantee")
		d.elem("Permission", perm)
		d.close("Grant")
	}
	var ib strings.Builder
	writeElement(&ib, "ID", owner)
	writeElement(&ib, "DisplayName", owner)
	grant("CanonicalUser", ib.String(), "FULL_CONTROL")
	allUsers := "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"
	if anyoneAllowed(h.Get("X-Container-Read")) {
		grant("Group", allUsers, "READ")
	}
	if anyoneAllowed(h.Get("X-Container-Write")) {
		grant("Group", allUsers, "WRITE")
	}
	d.close("AccessControlList")
	body := d.end("AccessControlPolicy")
	hd := s.w.Header()
	hd.Set("Content-Type", "text/plain") // as upstream's get_acl
	hd.Set("Content-Length", itoa(len(body)))
	s.w.WriteHeader(http.StatusOK)
	_, _ = s.w.Write([]byte(body))
	return nil
}

// anyoneAllowed is referrer_allowed('unknown', referrers) of an ACL: a
// ".r:*" (or ".r:unknown") item not refused later by a ".r:-" one.
func anyoneAllowed(acl string) bool {
	allowed := false
	for _, item := range strings.Split(acl, ",") {
		item = strings.TrimSpace(item)
		ref, ok := strings.CutPrefix(item, ".r:")
		if !ok {
			ref, ok = strings.CutPrefix(item, ".referrer:")
		}
		if !ok {
			continue
		}
		deny := strings.HasPrefix(ref, "-")
		ref = strings.TrimPrefix(ref, "-")
		if ref == "*" || ref == "unknown" {
			allowed = !deny
		}
	}
	return allowed
}
