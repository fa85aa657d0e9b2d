package proxy

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Form post, as upstream's formpost middleware: a browser POSTs a
// multipart/form-data form to /v1/<account>/<container>[/<prefix>] whose
// fields (redirect, max_file_size, max_file_count, expires, signature, and
// optionally x_delete_at, x_delete_after, content-type, content-encoding)
// come before its files; each file becomes the object <prefix><filename>,
// written without a token when the signature is the HMAC of
// "PATH\nREDIRECT\nMAX_FILE_SIZE\nMAX_FILE_COUNT\nEXPIRES" under one of the
// account's or container's temp URL keys. The answer is the last upload's
// status, or a 303 to the redirect URL with ?status=&message=.

// formPostMaxValueLength is upstream's MAX_VALUE_LENGTH for a form field.
const formPostMaxValueLength = 4096

var errFormFileSize = errors.New("max_file_size exceeded")

// formInvalid is upstream's FormInvalid (400), formUnauthorized its
// FormUnauthorized (401).
type formInvalid string
type formUnauthorized string

func (e formInvalid) Error() string      { return string(e) }
func (e formUnauthorized) Error() string { return string(e) }

// isFormPost reports whether r is a form post: a POST of multipart/form-data
// with a boundary.
func isFormPost(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return "", false
	}
	return params["boundary"], true
}

// formPost answers a form post and reports true, or false when r is none.
func (p *Proxy) formPost(req *request) bool {
	boundary, ok := isFormPost(req.r)
	if !ok {
		return false
	}
	status, header, body, err := p.translateForm(req, boundary)
	var invalid formInvalid
	var unauthorized formUnauthorized
	switch {
	case errors.As(err, &unauthorized):
		req.w.Header().Set("Www-Authenticate", `Swift realm="unknown"`)
		swob.Write(req.w, http.StatusUnauthorized, "text/html; charset=UTF-8", "FormPost: "+pyTitle(string(unauthorized)))
	case errors.As(err, &invalid), errors.Is(err, errFormFileSize):
		swob.Write(req.w, http.StatusBadRequest, "text/plain", "FormPost: "+err.Error())
	case err != nil:
		swob.Write(req.w, http.StatusBadRequest, "text/plain", "FormPost: invalid starting boundary")
	default:
		for k, v := range header {
			req.w.Header()[k] = v
		}
		req.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		req.w.WriteHeader(status)
		_, _ = req.w.Write([]byte(body))
	}
	return true
}

// translateForm is _translate_form: it uploads each file and builds the answer.
func (p *Proxy) translateForm(req *request, boundary string) (int, http.Header, string, error) {
	var keys []string
	if req.container != "" {
		keys = p.tempURLKeys(req)
	}
	mr := multipart.NewReader(req.r.Body, boundary)
	attributes := map[string]string{}
	status, message := 0, ""
	var subHeader http.Header
	var subBody string
	fileCount := 0
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if fileCount == 0 && len(attributes) == 0 {
				return 0, nil, "", err // no part at all: upstream's MimeInvalid
			}
			return 0, nil, "", formInvalid("invalid form body")
		}
		disposition, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if disposition == "form-data" && params["filename"] != "" {
			fileCount++
			maxCount, err := pyInt(attributes["max_file_count"])
			if err != nil {
				return 0, nil, "", formInvalid("max_file_count not an integer")
			}
			if int64(fileCount) > maxCount {
				status, message = http.StatusBadRequest, "max file count exceeded"
				break
			}
			file := map[string]string{}
			for k, v := range attributes {
				file[k] = v
			}
			file["filename"] = params["filename"]
			if _, ok := attributes["content-type"]; !ok && part.Header.Get("Content-Type") != "" {
				file["content-type"] = part.Header.Get("Content-Type")
			}
			if _, ok := attributes["content-encoding"]; !ok && part.Header.Get("Content-Encoding") != "" {
				file["content-encoding"] = part.Header.Get("Content-Encoding")
			}
			status, subHeader, subBody, err = p.formUpload(req, file, part, keys)
			if err != nil {
				return 0, nil, "", err
			}
			if !success(status) {
				break
			}
			continue
		}
		data, _ := io.ReadAll(io.LimitReader(part, formPostMaxValueLength))
		_, _ = io.Copy(io.Discard, part)
		if name, ok := params["name"]; ok {
			attributes[strings.ToLower(name)] = strings.TrimRight(string(data), "\r\n-")
		}
	}
	if status == 0 {
		status, message = http.StatusBadRequest, "no files to process"
	}
	statusLine := fmt.Sprintf("%d %s", status, swob.Title(status))
	h := http.Header{}
	for k, v := range subHeader {
		if strings.HasPrefix(strings.ToLower(k), "access-control") {
			h[k] = v
		}
	}
	redirect := attributes["redirect"]
	if redirect == "" {
		body := statusLine
		if message != "" {
			body += "\r\nFormPost: " + pyTitle(message)
		}
		if !success(status) && subBody != "" {
			body = subBody
		}
		h.Set("Content-Type", "text/plain")
		return status, h, body, nil
	}
	if strings.Contains(redirect, "?") {
		redirect += "&"
	} else {
		redirect += "?"
	}
	redirect += "status=" + quote(strconv.Itoa(status), "/") + "&message=" + quote(message, "/")
	h.Set("Location", redirect)
	h.Set("Content-Type", "text/html; charset=UTF-8")
	return http.StatusSeeOther, h, `<html><body><p><a href="` + redirect + `">Click to continue...</a></p></body></html>`, nil
}

// cappedReader is _CappedFileLikeObject: it fails a read past max bytes.
type cappedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (c *cappedReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.left -= int64(n)
	if c.left < 0 {
		c.exceeded = true
		return 0, errFormFileSize
	}
	return n, err
}

// formUpload is _perform_subrequest: one file checked against the form's
// signature and written as a PUT with the owner's rights.
func (p *Proxy) formUpload(req *request, attrs map[string]string, body io.Reader, keys []string) (int, http.Header, string, error) {
	if len(keys) == 0 {
		return 0, nil, "", formUnauthorized("invalid signature")
	}
	maxSize, err := pyInt(attrs["max_file_size"])
	if err != nil {
		return 0, nil, "", formInvalid("max_file_size not an integer")
	}
	path := req.r.URL.Path
	if !strings.HasSuffix(path, "/") && strings.Count(path, "/") < 4 {
		path += "/"
	}
	filename := attrs["filename"]
	sub := req.r.Clone(req.r.Context())
	sub.Method = http.MethodPut
	sub.URL = &url.URL{Path: path + filename}
	sub.RequestURI = sub.URL.EscapedPath()
	capped := &cappedReader{r: body, left: maxSize}
	sub.Body, sub.ContentLength, sub.TransferEncoding = io.NopCloser(capped), -1, []string{"chunked"}
	sub.Header = http.Header{}
	if v, ok := attrs["x_delete_at"]; ok {
		n, err := pyInt(v)
		if err != nil {
			return 0, nil, "", formInvalid("x_delete_at not an integer: Unix timestamp required.")
		}
		sub.Header.Set("X-Delete-At", strconv.FormatInt(n, 10))
	}
	if v, ok := attrs["x_delete_after"]; ok {
		n, err := pyInt(v)
		if err != nil {
			return 0, nil, "", formInvalid("x_delete_after not an integer: Number of seconds required.")
		}
		sub.Header.Set("X-Delete-After", strconv.FormatInt(n, 10))
	}
	if v, ok := attrs["content-type"]; ok {
		if v == "" {
			v = "application/octet-stream"
		}
		sub.Header.Set("Content-Type", v)
	}
	if v, ok := attrs["content-encoding"]; ok {
		sub.Header.Set("Content-Encoding", v)
	}
	expires, err := pyInt(attrs["expires"])
	if err != nil {
		return 0, nil, "", formInvalid("expired not an integer")
	}
	if expires < time.Now().Unix() {
		return 0, nil, "", formUnauthorized("form expired")
	}
	orZero := func(k string) string {
		if v := attrs[k]; v != "" {
			return v
		}
		return "0"
	}
	message := req.r.URL.Path + "\n" + attrs["redirect"] + "\n" + orZero("max_file_size") + "\n" +
		orZero("max_file_count") + "\n" + orZero("expires")
	algo, digest, ok := digestAndAlgorithm(attrs["signature"])
	newHash := tempURLDigests[algo]
	if !ok || newHash == nil {
		return 0, nil, "", formUnauthorized("invalid signature")
	}
	valid := false
	for _, key := range keys {
		mac := hmac.New(newHash, []byte(key))
		mac.Write([]byte(message))
		valid = valid || hmac.Equal([]byte(fmt.Sprintf("%x", mac.Sum(nil))), []byte(digest))
	}
	if !valid {
		return 0, nil, "", formUnauthorized("invalid signature")
	}
	// make_pre_authed_env: the upload is the owner's
	rec := httptest.NewRecorder()
	put := &request{w: rec, r: sub, transID: req.transID, version: req.version, account: req.account,
		container: req.container, owner: true}
	put.object = strings.TrimPrefix(path+filename, "/"+req.version+"/"+req.account+"/"+req.container+"/")
	p.objectRequest(put)
	if capped.exceeded {
		return 0, nil, "", errFormFileSize
	}
	return rec.Code, rec.Header(), rec.Body.String(), nil
}

// pyInt is int(value or 0) for a form field.
func pyInt(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 10, 64)
}

// pyTitle is Python's str.title: each run of letters capitalized.
func pyTitle(s string) string {
	var sb strings.Builder
	prevLetter := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prevLetter {
				sb.WriteRune(unicode.ToLower(r))
			} else {
				sb.WriteRune(unicode.ToUpper(r))
			}
			prevLetter = true
			continue
		}
		prevLetter = false
		sb.WriteRune(r)
	}
	return sb.String()
}
