package s3api

import "net/http"

// Sub-resources upstream answers without implementing them: tagging (an
// empty tag set), logging (no status) and object lock (no configuration).

// tagging is GET/PUT/DELETE ?tagging on a bucket or an object: the aws CLI
// reads an object's tags before copying it.
func (s *s3req) tagging() *s3Error {
	switch s.r.Method {
	case http.MethodGet:
		return s.writeXML(http.StatusOK, xmlDeclaration+`<Tagging xmlns="`+s3Namespace+`"><TagSet/></Tagging>`)
	case http.MethodPut, http.MethodDelete:
		return errNotImplemented("The requested resource is not implemented")
	}
	return errMethodNotAllowed(s.r.Method, "TAGGING")
}

// logging is ?logging on a bucket.
func (s *s3req) logging() *s3Error {
	if s.key != "" {
		return newError(http.StatusBadRequest, "NoLoggingStatusForKey",
			"There is no such thing as a logging status sub-resource for a key.")
	}
	switch s.r.Method {
	case http.MethodGet:
		resp := s.swift(http.MethodHead, s.bucket, "", nil, nil, nil, 0)
		if err := s.check(resp, http.MethodHead, s.bucket, ""); err != nil {
			return err
		}
		return s.writeXML(http.StatusOK, xmlDeclaration+`<BucketLoggingStatus xmlns="`+s3Namespace+`"/>`)
	case http.MethodPut:
		return errNotImplemented("")
	}
	return errMethodNotAllowed(s.r.Method, "LOGGING_STATUS")
}

// objectLock is ?object-lock on a bucket.
func (s *s3req) objectLock() *s3Error {
	if s.key != "" {
		return errMethodNotAllowed(s.r.Method, "OBJECT")
	}
	switch s.r.Method {
	case http.MethodGet:
		return newError(http.StatusNotFound, "ObjectLockConfigurationNotFoundError",
			"Object Lock configuration does not exist for this bucket").with("BucketName", s.bucket)
	case http.MethodPut:
		return errNotImplemented("The requested resource is not implemented")
	}
	return errMethodNotAllowed(s.r.Method, "OBJECT_LOCK")
}
