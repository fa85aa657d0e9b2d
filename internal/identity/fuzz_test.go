package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Fuzz targets for what identity parses from clients before any policy or
// handler logic: signed EC2/S3 requests, access rules, EC2 blobs and their
// delegation, OAuth1 authorization headers. A malformed input must be a 4xx,
// never a panic or a 500.

// clientError fails unless err is nil or an error with a 4xx status.
func clientError(t *testing.T, err error) {
	t.Helper()
	var he *httpapi.Error
	if err != nil && (!errors.As(err, &he) || he.Status < 400 || he.Status >= 500) {
		t.Fatalf("not a client error: %v", err)
	}
}

func FuzzSignedRequest(f *testing.F) {
	for _, seed := range []string{
		`{"credentials":{"access":"a","signature":"s","token":"R0VUCgoKL2I="}}`,
		`{"credentials":{"access":"a","host":"h:8773","verb":"GET","path":"/","params":{"SignatureVersion":"2","SignatureMethod":"HmacSHA1","Timestamp":"2015-08-30T12:36:00Z"},"signature":"x"}}`,
		`{"ec2Credentials":{"access":"a","verb":"POST","path":"/","body_hash":"e3b0","headers":{"Authorization":"AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date","X-Amz-Date":"20150830T123600Z","Host":"h"},"params":{}}}`,
		`{"credential":{"access":null,"params":{"a":1,"b":true,"c":null}}}`,
		`{"credentials":"x"}`, `[]`, `{}`, `{"credentials":{"headers":{"a":{}}}}`,
	} {
		f.Add([]byte(seed), "secret")
	}
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		r := httptest.NewRequest("POST", "/v3/ec2tokens", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		req, err := parseSignedRequest(r)
		clientError(t, err)
		if err != nil {
			return
		}
		// The signature checks and the timestamp are pure: same input, same answer.
		for _, valid := range []func(string, *signedRequest) bool{ec2SignatureValid, s3SignatureValid} {
			if valid(secret, req) != valid(secret, req) {
				t.Fatal("a signature check is not deterministic")
			}
		}
		if sig, ok := ec2Signature(secret, req); ok {
			signed := *req
			signed.Signature = sig
			if sig != "" && !ec2SignatureValid(secret, &signed) {
				t.Fatalf("the computed signature %q does not validate", sig)
			}
		}
		clientError(t, checkSignedTimestamp(req, time.Now()))
	})
}

func FuzzAccessRules(f *testing.F) {
	for _, seed := range []string{
		`[{"service":"compute","method":"GET","path":"/v2.1/servers/*"}]`,
		`[{"id":"abc-1"}]`, `[{"id":"x","service":"image","method":"DELETE","path":"/v2/images/{id}"}]`,
		`[{"path":"v2"}]`, `"all"`, `[1]`, `null`, `[{"method":"get","service":"a b","path":"/"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		rules, err := parseAccessRules(v, true)
		clientError(t, err)
		for _, r := range rules {
			if r.ID == "" && (r.Service == "" || r.Method == "" || r.Path == "") {
				t.Fatalf("an incomplete rule passed: %+v", r)
			}
			if r.Path != "" && (!strings.HasPrefix(r.Path, "/") || len(r.Path) > 225) {
				t.Fatalf("a bad path passed: %+v", r)
			}
			if r.Service != "" && !isIDString(r.Service) {
				t.Fatalf("a bad service passed: %+v", r)
			}
			// Whatever template passed, matching it never fails.
			auth.PathMatches("/v2.1/servers/x", r.Path)
		}
	})
}

func FuzzEC2Blob(f *testing.F) {
	for _, seed := range [][2]string{
		{`{"access":"a","secret":"s"}`, `{"access":"a","secret":"t"}`},
		{`{"access":"a","app_cred_id":"x"}`, `{"access":"a"}`},
		{`{"access":"a","trust_id":null}`, `{"access":"a"}`},
		{`not json`, `{"access":1}`}, {`[]`, `{}`}, {`{"access":"a","access_token_id":7}`, `{"access":"a","access_token_id":7.0}`},
	} {
		f.Add(seed[0], seed[1], "ac", "")
	}
	f.Fuzz(func(t *testing.T, oldBlob, newBlob, appCred, accessToken string) {
		clientError(t, validateEC2BlobUpdate(oldBlob, newBlob))
		var obj map[string]any
		if json.Unmarshal([]byte(newBlob), &obj) == nil && obj != nil {
			if err := validateEC2BlobUpdate(newBlob, newBlob); err != nil {
				t.Fatalf("a blob is not a valid update of itself: %v", err)
			}
		}
		if !utf8.ValidString(appCred) || !utf8.ValidString(accessToken) {
			return // ids are identity's own (hex); JSON would replace what is not UTF-8
		}
		creds := &auth.Credentials{UserID: "u", ProjectID: "p", AppCredID: appCred, OAuthAccessTokenID: accessToken}
		bound, err := bindEC2Blob(creds, newBlob)
		clientError(t, err)
		if err != nil {
			return
		}
		d := ec2BlobDelegationOf(bound)
		if appCred != "" && d.AppCredID != appCred || accessToken != "" && d.AccessTokenID != accessToken {
			t.Fatalf("%q bound to %+v by application credential %q, access token %q", bound, d, appCred, accessToken)
		}
		if !creds.Delegated() && bound != newBlob {
			t.Fatal("an undelegated token changed the blob")
		}
	})
}

func FuzzOAuth1Header(f *testing.F) {
	for _, seed := range []string{
		`OAuth oauth_consumer_key="c", oauth_signature_method="HMAC-SHA1", oauth_signature="s%3D", oauth_timestamp="1", oauth_nonce="n", oauth_version="1.0"`,
		`OAuth realm="", oauth_token="t", oauth_verifier="v"`, `OAuth `, `Basic x`, `OAuth a=b=c, "=", oauth_x="%zz"`,
	} {
		f.Add(seed, "a=b&oauth_nonce=x")
	}
	f.Fuzz(func(t *testing.T, header, query string) {
		r, err := http.NewRequest("POST", "http://keystone.example/v3/OS-OAUTH1/request_token?"+query, nil)
		if err != nil {
			return
		}
		r.Header.Set("Authorization", header)
		o, err := parseOAuth1Request(r, "http://keystone.example")
		clientError(t, err)
		if err != nil {
			return
		}
		clientError(t, o.verify("consumer-secret", "token-secret", time.Now()))
	})
}
