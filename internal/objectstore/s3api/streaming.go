package s3api

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// aws-chunked bodies and x-amz-checksum-*, as upstream's StreamingInput and
// ChecksummingInput: a STREAMING-UNSIGNED-PAYLOAD-TRAILER body is decoded
// chunk by chunk (every chunk but the last at least 8 KiB) and its checksum
// trailer checked; a checksum header is checked against the body likewise.

// minChunkSize is SIGV4_CHUNK_MIN_SIZE.
const minChunkSize = 8192

// crc64NVME is the CRC-64/NVME table (reflected polynomial).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumHashers are upstream's CHECKSUMS_BY_HEADER.
var checksumHashers = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-crc64nvme": func() hash.Hash { return crc64.New(crc64NVME) },
	"x-amz-checksum-sha1":      sha1.New,
	"x-amz-checksum-sha256":    sha256.New,
}

// errBody ends a body the middleware refused as it streamed; the S3 error is
// in s3req.hashErr.
var errBody = errors.New("s3api: body refused")

// checksumHeaders finds the request's checksum: a header with its value, or
// the trailer x-amz-trailer announces; at most one.
func checksumHeaders(h http.Header) (name, value, trailer string, err *s3Error) {
	n := 0
	for k, v := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-checksum-") || lk == "x-amz-checksum-algorithm" || lk == "x-amz-checksum-type" {
			continue
		}
		if _, ok := checksumHashers[lk]; !ok {
			return "", "", "", errInvalidRequest("The algorithm type you specified in x-amz-checksum- header is invalid.")
		}
		name, value = lk, v[0]
		n++
	}
	if n > 1 {
		return "", "", "", errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	if t := strings.TrimSpace(h.Get("X-Amz-Trailer")); t != "" {
		names := strings.Split(strings.TrimRight(t, ","), ",")
		for _, tn := range names {
			if _, ok := checksumHashers[strings.ToLower(strings.TrimSpace(tn))]; !ok {
				return "", "", "", errInvalidRequest("The value specified in the x-amz-trailer header is not supported")
			}
		}
		if len(names)+n > 1 {
			return "", "", "", errInvalidRequest("Expecting a single x-amz-checksum- header")
		}
		trailer = strings.ToLower(strings.TrimSpace(names[0]))
	}
	if name != "" {
		raw, derr := base64.StdEncoding.DecodeString(value)
		if derr != nil || len(raw) != checksumHashers[name]().Size() {
			return "", "", "", errInvalidRequest("Value for " + name + " header is invalid.")
		}
	}
	return name, value, trailer, nil
}

// checksumMismatch is upstream's BadDigest for a checksum.
func checksumMismatch(name string) *s3Error {
	return newError(http.StatusBadRequest, "BadDigest",
		fmt.Sprintf("The %s you specified did not match the calculated checksum.", strings.ToUpper(strings.TrimPrefix(name, "x-amz-checksum-"))))
}

// checksumBody checks a body of known length against a checksum, the
// header's or (value "") the trailer's once the body is read.
type checksumBody struct {
	s      *s3req
	body   io.ReadCloser
	name   string
	value  func() string
	h      hash.Hash
	left   int64
	failed bool
}

func (b *checksumBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.h.Write(p[:n])
	b.left -= int64(n)
	if b.left <= 0 && !b.failed {
		if base64.StdEncoding.EncodeToString(b.h.Sum(nil)) != b.value() {
			b.failed = true
			if b.s.hashErr == nil {
				b.s.hashErr = checksumMismatch(b.name)
			}
			return 0, errBody
		}
	}
	return n, err
}

func (b *checksumBody) Close() error { return b.body.Close() }

// chunkedBody decodes an unsigned aws-chunked body.
type chunkedBody struct {
	s         *s3req
	r         *bufio.Reader
	body      io.Closer
	left      int64 // payload bytes still expected
	chunkLeft int64
	lastSize  int64
	started   bool
	done      bool
	trailer   string
	trailers  map[string]string
	// sig, when set, checks each chunk's signature (a signed aws-chunked body)
	sig *chunkSigner
}

// chunkSigner checks aws-chunked chunk signatures (SigV4's
// AWS4-HMAC-SHA256-PAYLOAD string to sign, each chaining the previous one's
// signature, the seed being the request's).
type chunkSigner struct {
	key         []byte
	amzDate     string
	scope       string
	prev        string
	want        string // the signature the current chunk's header gave
	hash        hash.Hash
	emptySHA256 string
}

// check verifies the chunk just read.
func (c *chunkSigner) check() bool {
	sts := strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", c.amzDate, c.scope, c.prev, c.emptySHA256,
		hex.EncodeToString(c.hash.Sum(nil))}, "\n")
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(sts))
	got := hex.EncodeToString(m.Sum(nil))
	c.prev = c.want
	return hmac.Equal([]byte(got), []byte(c.want))
}

// fail records the S3 error and ends the body.
func (c *chunkedBody) fail(e *s3Error) (int, error) {
	if c.s.hashErr == nil {
		c.s.hashErr = e
	}
	c.done = true
	return 0, errBody
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.chunkLeft == 0 {
		if c.started {
			if crlf, err := c.readN(2); err != nil || crlf != "\r\n" {
				return c.fail(errIncompleteBody("The request body terminated unexpectedly"))
			}
		}
		c.started = true
		line, err := c.r.ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") || len(line) > 4096 {
			return c.fail(errIncompleteBody("The request body terminated unexpectedly"))
		}
		sizeHex, params, _ := strings.Cut(strings.TrimSuffix(line, "\r\n"), ";")
		size, perr := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if perr != nil || size < 0 {
			return c.fail(errIncompleteBody("The request body terminated unexpectedly"))
		}
		if c.sig != nil {
			name, value, _ := strings.Cut(params, "=")
			if strings.TrimSpace(name) != "chunk-signature" || strings.TrimSpace(value) == "" || strings.Contains(value, ";") {
				return c.fail(signatureMismatch(c.s.sig))
			}
			c.sig.want, c.sig.hash = strings.TrimSpace(value), sha256.New()
		}
		if c.lastSize >= 0 && c.lastSize < minChunkSize && size != 0 {
			return c.fail(newError(http.StatusForbidden, "InvalidChunkSizeError",
				"Only the last chunk is allowed to have a size less than 8192 bytes"))
		}
		c.lastSize = size
		if size > c.left {
			return c.fail(errIncompleteBody(""))
		}
		if size == 0 {
			if c.sig != nil && !c.sig.check() {
				return c.fail(signatureMismatch(c.s.sig))
			}
			return c.finish()
		}
		c.chunkLeft = size
	}
	if int64(len(p)) > c.chunkLeft {
		p = p[:c.chunkLeft]
	}
	n, err := c.r.Read(p)
	c.chunkLeft -= int64(n)
	c.left -= int64(n)
	if err != nil && n == 0 {
		return c.fail(errIncompleteBody("The request body terminated unexpectedly"))
	}
	if c.sig != nil {
		c.sig.hash.Write(p[:n])
		// a chunk whose signature fails ends the body, so the write never completes
		if c.chunkLeft == 0 && !c.sig.check() {
			return c.fail(signatureMismatch(c.s.sig))
		}
	}
	return n, nil
}

func (c *chunkedBody) readN(n int) (string, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return string(b), err
}

// finish reads the trailers after the last chunk.
func (c *chunkedBody) finish() (int, error) {
	for {
		line, err := c.r.ReadString('\n')
		if err == io.EOF && line == "" && c.trailer == "" {
			break
		}
		if err != nil || !strings.HasSuffix(line, "\r\n") || len(line) > 4096 {
			return c.fail(errIncompleteBody("The request body terminated unexpectedly"))
		}
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\r\n"), ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if k != c.trailer {
			return c.fail(newError(http.StatusBadRequest, "MalformedTrailerError",
				"The request contained trailing data that was not well-formed or did not conform to our published schema."))
		}
		c.trailers[k] = strings.TrimSpace(v)
	}
	if c.trailer != "" {
		if _, ok := c.trailers[c.trailer]; !ok {
			return c.fail(newError(http.StatusBadRequest, "MalformedTrailerError",
				"The request contained trailing data that was not well-formed or did not conform to our published schema."))
		}
	}
	if c.left != 0 {
		return c.fail(errIncompleteBody(""))
	}
	c.done = true
	return 0, io.EOF
}

func (c *chunkedBody) Close() error { return c.body.Close() }

// wrapStreaming installs the aws-chunked decoder (and its trailer's check);
// a signed one checks each chunk's signature with secret.
func (s *s3req) wrapStreaming(secret string) *s3Error {
	h := s.r.Header
	decoded, err := strconv.ParseInt(h.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	if err != nil {
		return errMissingContentLength()
	}
	if decoded < 0 {
		return errInvalidArgument("x-amz-decoded-content-length", h.Get("X-Amz-Decoded-Content-Length"), "")
	}
	name, value, trailer, cerr := checksumHeaders(h)
	if cerr != nil {
		return cerr
	}
	var kept []string
	for _, e := range strings.Split(h.Get("Content-Encoding"), ",") {
		if e = strings.TrimSpace(e); e != "" && e != "aws-chunked" {
			kept = append(kept, e)
		}
	}
	h.Del("Content-Encoding")
	if len(kept) > 0 {
		h.Set("Content-Encoding", strings.Join(kept, ", "))
	}
	c := &chunkedBody{s: s, r: bufio.NewReader(s.r.Body), body: s.r.Body, left: decoded, lastSize: -1,
		trailer: trailer, trailers: map[string]string{}}
	if secret != "" {
		k := []byte("AWS4" + secret)
		for _, part := range strings.Split(s.sig.Scope, "/") {
			m := hmac.New(sha256.New, k)
			m.Write([]byte(part))
			k = m.Sum(nil)
		}
		empty := sha256.Sum256(nil)
		c.sig = &chunkSigner{key: k, amzDate: s.sig.Signed.UTC().Format("20060102T150405Z"), scope: s.sig.Scope,
			prev: s.sig.Signature, emptySHA256: hex.EncodeToString(empty[:])}
	}
	s.r.ContentLength = decoded
	h.Set("Content-Length", strconv.FormatInt(decoded, 10))
	s.r.Body = c
	if name == "" && trailer != "" {
		name = trailer
	}
	if name != "" {
		s.r.Body = &checksumBody{s: s, body: c, name: name, h: checksumHashers[name](), left: decoded, value: func() string {
			if value != "" {
				return value
			}
			// the trailer is read with the chunk that ends the payload
			if _, err := io.Copy(io.Discard, c); err != nil {
				return ""
			}
			return c.trailers[trailer]
		}}
	}
	return nil
}
