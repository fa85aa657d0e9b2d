package s3api

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// signV4 is what identity computes from the string to sign.
func signV4(secret, sts string) string {
	scope := strings.Split(strings.Split(sts, "\n")[2], "/")
	k := []byte("AWS4" + secret)
	for _, p := range scope {
		k = hmacSHA256(k, p)
	}
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func signV2(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestSignatureV4Vectors checks the strings to sign against the examples of
// AWS's "Signature Version 4 (AWS4-HMAC-SHA256)" S3 documentation: the
// signatures they publish must come out of them.
func TestSignatureV4Vectors(t *testing.T) {
	now := time.Date(2013, 5, 24, 0, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		name, target string
		headers      map[string]string
		wantSig      string
	}{
		{
			name:   "GET Object with Range (header auth)",
			target: "/test.txt",
			headers: map[string]string{
				"Range": "bytes=0-9", "X-Amz-Content-Sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				"X-Amz-Date": "20130524T000000Z",
				"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
					"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
			},
			wantSig: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			name: "presigned GET Object (query auth)",
			target: "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
				"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host" +
				"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
			wantSig: "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://examplebucket.s3.amazonaws.com"+tc.target, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			sig, err := parseAuth(r, r.URL.Query(), "examplebucket", authConfig{Location: "us-east-1", ClockSkew: 15 * time.Minute, Now: now})
			if err != nil {
				t.Fatalf("parseAuth: %v", err)
			}
			if sig.Access != "AKIAIOSFODNN7EXAMPLE" || sig.Signature != tc.wantSig {
				t.Fatalf("access %q signature %q", sig.Access, sig.Signature)
			}
			if got := signV4(exampleSecret, sig.StringToSign); got != tc.wantSig {
				t.Fatalf("signature of the string to sign %q\n= %s, want %s", sig.StringToSign, got, tc.wantSig)
			}
		})
	}
}

// TestSignatureV2Vectors checks SigV2's string to sign against the examples
// of AWS's "Signing and authenticating REST requests" (bucket johnsmith).
func TestSignatureV2Vectors(t *testing.T) {
	for _, tc := range []struct {
		name, method, target string
		headers              map[string]string
		want                 string
	}{
		{"Object GET", http.MethodGet, "/photos/puppy.jpg",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:36:42 +0000"}, "bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
		{"Object PUT", http.MethodPut, "/photos/puppy.jpg",
			map[string]string{"Date": "Tue, 27 Mar 2007 21:15:45 +0000", "Content-Type": "image/jpeg"}, "MyyxeRY7whkBe+bq8fHCL/2kKUg="},
		{"List", http.MethodGet, "/?prefix=photos&max-keys=50&marker=puppy",
			map[string]string{"Date": "Tue, 27 Mar 2007 19:42:41 +0000", "User-Agent": "Mozilla/5.0"}, "htDYFYduRNen8P9ZfE/s9SuKy0U="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://johnsmith.s3.amazonaws.com"+tc.target, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			r.Header.Set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:"+tc.want)
			date, _ := parseHTTPDate(tc.headers["Date"])
			sig, err := parseAuth(r, r.URL.Query(), "johnsmith", authConfig{Location: "us-east-1", ClockSkew: 15 * time.Minute, Now: date})
			if err != nil {
				t.Fatalf("parseAuth: %v", err)
			}
			if got := signV2(exampleSecret, sig.StringToSign); got != tc.want || sig.Signature != tc.want {
				t.Fatalf("signature of %q = %s, want %s", sig.StringToSign, got, tc.want)
			}
		})
	}
}

// TestAuthRefusals: what upstream refuses before asking identity, with its
// codes, statuses and messages.
func TestAuthRefusals(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	amzNow := now.Format("20060102T150405Z")
	cred := "AK/20260102/RegionOne/s3/aws4_request"
	v4 := func(cred string) string {
		return "AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host;x-amz-date,Signature=abc"
	}
	for _, tc := range []struct {
		name, target string
		headers      map[string]string
		status       int
		code, msg    string
	}{
		{"v2 without a date", "/b", map[string]string{"Authorization": "AWS AK:sig"}, 403, "AccessDenied",
			"AWS authentication requires a valid Date or x-amz-date header"},
		{"v2 skewed", "/b", map[string]string{"Authorization": "AWS AK:sig", "Date": "Tue, 27 Mar 2007 19:36:42 +0000"}, 403,
			"RequestTimeTooSkewed", "The difference between the request time and the current time is too large."},
		{"v2 malformed", "/b", map[string]string{"Authorization": "AWS nocolon", "Date": now.Format(http.TimeFormat)}, 403,
			"AccessDenied", "Access Denied."},
		{"v2 presigned expired", "/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1000", nil, 403, "AccessDenied", "Request has expired"},
		{"v4 skewed", "/b", map[string]string{"Authorization": v4(cred), "X-Amz-Date": "20250102T030405Z",
			"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, 403, "RequestTimeTooSkewed", ""},
		{"v4 wrong region", "/b", map[string]string{"Authorization": v4("AK/20260102/us-west-2/s3/aws4_request"), "X-Amz-Date": amzNow,
			"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, 400, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; the region 'us-west-2' is wrong; expecting 'RegionOne'"},
		{"v4 no content sha256", "/b", map[string]string{"Authorization": v4(cred), "X-Amz-Date": amzNow}, 400, "InvalidRequest",
			"Missing required header for this request: x-amz-content-sha256"},
		{"v4 bad content sha256", "/b", map[string]string{"Authorization": v4(cred), "X-Amz-Date": amzNow,
			"X-Amz-Content-Sha256": "nope"}, 400, "InvalidArgument", ""},
		{"v4 unsigned amz header", "/b", map[string]string{"Authorization": v4(cred), "X-Amz-Date": amzNow,
			"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD", "X-Amz-Meta-A": "1"}, 403, "AccessDenied",
			"There were headers present in the request which were not signed"},
		{"v4 bad credential", "/b", map[string]string{"Authorization": v4("AK/x"), "X-Amz-Date": amzNow,
			"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, 403, "AccessDenied", ""},
		{"v4 presigned expired", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2FRegionOne%2Fs3%2Faws4_request" +
			"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=abc", nil, 403, "AccessDenied",
			"Request has expired"},
		{"v4 presigned too long", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + cred +
			"&X-Amz-Date=" + amzNow + "&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=abc", nil, 400,
			"AuthorizationQueryParametersError", ""},
		{"v4 presigned bad algorithm", "/b/k?X-Amz-Algorithm=MD5&X-Amz-Credential=" + cred, nil, 400, "InvalidArgument", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+tc.target, nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			_, err := parseAuth(r, r.URL.Query(), "", authConfig{Location: "RegionOne", ClockSkew: 15 * time.Minute, Now: now})
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Status != tc.status || err.Code != tc.code || tc.msg != "" && err.Message != tc.msg {
				t.Fatalf("got %d %s %q, want %d %s %q", err.Status, err.Code, err.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
}

func TestErrorXML(t *testing.T) {
	got := string(errorBody(errNoSuchBucket("b&<>"), "tx123"))
	want := "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>NoSuchBucket</Code>" +
		"<Message>The specified bucket does not exist.</Message><RequestId>tx123</RequestId>" +
		"<BucketName>b&amp;&lt;&gt;</BucketName></Error>"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(errorBody(errNoSuchKey("a\x01b"), "")); !strings.Contains(got, "<Key>(invalid string)</Key>") {
		t.Fatalf("a key XML cannot carry: %s", got)
	}
}

func TestMultipartETag(t *testing.T) {
	got, ok := multipartETag([]string{"0cc175b9c0f1b6a831c399e269772661", `"92eb5ffee6ae2fec3ad71c777531578f"`})
	if !ok || got != "96e024ba2074fe77e8e965ba43a704be-2" {
		t.Fatalf("got %q %v", got, ok)
	}
	if _, ok := multipartETag([]string{"not hex"}); ok {
		t.Fatal("a part ETag that is no MD5 was taken")
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path, host, bucket, key, code string
	}{
		{"/", "", "", "", ""},
		{"/bucket", "", "bucket", "", ""},
		{"/bucket/", "", "bucket", "", ""},
		{"/bucket/a/b/c", "", "bucket", "a/b/c", ""},
		{"/a/b", "vhost", "vhost", "a/b", ""},
		{"/ab", "", "", "", "InvalidBucketName"},
		{"/Bucket", "", "", "", "InvalidBucketName"},
		{"/192.168.0.1", "", "", "", "InvalidBucketName"},
		{"/bu..cket", "", "", "", "InvalidBucketName"},
		{"/bucket-", "", "", "", "InvalidBucketName"},
		{"/bucket+segments", "", "", "", "InvalidBucketName"},
	} {
		b, k, err := parsePath(tc.path, tc.host)
		code := ""
		if err != nil {
			code = err.Code
		}
		if b != tc.bucket || k != tc.key || code != tc.code {
			t.Errorf("parsePath(%q, %q) = %q %q %s, want %q %q %s", tc.path, tc.host, b, k, code, tc.bucket, tc.key, tc.code)
		}
	}
	m := New(Options{StorageDomains: SplitDomains("s3.example.com, s3.local")}, nil)
	for host, want := range map[string]string{"b1.s3.example.com:8080": "b1", "b2.s3.local": "b2", "s3.local": "", "other.com": ""} {
		if got := m.bucketInHost(host); got != want {
			t.Errorf("bucketInHost(%q) = %q, want %q", host, got, want)
		}
	}
}
