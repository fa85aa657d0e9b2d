package s3api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// s3Error is one of upstream's s3response.ErrorResponse classes: an S3 error
// code, its status and message, and the extra elements upstream adds to the
// <Error> document (BucketName, Key, ArgumentName, ...), in order.
type s3Error struct {
	Status  int
	Code    string
	Message string
	Extra   []xmlField
}

type xmlField struct{ Name, Value string }

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

// with adds an element to the error document.
func (e *s3Error) with(name, value string) *s3Error {
	e.Extra = append(e.Extra, xmlField{name, value})
	return e
}

func newError(status int, code, msg string) *s3Error {
	return &s3Error{Status: status, Code: code, Message: msg}
}

// The errors Nimbus answers, with upstream's statuses and messages
// (swift/common/middleware/s3api/s3response.py).
func errAccessDenied(msg string) *s3Error {
	if msg == "" {
		msg = "Access Denied."
	}
	return newError(http.StatusForbidden, "AccessDenied", msg)
}

func errSignatureDoesNotMatch() *s3Error {
	return newError(http.StatusForbidden, "SignatureDoesNotMatch",
		"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

func errRequestTimeTooSkewed() *s3Error {
	return newError(http.StatusForbidden, "RequestTimeTooSkewed",
		"The difference between the request time and the current time is too large.")
}

func errAuthorizationHeaderMalformed(msg string) *s3Error {
	if msg == "" {
		msg = "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature."
	}
	return newError(http.StatusBadRequest, "AuthorizationHeaderMalformed", msg)
}

func errAuthorizationQueryParametersError(msg string) *s3Error {
	return newError(http.StatusBadRequest, "AuthorizationQueryParametersError", msg)
}

func errInvalidArgument(name, value, msg string) *s3Error {
	if msg == "" {
		msg = "Invalid Argument."
	}
	return newError(http.StatusBadRequest, "InvalidArgument", msg).with("ArgumentName", name).with("ArgumentValue", value)
}

func errInvalidRequest(msg string) *s3Error {
	if msg == "" {
		msg = "Invalid Request."
	}
	return newError(http.StatusBadRequest, "InvalidRequest", msg)
}

func errInvalidURI(uri string) *s3Error {
	return newError(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.").with("URI", uri)
}

func errInvalidBucketName(name string) *s3Error {
	return newError(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", name)
}

func errNoSuchBucket(name string) *s3Error {
	return newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.").with("BucketName", name)
}

func errNoSuchKey(key string) *s3Error {
	return newError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

func errNoSuchUpload(uploadID string) *s3Error {
	return newError(http.StatusNotFound, "NoSuchUpload",
		"The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.").
		with("UploadId", uploadID)
}

func errBucketNotEmpty() *s3Error {
	return newError(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
}

func errBucketAlreadyOwnedByYou(name string) *s3Error {
	return newError(http.StatusConflict, "BucketAlreadyOwnedByYou",
		"Your previous request to create the named bucket succeeded and you already own it.").with("BucketName", name)
}

func errMalformedXML() *s3Error {
	return newError(http.StatusBadRequest, "MalformedXML",
		"The XML you provided was not well-formed or did not validate against our published schema")
}

func errMalformedACL() *s3Error {
	return newError(http.StatusBadRequest, "MalformedACLError",
		"The XML you provided was not well-formed or did not validate against our published schema")
}

func errInvalidLocationConstraint() *s3Error {
	return newError(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location constraint is not valid.")
}

func errMethodNotAllowed(method, resource string) *s3Error {
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.").
		with("Method", method).with("ResourceType", resource)
}

func errNotImplemented(msg string) *s3Error {
	if msg == "" {
		msg = "Not implemented."
	}
	return newError(http.StatusNotImplemented, "NotImplemented", msg)
}

func errPreconditionFailed() *s3Error {
	return newError(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the preconditions you specified did not hold.")
}

func errInvalidRange() *s3Error {
	return newError(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range cannot be satisfied.")
}

func errEntityTooLarge() *s3Error {
	return newError(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
}

func errEntityTooSmall() *s3Error {
	return newError(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
}

func errMissingContentLength() *s3Error {
	return newError(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
}

func errInvalidDigest(md5 string) *s3Error {
	return newError(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.").with("ContentMD5", md5)
}

func errBadDigest() *s3Error {
	return newError(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
}

func errXAmzContentSHA256Mismatch(client, computed string) *s3Error {
	return newError(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
		"The provided 'x-amz-content-sha256' header does not match what was computed.").
		with("ClientComputedContentSHA256", client).with("S3ComputedContentSHA256", computed)
}

func errIncompleteBody(msg string) *s3Error {
	if msg == "" {
		msg = "You did not provide the number of bytes specified by the Content-Length HTTP header."
	}
	return newError(http.StatusBadRequest, "IncompleteBody", msg)
}

func errInvalidPart() *s3Error {
	return newError(http.StatusBadRequest, "InvalidPart",
		"One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
}

func errInvalidPartOrder() *s3Error {
	return newError(http.StatusBadRequest, "InvalidPartOrder",
		"The list of parts was not in ascending order.Parts list must specified in order by part number.")
}

func errInvalidStorageClass() *s3Error {
	return newError(http.StatusBadRequest, "InvalidStorageClass", "The storage class you specified is not valid.")
}

func errMissingSecurityHeader(name string) *s3Error {
	return newError(http.StatusBadRequest, "MissingSecurityHeader", "Your request was missing a required header.").
		with("MissingHeaderName", name)
}

func errUnexpectedContent() *s3Error {
	return newError(http.StatusBadRequest, "UnexpectedContent", "This request does not support content.")
}

func errKeyTooLong() *s3Error {
	return newError(http.StatusBadRequest, "KeyTooLongError", "Your key is too long.")
}

func errServiceUnavailable() *s3Error {
	return newError(http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate.")
}

func errInternal() *s3Error {
	return newError(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
}

// writeError answers err as upstream's ErrorResponse: an XML <Error> document
// with Code, Message, RequestId and the error's own elements. A HEAD answer
// has no body (as swob's).
func writeError(w http.ResponseWriter, r *http.Request, requestID string, err *s3Error) {
	body := errorBody(err, requestID)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(err.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// errorBody is the <Error> document, with lxml's declaration.
func errorBody(err *s3Error, requestID string) []byte {
	var b strings.Builder
	b.WriteString(xmlDeclaration)
	b.WriteString("<Error>")
	writeElement(&b, "Code", err.Code)
	writeElement(&b, "Message", err.Message)
	if requestID != "" {
		writeElement(&b, "RequestId", requestID)
	}
	for _, f := range err.Extra {
		writeElement(&b, f.Name, f.Value)
	}
	b.WriteString("</Error>")
	return []byte(b.String())
}

// xmlDeclaration is what lxml's tostring(xml_declaration=True, encoding='UTF-8') writes.
const xmlDeclaration = "<?xml version='1.0' encoding='UTF-8'?>\n"

func writeElement(b *strings.Builder, name, value string) {
	fmt.Fprintf(b, "<%s>", name)
	b.WriteString(escapeText(xmlSafe(value)))
	fmt.Fprintf(b, "</%s>", name)
}

// escapeText escapes element text as lxml does: &, < and > only (new lines
// stay as they are).
var escapeText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// xmlSafe replaces what XML 1.0 cannot carry (as lxml refuses it, upstream
// writes "(invalid string)" instead).
func xmlSafe(s string) string {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return "(invalid string)"
		}
	}
	return s
}
