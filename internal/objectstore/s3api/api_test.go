package s3api_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// s3Client signs requests with SigV4 as the aws CLI does (the payload's
// SHA-256 signed).
type s3Client struct {
	t              *testing.T
	base           string
	access, secret string
	// host, when set, is the Host sent (virtual-host-style addressing)
	host string
	// signedChunks, when set, makes the body from the request's signature
	// (a signed aws-chunked body)
	signedChunks func(seed, amzDate, scope string) string
}

type s3Resp struct {
	status int
	header http.Header
	body   string
}

func uriEncode(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 || slash && c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (c *s3Client) do(method, path string, query url.Values, body string, headers ...string) s3Resp {
	c.t.Helper()
	u, _ := url.Parse(c.base)
	sum := sha256.Sum256([]byte(body))
	payload := hex.EncodeToString(sum[:])
	now := time.Now().UTC()
	req, err := http.NewRequest(method, c.base+uriEncode(path, true)+"?"+strings.ReplaceAll(query.Encode(), "+", "%20"), strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.host != "" {
		req.Host, u.Host = c.host, c.host
	}
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		payload = v // a streaming body says so itself
	}
	req.Header.Set("X-Amz-Content-Sha256", payload)
	signed := map[string]string{"host": u.Host}
	for k, v := range req.Header {
		signed[strings.ToLower(k)] = strings.TrimSpace(v[0])
	}
	var names []string
	for k := range signed {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + signed[k] + "\n")
	}
	var keys []string
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, uriEncode(k, false)+"="+uriEncode(query.Get(k), false))
	}
	canonical := strings.Join([]string{method, uriEncode(path, true), strings.Join(pairs, "&"), canonHeaders.String(),
		strings.Join(names, ";"), payload}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	scope := now.Format("20060102") + "/RegionOne/s3/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + now.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(crSum[:])
	k := []byte("AWS4" + c.secret)
	for _, p := range strings.Split(scope, "/") {
		k = mac(sha256.New, k, p)
	}
	sig := hex.EncodeToString(mac(sha256.New, k, sts))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.access+"/"+scope+",SignedHeaders="+strings.Join(names, ";")+
		",Signature="+sig)
	if c.signedChunks != nil {
		chunked := c.signedChunks(sig, now.Format("20060102T150405Z"), scope)
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(chunked)), int64(len(chunked))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return s3Resp{resp.StatusCode, resp.Header, string(data)}
}

func (c *s3Client) expect(status int, method, path string, query url.Values, body string, headers ...string) s3Resp {
	c.t.Helper()
	r := c.do(method, path, query, body, headers...)
	if r.status != status {
		c.t.Fatalf("%s %s?%s: %d, want %d\n%s", method, path, query.Encode(), r.status, status, r.body)
	}
	return r
}

func mustContain(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("%s lacks %q:\n%s", what, p, body)
		}
	}
}

// TestS3API drives the S3 API over HTTP as upstream's functional tests do:
// statuses, headers and XML bodies.
func TestS3API(t *testing.T) {
	base := startS3(t)
	a := &s3Client{t: t, base: base, access: "AKA", secret: "secret-a"}
	b := &s3Client{t: t, base: base, access: "AKB", secret: "secret-b"}
	none := url.Values{}

	info, err := http.Get(base + "/info")
	if err != nil {
		t.Fatal(err)
	}
	infoBody, _ := io.ReadAll(info.Body)
	info.Body.Close()
	mustContain(t, "/info", string(infoBody), `"s3api":{"allow_multipart_uploads":true,"max_bucket_listing":1000,`+
		`"max_multi_delete_objects":1000,"max_parts_listing":1000,"max_upload_part_num":1000,"min_segment_size":5242880,"s3_acl":false}`)

	a.expect(404, "HEAD", "/bucket1", none, "")
	r := a.expect(404, "GET", "/bucket1", none, "")
	mustContain(t, "NoSuchBucket", r.body, "<Code>NoSuchBucket</Code>", "<BucketName>bucket1</BucketName>", "<RequestId>tx")
	if r.header.Get("Content-Type") != "application/xml" || r.header.Get("X-Amz-Request-Id") == "" {
		t.Fatalf("error headers: %v", r.header)
	}
	a.expect(400, "PUT", "/bucket1", none, "<CreateBucketConfiguration><LocationConstraint>mars</LocationConstraint></CreateBucketConfiguration>")
	a.expect(400, "PUT", "/bucket1", none, "<not xml")
	r = a.expect(200, "PUT", "/bucket1", none, "<CreateBucketConfiguration><LocationConstraint>RegionOne</LocationConstraint></CreateBucketConfiguration>")
	if r.header.Get("Location") != "/bucket1" {
		t.Fatalf("PUT bucket Location: %q", r.header.Get("Location"))
	}
	mustContain(t, "second PUT", a.expect(409, "PUT", "/bucket1", none, "").body, "<Code>BucketAlreadyOwnedByYou</Code>")
	a.expect(200, "HEAD", "/bucket1", none, "")
	mustContain(t, "ListBuckets", a.expect(200, "GET", "/", none, "").body,
		`<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>proja:alice</ID>`, "<Name>bucket1</Name>")
	mustContain(t, "location", a.expect(200, "GET", "/bucket1", url.Values{"location": {""}}, "").body,
		`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">RegionOne</LocationConstraint>`)

	// objects, metadata, conditionals, ranges
	r = a.expect(200, "PUT", "/bucket1/dir/a b.txt", none, "hello world", "Content-Type", "text/plain", "X-Amz-Meta-Color_Name", "blue")
	if r.header.Get("Etag") != `"5eb63bbbe01eeed093cb22bb8f5acdc3"` {
		t.Fatalf("PUT ETag %q", r.header.Get("Etag"))
	}
	r = a.expect(200, "HEAD", "/bucket1/dir/a b.txt", none, "")
	if r.header.Get("X-Amz-Meta-Color_name") != "blue" || r.header.Get("Content-Length") != "11" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("HEAD object headers: %v", r.header)
	}
	if r = a.expect(206, "GET", "/bucket1/dir/a b.txt", none, "", "Range", "bytes=6-"); r.body != "world" {
		t.Fatalf("range GET: %q", r.body)
	}
	a.expect(304, "GET", "/bucket1/dir/a b.txt", none, "", "If-None-Match", `"5eb63bbbe01eeed093cb22bb8f5acdc3"`)
	mustContain(t, "If-Match", a.expect(412, "GET", "/bucket1/dir/a b.txt", none, "", "If-Match", `"x"`).body, "<Code>PreconditionFailed</Code>")
	a.expect(416, "GET", "/bucket1/dir/a b.txt", none, "", "Range", "bytes=100-")
	mustContain(t, "missing key", a.expect(404, "GET", "/bucket1/nope", none, "").body, "<Code>NoSuchKey</Code>", "<Key>nope</Key>")
	if r = a.expect(200, "GET", "/bucket1/dir/a b.txt", url.Values{"response-content-type": {"x/y"}}, ""); r.header.Get("Content-Type") != "x/y" {
		t.Fatalf("response-content-type: %v", r.header)
	}
	md5sum := md5.Sum([]byte("other"))
	a.expect(400, "PUT", "/bucket1/bad", none, "hello", "Content-Md5", base64.StdEncoding.EncodeToString(md5sum[:]))
	a.expect(400, "PUT", "/bucket1/bad", none, "hello", "Content-Md5", "!!")
	a.expect(501, "PUT", "/bucket1/cond", none, "x", "If-Match", "*")

	// copy
	r = a.expect(200, "PUT", "/bucket1/copy.txt", none, "", "X-Amz-Copy-Source", "/bucket1/dir/a%20b.txt")
	mustContain(t, "CopyObject", r.body, "<CopyObjectResult", `<ETag>"5eb63bbbe01eeed093cb22bb8f5acdc3"</ETag>`)
	a.expect(400, "PUT", "/bucket1/copy.txt", none, "", "X-Amz-Copy-Source", "/bucket1/copy.txt")
	a.expect(404, "PUT", "/bucket1/copy2.txt", none, "", "X-Amz-Copy-Source", "/bucket1/missing")

	// listings
	for i := range 3 {
		a.expect(200, "PUT", fmt.Sprintf("/bucket1/list/%d", i), none, "x")
	}
	r = a.expect(200, "GET", "/bucket1", url.Values{"prefix": {"list/"}, "max-keys": {"2"}}, "")
	mustContain(t, "ListObjects", r.body, `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket1</Name><Prefix>list/</Prefix><Marker/><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>list/0</Key>`,
		"<Owner><ID>proja:alice</ID><DisplayName>proja:alice</DisplayName></Owner><StorageClass>STANDARD</StorageClass>")
	r = a.expect(200, "GET", "/bucket1", url.Values{"list-type": {"2"}, "delimiter": {"/"}}, "")
	mustContain(t, "ListObjectsV2", r.body, "<KeyCount>3</KeyCount>", "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>",
		"<CommonPrefixes><Prefix>list/</Prefix></CommonPrefixes>", "<Key>copy.txt</Key>")
	r = a.expect(200, "GET", "/bucket1", url.Values{"list-type": {"2"}, "prefix": {"list/"}, "max-keys": {"1"}}, "")
	token := between(r.body, "<NextContinuationToken>", "</NextContinuationToken>")
	r = a.expect(200, "GET", "/bucket1", url.Values{"list-type": {"2"}, "prefix": {"list/"}, "continuation-token": {token}}, "")
	mustContain(t, "continued listing", r.body, "<Key>list/1</Key>", "<Key>list/2</Key>")
	if strings.Contains(r.body, "<Key>list/0</Key>") {
		t.Fatalf("continuation repeated list/0:\n%s", r.body)
	}
	mustContain(t, "encoding-type", a.expect(200, "GET", "/bucket1", url.Values{"prefix": {"dir/"}, "encoding-type": {"url"}}, "").body,
		"<Key>dir/a%20b.txt</Key>", "<EncodingType>url</EncodingType>")
	a.expect(400, "GET", "/bucket1", url.Values{"max-keys": {"-1"}}, "")
	a.expect(400, "GET", "/bucket1", url.Values{"encoding-type": {"zip"}}, "")

	// ACLs
	mustContain(t, "private ACL", a.expect(200, "GET", "/bucket1", url.Values{"acl": {""}}, "").body,
		"<Permission>FULL_CONTROL</Permission>")
	a.expect(200, "PUT", "/bucket1", url.Values{"acl": {""}}, "", "X-Amz-Acl", "public-read")
	mustContain(t, "public ACL", a.expect(200, "GET", "/bucket1", url.Values{"acl": {""}}, "").body,
		"<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission>")
	if resp, err := http.Get(base + "/v1/AUTH_pa/bucket1/copy.txt"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("anonymous read of a public-read bucket: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	a.expect(400, "PUT", "/bucket1", url.Values{"acl": {""}}, "", "X-Amz-Acl", "nonsense")
	a.expect(400, "PUT", "/bucket1", url.Values{"acl": {""}}, "")
	a.expect(200, "PUT", "/bucket1", url.Values{"acl": {""}}, "", "X-Amz-Acl", "private")

	// another project's credentials: its own account
	b.expect(404, "GET", "/bucket1", none, "")
	b.expect(404, "GET", "/bucket1/copy.txt", none, "")
	wrong := &s3Client{t: t, base: base, access: "AKA", secret: "wrong"}
	mustContain(t, "wrong secret", wrong.expect(403, "GET", "/bucket1", none, "").body, "<Code>SignatureDoesNotMatch</Code>",
		"<AWSAccessKeyId>AKA</AWSAccessKeyId>")

	// multipart upload
	r = a.expect(200, "POST", "/bucket1/big", url.Values{"uploads": {""}}, "", "Content-Type", "application/x-big", "X-Amz-Meta-K", "v")
	uploadID := between(r.body, "<UploadId>", "</UploadId>")
	part1 := strings.Repeat("a", 5<<20)
	r1 := a.expect(200, "PUT", "/bucket1/big", url.Values{"partNumber": {"1"}, "uploadId": {uploadID}}, part1)
	r2 := a.expect(200, "PUT", "/bucket1/big", url.Values{"partNumber": {"2"}, "uploadId": {uploadID}}, "tail")
	a.expect(200, "PUT", "/bucket1/big", url.Values{"partNumber": {"3"}, "uploadId": {uploadID}}, "dropped")
	a.expect(400, "PUT", "/bucket1/big", url.Values{"partNumber": {"0"}, "uploadId": {uploadID}}, "x")
	mustContain(t, "unknown upload", a.expect(404, "PUT", "/bucket1/big", url.Values{"partNumber": {"1"}, "uploadId": {"nope"}}, "x").body,
		"<Code>NoSuchUpload</Code>")
	mustContain(t, "ListParts", a.expect(200, "GET", "/bucket1/big", url.Values{"uploadId": {uploadID}}, "").body,
		"<PartNumber>1</PartNumber>", "<PartNumber>3</PartNumber>", "<Size>5242880</Size>")
	mustContain(t, "ListMultipartUploads", a.expect(200, "GET", "/bucket1", url.Values{"uploads": {""}}, "").body,
		"<Key>big</Key><UploadId>"+uploadID+"</UploadId>")
	complete := func(parts ...string) string {
		var b strings.Builder
		b.WriteString("<CompleteMultipartUpload>")
		for i := 0; i+1 < len(parts); i += 2 {
			b.WriteString("<Part><PartNumber>" + parts[i] + "</PartNumber><ETag>" + parts[i+1] + "</ETag></Part>")
		}
		b.WriteString("</CompleteMultipartUpload>")
		return b.String()
	}
	e1, e2 := r1.header.Get("Etag"), r2.header.Get("Etag")
	mustContain(t, "order", a.expect(400, "POST", "/bucket1/big", url.Values{"uploadId": {uploadID}}, complete("2", e2, "1", e1)).body, "InvalidPartOrder")
	mustContain(t, "bad etag", a.expect(400, "POST", "/bucket1/big", url.Values{"uploadId": {uploadID}}, complete("1", `"00"`)).body, "<Code>InvalidPart</Code>")
	mustContain(t, "too small", a.expect(400, "POST", "/bucket1/big", url.Values{"uploadId": {uploadID}}, complete("2", e2, "3", `"`+md5hex("dropped")+`"`)).body, "EntityTooSmall")
	r = a.expect(200, "POST", "/bucket1/big", url.Values{"uploadId": {uploadID}}, complete("1", e1, "2", e2))
	p1, p2 := md5.Sum([]byte(part1)), md5.Sum([]byte("tail"))
	all := md5.Sum(append(p1[:], p2[:]...))
	wantETag := `"` + hex.EncodeToString(all[:]) + `-2"`
	mustContain(t, "CompleteMultipartUpload", r.body, "<Bucket>bucket1</Bucket><Key>big</Key><ETag>"+wantETag+"</ETag>")
	r = a.expect(200, "GET", "/bucket1/big", none, "")
	if r.body != part1+"tail" || r.header.Get("Etag") != wantETag || r.header.Get("Content-Type") != "application/x-big" || r.header.Get("X-Amz-Meta-K") != "v" {
		t.Fatalf("GET of the completed upload: %d bytes, headers %v", len(r.body), r.header)
	}
	if r = a.expect(206, "GET", "/bucket1/big", none, "", "Range", "bytes=5242878-5242881", "If-Match", wantETag); r.body != "aata" {
		t.Fatalf("range across parts: %q", r.body)
	}
	a.expect(404, "GET", "/bucket1/big", url.Values{"uploadId": {uploadID}}, "")
	a.expect(412, "GET", "/bucket1/big", none, "", "If-Match", `"`+md5hex("x")+`"`)
	a.expect(304, "GET", "/bucket1/big", none, "", "If-None-Match", wantETag)
	// listed with the upload's size and S3 ETag
	mustContain(t, "listing of the upload", a.expect(200, "GET", "/bucket1", url.Values{"prefix": {"big"}}, "").body,
		"<Key>big</Key>", "<ETag>"+wantETag+"</ETag><Size>5242884</Size>")
	mustContain(t, "not empty", a.expect(409, "DELETE", "/bucket1", none, "").body, "<Code>BucketNotEmpty</Code>")
	// to a Swift client it is a static large object of the two named parts
	// with the S3 ETag in its system metadata and listing row
	admin := swiftToken(t, base)
	sw := swiftGet(t, admin, "HEAD", base+"/v1/AUTH_pa/bucket1/big")
	if sw.StatusCode != 200 || sw.Header.Get("X-Static-Large-Object") != "True" || sw.Header.Get("Content-Length") != "5242884" {
		t.Fatalf("Swift HEAD of the upload: %d %v", sw.StatusCode, sw.Header)
	}
	mustContain(t, "SLO manifest", readAll(t, swiftGet(t, admin, "GET", base+"/v1/AUTH_pa/bucket1/big?multipart-manifest=get")),
		`"name": "/bucket1+segments/big/`+uploadID+`/00001"`, `"hash": "`+hex.EncodeToString(p1[:])+`"`, `"bytes": 5242880`,
		`"name": "/bucket1+segments/big/`+uploadID+`/00002"`, `"bytes": 4`)
	mustContain(t, "Swift listing", readAll(t, swiftGet(t, admin, "GET", base+"/v1/AUTH_pa/bucket1?format=json&prefix=big")),
		`"s3_etag":"\"`+strings.Trim(wantETag, `"`)+`\""`, `"bytes":5242884`, `"slo_etag":`)

	mustContain(t, "tagging", a.expect(200, "GET", "/bucket1/big", url.Values{"tagging": {""}}, "").body, "<TagSet/>")
	a.expect(501, "PUT", "/bucket1/big", url.Values{"tagging": {""}}, "<Tagging/>")
	mustContain(t, "logging", a.expect(200, "GET", "/bucket1", url.Values{"logging": {""}}, "").body, "<BucketLoggingStatus")
	a.expect(404, "GET", "/bucket1", url.Values{"object-lock": {""}}, "")

	// copies read the upload's content, whole or by ranges (UploadPartCopy)
	a.expect(200, "PUT", "/bucket1/bigcopy", none, "", "X-Amz-Copy-Source", "bucket1/big")
	if r = a.expect(200, "GET", "/bucket1/bigcopy", none, ""); r.body != part1+"tail" || r.header.Get("Content-Type") != "application/x-big" {
		t.Fatalf("copy of the upload: %d bytes, %v", len(r.body), r.header)
	}
	r = a.expect(200, "POST", "/bucket1/ranged", url.Values{"uploads": {""}}, "")
	ranged := between(r.body, "<UploadId>", "</UploadId>")
	c1 := a.expect(200, "PUT", "/bucket1/ranged", url.Values{"partNumber": {"1"}, "uploadId": {ranged}}, "",
		"X-Amz-Copy-Source", "/bucket1/big", "X-Amz-Copy-Source-Range", "bytes=0-5242879")
	c2 := a.expect(200, "PUT", "/bucket1/ranged", url.Values{"partNumber": {"2"}, "uploadId": {ranged}}, "",
		"X-Amz-Copy-Source", "/bucket1/big", "X-Amz-Copy-Source-Range", "bytes=5242880-5242883")
	mustContain(t, "CopyPartResult", c1.body, "<CopyPartResult", "<ETag>\""+md5hex(part1)+"\"</ETag>")
	a.expect(400, "PUT", "/bucket1/ranged", url.Values{"partNumber": {"3"}, "uploadId": {ranged}}, "",
		"X-Amz-Copy-Source", "/bucket1/big", "X-Amz-Copy-Source-Range", "bytes=0-99999999")
	a.expect(404, "PUT", "/bucket1/ranged", url.Values{"partNumber": {"3"}, "uploadId": {ranged}}, "",
		"X-Amz-Copy-Source", "/bucket1/nothing")
	a.expect(200, "POST", "/bucket1/ranged", url.Values{"uploadId": {ranged}},
		complete("1", between(c1.body, "<ETag>", "</ETag>"), "2", between(c2.body, "<ETag>", "</ETag>")))
	if r = a.expect(200, "GET", "/bucket1/ranged", none, ""); r.body != part1+"tail" {
		t.Fatalf("upload of copied ranges: %d bytes", len(r.body))
	}

	// abort
	r = a.expect(200, "POST", "/bucket1/aborted", url.Values{"uploads": {""}}, "")
	aborted := between(r.body, "<UploadId>", "</UploadId>")
	a.expect(200, "PUT", "/bucket1/aborted", url.Values{"partNumber": {"1"}, "uploadId": {aborted}}, "x")
	a.expect(204, "DELETE", "/bucket1/aborted", url.Values{"uploadId": {aborted}}, "")
	a.expect(404, "DELETE", "/bucket1/aborted", url.Values{"uploadId": {aborted}}, "")

	// multi-delete, then the bucket goes with its segments
	keys := []string{"big", "bigcopy", "ranged", "copy.txt", "dir/a b.txt", "list/0", "list/1", "list/2", "never-was"}
	var body bytes.Buffer
	body.WriteString("<Delete>")
	for _, k := range keys {
		body.WriteString("<Object><Key>" + k + "</Key></Object>")
	}
	body.WriteString("</Delete>")
	sum := md5.Sum(body.Bytes())
	a.expect(400, "POST", "/bucket1", url.Values{"delete": {""}}, body.String())
	r = a.expect(200, "POST", "/bucket1", url.Values{"delete": {""}}, body.String(), "Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	mustContain(t, "segments of the deleted uploads gone", readAll(t, swiftGet(t, admin, "GET", base+"/v1/AUTH_pa/bucket1+segments?format=json")), "[]")
	mustContain(t, "DeleteResult", r.body, `<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>big</Key></Deleted>`,
		"<Deleted><Key>never-was</Key></Deleted>")
	a.expect(204, "DELETE", "/bucket1/already-gone", none, "")
	a.expect(204, "DELETE", "/bucket1", none, "")
	a.expect(404, "HEAD", "/bucket1", none, "")
	mustContain(t, "segments gone", a.expect(200, "GET", "/", none, "").body, "<Buckets></Buckets>")
	if resp, err := http.Head(base + "/v1/AUTH_pa/bucket1+segments"); err != nil || resp.StatusCode != 401 && resp.StatusCode != 404 {
		t.Fatalf("segments container: %v %v", resp, err)
	}
}

// TestS3VirtualHost: with a storage domain, the Host names the bucket.
func TestS3VirtualHost(t *testing.T) {
	base := startS3(t)
	u, _ := url.Parse(base)
	vhost := &s3Client{t: t, base: base, access: "AKA", secret: "secret-a", host: "vbucket.s3.test:" + u.Port()}
	path := &s3Client{t: t, base: base, access: "AKA", secret: "secret-a"}
	none := url.Values{}
	vhost.expect(200, "PUT", "/", none, "")
	vhost.expect(200, "PUT", "/dir/key", none, "by host")
	if r := path.expect(200, "GET", "/vbucket/dir/key", none, ""); r.body != "by host" {
		t.Fatalf("path-style read of a virtual-host write: %q", r.body)
	}
	mustContain(t, "virtual-host listing", vhost.expect(200, "GET", "/", none, "").body,
		"<Name>vbucket</Name>", "<Key>dir/key</Key>")
	vhost.expect(204, "DELETE", "/dir/key", none, "")
	vhost.expect(204, "DELETE", "/", none, "")
	path.expect(404, "HEAD", "/vbucket", none, "")
}

// TestS3ChunkedAndChecksums: an unsigned aws-chunked body with a checksum
// trailer is decoded and checked; x-amz-checksum-* headers are checked.
func TestS3ChunkedAndChecksums(t *testing.T) {
	base := startS3(t)
	a := &s3Client{t: t, base: base, access: "AKA", secret: "secret-a"}
	none := url.Values{}
	a.expect(200, "PUT", "/chunks", none, "")
	data := strings.Repeat("z", 8192) + "tail!"
	crc := func(s string) string {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(s)))
		return base64.StdEncoding.EncodeToString(b[:])
	}
	chunked := func(trailerValue string, chunks ...string) string {
		var b strings.Builder
		for _, c := range chunks {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
		}
		b.WriteString("0\r\nx-amz-checksum-crc32:" + trailerValue + "\r\n\r\n")
		return b.String()
	}
	streaming := []string{"X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding", "aws-chunked",
		"X-Amz-Trailer", "x-amz-checksum-crc32", "X-Amz-Decoded-Content-Length", strconv.Itoa(len(data))}
	a.expect(200, "PUT", "/chunks/ok", none, chunked(crc(data), data[:8192], data[8192:]), streaming...)
	r := a.expect(200, "GET", "/chunks/ok", none, "")
	if r.body != data || r.header.Get("Content-Encoding") != "" {
		t.Fatalf("chunked upload read back: %d bytes, Content-Encoding %q", len(r.body), r.header.Get("Content-Encoding"))
	}
	mustContain(t, "wrong trailer", a.expect(400, "PUT", "/chunks/bad", none, chunked(crc("other"), data[:8192], data[8192:]), streaming...).body,
		"<Code>BadDigest</Code>", "The CRC32 you specified did not match the calculated checksum.")
	mustContain(t, "small chunk", a.expect(403, "PUT", "/chunks/bad", none, chunked(crc(data), data[:10], data[10:]), streaming...).body,
		"<Code>InvalidChunkSizeError</Code>")
	a.expect(400, "PUT", "/chunks/bad", none, chunked(crc(data), data[:8192]), streaming...)
	a.expect(404, "GET", "/chunks/bad", none, "")
	sum := sha256.Sum256([]byte("body"))
	a.expect(200, "PUT", "/chunks/sum", none, "body", "X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(sum[:]))
	mustContain(t, "wrong checksum header", a.expect(400, "PUT", "/chunks/sum", none, "other",
		"X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(sum[:])).body, "<Code>BadDigest</Code>")
	a.expect(400, "PUT", "/chunks/sum", none, "x", "X-Amz-Checksum-Sha256", "short")
	a.expect(501, "PUT", "/chunks/signed", none, "0\r\n\r\n", "X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
		"X-Amz-Decoded-Content-Length", "0")

	// signed chunks: each chunk's signature chains the previous one's
	signedChunks := func(tamper bool) func(seed, amzDate, scope string) string {
		return func(seed, amzDate, scope string) string {
			k := []byte("AWS4secret-a")
			for _, p := range strings.Split(scope, "/") {
				k = mac(sha256.New, k, p)
			}
			empty := sha256.Sum256(nil)
			prev := seed
			var b strings.Builder
			for _, c := range []string{data[:8192], data[8192:], ""} {
				sum := sha256.Sum256([]byte(c))
				sig := hex.EncodeToString(mac(sha256.New, k, strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, prev,
					hex.EncodeToString(empty[:]), hex.EncodeToString(sum[:])}, "\n")))
				if tamper && c != "" {
					c = strings.ToUpper(c)
				}
				fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", len(c), sig, c)
				prev = sig
			}
			return b.String()
		}
	}
	signedHeaders := []string{"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding", "aws-chunked",
		"X-Amz-Decoded-Content-Length", strconv.Itoa(len(data))}
	a.signedChunks = signedChunks(false)
	a.expect(200, "PUT", "/chunks/signed", none, "", signedHeaders...)
	a.signedChunks = signedChunks(true)
	mustContain(t, "tampered chunk", a.expect(403, "PUT", "/chunks/tampered", none, "", signedHeaders...).body,
		"<Code>SignatureDoesNotMatch</Code>")
	a.signedChunks = nil
	if r := a.expect(200, "GET", "/chunks/signed", none, ""); r.body != data {
		t.Fatalf("signed chunked upload read back: %d bytes", len(r.body))
	}
	a.expect(404, "GET", "/chunks/tampered", none, "")
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// swiftToken is the tempauth token of the test cluster's reseller admin.
func swiftToken(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/auth/v1.0", nil)
	req.Header.Set("X-Auth-User", "admin:admin")
	req.Header.Set("X-Auth-Key", "admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tempauth: %v %v", resp, err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Auth-Token")
}

// swiftGet makes a Swift request with token.
func swiftGet(t *testing.T, token, method, u string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
