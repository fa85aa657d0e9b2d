package s3api

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// anyone accepts every signature for project p.
type anyone struct{}

func (anyone) CheckSignature(context.Context, string, string, string) (*auth.Credentials, error) {
	return &auth.Credentials{UserID: "u", UserName: "user", ProjectID: "p", ProjectName: "proj"}, nil
}

// stubSwift answers as a proxy whose containers are all empty.
func stubSwift(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	object := strings.Count(r.URL.Path, "/") >= 4
	switch {
	case object && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		w.WriteHeader(http.StatusOK)
		return
	case object && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusAccepted)
		return
	}
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	case http.MethodHead:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPut:
		w.WriteHeader(http.StatusCreated)
	case http.MethodPost:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// FuzzS3Request feeds the middleware requests built from fuzzed parts: the
// auth header, the query (presigned parameters, sub-resources), the date,
// the payload hash and an XML body. It must answer without panicking and
// without a 500, whatever it is sent.
func FuzzS3Request(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Add("GET", "/", "AWS AK:sig", "Fri, 02 Jan 2026 03:04:05 GMT", "", "")
	f.Add("PUT", "/bucket", "AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=ab",
		"20260102T030405Z", "UNSIGNED-PAYLOAD", "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>")
	f.Add("POST", "/bucket?delete", "AWS AK:sig", "Fri, 02 Jan 2026 03:04:05 GMT", "", "<Delete><Object><Key>a</Key></Object></Delete>")
	f.Add("POST", "/bucket/key?uploadId=abc", "AWS AK:sig", "Fri, 02 Jan 2026 03:04:05 GMT", "",
		"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>")
	f.Add("GET", "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
		"", "", "", "")
	f.Add("GET", "/bucket/key?AWSAccessKeyId=AK&Signature=x&Expires=99999999999", "", "", "", "")
	f.Add("PUT", "/bucket?acl", "AWS AK:sig", "Fri, 02 Jan 2026 03:04:05 GMT", "",
		`<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	f.Add("GET", "/bucket?list-type=2&continuation-token=%%%&max-keys=99999999999&encoding-type=url", "AWS AK:sig",
		"Fri, 02 Jan 2026 03:04:05 GMT", "", "")
	f.Add("PUT", "/bucket/key", "AWS4-HMAC-SHA256 Credential=AK/20260102/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-date,Signature=ab",
		"20260102T030405Z", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n")
	f.Fuzz(func(t *testing.T, method, target, authz, date, payload, body string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(method, "http://127.0.0.1:8080"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.RequestURI = target
		r.Header.Set("Authorization", authz)
		if strings.HasPrefix(date, "2") {
			r.Header.Set("X-Amz-Date", date)
		} else {
			r.Header.Set("Date", date)
		}
		if payload != "" {
			r.Header.Set("X-Amz-Content-Sha256", payload)
		}
		if strings.HasPrefix(payload, "STREAMING") {
			r.Header.Set("X-Amz-Decoded-Content-Length", "5")
			r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		}
		m := New(Options{Identity: anyone{}, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }, StorageDomains: []string{"s3.test"}},
			http.HandlerFunc(stubSwift))
		w := httptest.NewRecorder()
		m.ServeHTTP(w, r)
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s: 500\n%s", method, target, w.Body)
		}
		// the XML readers alone
		var c completeRequest
		_ = xml.Unmarshal([]byte(body), &c)
		var d deleteRequest
		_ = xml.Unmarshal([]byte(body), &d)
		_, _ = aclFromXML([]byte(body))
	})
}
