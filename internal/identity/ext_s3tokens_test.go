package identity

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/ec2tokens"
)

// Published vectors: AWS's signature v4 test suite (get-vanilla and friends),
// keystoneclient's Ec2Signer tests and keystone's s3tokens tests.
const (
	awsSuiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	awsSuiteDate   = "20150830T123600Z"
	emptySHA256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	ksclientSecret = "89cdf9e94e2643cab35b8b8ac5a51f83"
	ksclientAccess = "966afbde20b84200ae4e62e09acf46b2"
	ksS3V1Secret   = "b121dd41cdcc42fe9f70e572e84295aa"
	ksS3V1Token    = "UFVUCjFCMk0yWThBc2dUcGdBbVk3UGhDZmc9PQphcHBsaWNhdGlvbi9vY3RldC1zdHJlYW0KVHVlLCAxMSBEZWMgMjAxMiAyMTo0MTo0MSBHTVQKL2NvbnRfczMvdXBsb2FkZWRfZnJvbV9zMy50eHQ="
	ksS3V4Secret   = "e7a7a2240136494986991a6598d9fb9f"
	ksS3V4TokenS3  = "QVdTNC1ITUFDLVNIQTI1NgoyMDE1MDgyNFQxMTIwNDFaCjIwMTUwODI0L1JlZ2lvbk9uZS9zMy9hd3M0X3JlcXVlc3QKZjIyMTU1ODBlZWI5YTE2NzM1MWJkOTNlODZjM2I2ZjA0YTkyOGY1YzU1MjBhMzkzNWE0NTM1NDBhMDk1NjRiNQ=="
	ksS3V4SigS3    = "730ba8f58df6ffeadd78f402e990b2910d60bc5c2aec63619734f096a4dd77be"
)

// awsSuiteV4 is a request of AWS's v4 suite as ec2tokens receives it.
func awsSuiteV4(verb string, params map[string]string, signature string) *signedRequest {
	return &signedRequest{Verb: verb, Path: "/", Host: "example.amazonaws.com", Params: params, HasBodyHash: true,
		BodyHash: emptySHA256, Signature: signature, Headers: map[string]string{
			"Host": "example.amazonaws.com", "X-Amz-Date": awsSuiteDate,
			"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
				"SignedHeaders=host;x-amz-date, Signature=" + signature,
		}}
}

// ksclientV4 is keystoneclient's test_generate_v4* request (AWS's IAM example).
func ksclientV4(host, userAgent string, params map[string]string) *signedRequest {
	h := map[string]string{
		"Content-type": "application/x-www-form-urlencoded; charset=utf-8", "X-Amz-Date": "20110909T233600Z", "Host": host,
		"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20110909/us-east-1/iam/aws4_request," +
			"SignedHeaders=content-type;host;x-amz-date,",
	}
	if userAgent != "" {
		h["User-Agent"] = userAgent
	}
	return &signedRequest{Verb: "POST", Path: "/", Host: host, Params: params, Headers: h, HasBodyHash: true,
		BodyHash: "b6359072c78d70ebee1e81adcbab4f01bf2c23245fa365ef83fe8f1f955085e2"}
}

func TestEC2SignatureVectors(t *testing.T) {
	v2 := func(params map[string]string) *signedRequest {
		return &signedRequest{Host: "127.0.0.1", Verb: "GET", Path: "/v1/", Params: params, Headers: map[string]string{}}
	}
	tests := []struct {
		name   string
		secret string
		req    *signedRequest
		want   string // "" when refused
	}{
		{"v2 default method is HmacSHA256", ksclientSecret, v2(map[string]string{"SignatureVersion": "2", "AWSAccessKeyId": ksclientAccess}),
			"odsGmT811GffUO0Eu13Pq+xTzKNIjJ6NhgZU74tYX/w="},
		{"v2 HmacSHA256", ksclientSecret, v2(map[string]string{"SignatureVersion": "2", "AWSAccessKeyId": ksclientAccess, "SignatureMethod": "HmacSHA256"}),
			"odsGmT811GffUO0Eu13Pq+xTzKNIjJ6NhgZU74tYX/w="},
		{"v2 HmacSHA1", ksclientSecret, v2(map[string]string{"SignatureVersion": "2", "AWSAccessKeyId": ksclientAccess, "SignatureMethod": "HmacSHA1"}),
			"ZqCxMI4ZtTXWI175743mJ0hy/Gc="},
		{"v2 unknown method", ksclientSecret, v2(map[string]string{"SignatureVersion": "2", "SignatureMethod": "HmacMD5"}), ""},
		{"v0 refused", ksclientSecret, v2(map[string]string{"SignatureVersion": "0", "Action": "Foo", "Timestamp": "2012-11-27T11:47:02Z"}), ""},
		{"v1 refused", ksclientSecret, v2(map[string]string{"SignatureVersion": "1", "AWSAccessKeyId": ksclientAccess}), ""},
		{"no version, no v4", ksclientSecret, v2(map[string]string{}), ""},
		{"version not a number", ksclientSecret, v2(map[string]string{"SignatureVersion": "two"}), ""},
		{"v4 get-vanilla", awsSuiteSecret, awsSuiteV4("GET", map[string]string{}, ""),
			"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"v4 get-vanilla-query-order-key-case", awsSuiteSecret, awsSuiteV4("GET", map[string]string{"Param2": "value2", "Param1": "value1"}, ""),
			"b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"v4 post-vanilla (a POST's params are its body)", awsSuiteSecret, awsSuiteV4("POST", map[string]string{"Param1": "value1"}, ""),
			"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"v4 lower-case verb", awsSuiteSecret, awsSuiteV4("get", map[string]string{}, ""),
			"5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"v4 IAM example", awsSuiteSecret, ksclientV4("iam.amazonaws.com", "", map[string]string{
			"Action": "CreateUser", "UserName": "NewUser", "Version": "2010-05-08", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
			"X-Amz-Credential": "AKIAEXAMPLE/20140611/us-east-1/iam/aws4_request", "X-Amz-Date": "20140611T231318Z",
			"X-Amz-Expires": "30", "X-Amz-SignedHeaders": "host",
			"X-Amz-Signature": "ced6826de92d2bdeed8f846f0bf508e8559e98e4b0199114b84c54174deb456c"}),
			"ced6826de92d2bdeed8f846f0bf508e8559e98e4b0199114b84c54174deb456c"},
		{"v4 host with port", awsSuiteSecret, ksclientV4("foo:8000", "", map[string]string{}),
			"26dd92ea79aaa49f533d13b1055acdcd7d7321460d64621f96cc79c4f4d4ab2b"},
		{"v4 old boto strips the port", awsSuiteSecret, ksclientV4("foo:8000", "Boto/2.9.2 (linux2)", map[string]string{}),
			"9a4b2276a5039ada3b90f72ea8ec174514b92b909fb106b22ad910c5d75a54f4"},
		{"v4 newer boto keeps it", awsSuiteSecret, ksclientV4("foo:8000", "Boto/2.9.3 (linux2)", map[string]string{}),
			"26dd92ea79aaa49f533d13b1055acdcd7d7321460d64621f96cc79c4f4d4ab2b"},
		{"v4 by query parameters", awsSuiteSecret, &signedRequest{Verb: "GET", Path: "/", HasBodyHash: true, BodyHash: emptySHA256,
			Headers: map[string]string{"Host": "example.amazonaws.com"}, Params: map[string]string{
				"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
				"X-Amz-Date": awsSuiteDate, "X-Amz-SignedHeaders": "host"}},
			ec2TestV4Query(awsSuiteSecret)},
		{"v4 without body hash", awsSuiteSecret, func() *signedRequest {
			r := awsSuiteV4("GET", map[string]string{}, "")
			r.HasBodyHash = false
			return r
		}(), ""},
		{"v4 without date", awsSuiteSecret, func() *signedRequest {
			r := awsSuiteV4("GET", map[string]string{}, "")
			delete(r.Headers, "X-Amz-Date")
			return r
		}(), ""},
		{"v4 short credential scope", awsSuiteSecret, func() *signedRequest {
			r := awsSuiteV4("GET", map[string]string{}, "")
			r.Headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830, SignedHeaders=host;x-amz-date"
			return r
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ec2Signature(tt.secret, tt.req)
			if tt.want == "" {
				if ok {
					t.Fatalf("signature %q computed, want refusal", got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("signature %q (%v), want %q", got, ok, tt.want)
			}
			tt.req.Signature = tt.want
			if !ec2SignatureValid(tt.secret, tt.req) {
				t.Fatal("the expected signature does not validate")
			}
			tt.req.Signature = tt.want[:len(tt.want)-2] + "AA"
			if ec2SignatureValid(tt.secret, tt.req) {
				t.Fatal("an altered signature validates")
			}
			if ec2SignatureValid(tt.secret+"x", &signedRequest{}) {
				t.Fatal("an empty request validates")
			}
		})
	}
}

// ec2TestV4Query signs the suite's get-vanilla by query parameters, step by step as
// AWS's documentation lays it out: the X-Amz-* parameters are in the canonical query.
func ec2TestV4Query(secret string) string {
	query := "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request" +
		"&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host"
	canonical := "GET\n/\n" + query + "\nhost:example.amazonaws.com\n\nhost\n" + emptySHA256
	sum := sha256.Sum256([]byte(canonical))
	sts := "AWS4-HMAC-SHA256\n" + awsSuiteDate + "\n20150830/us-east-1/service/aws4_request\n" + hex.EncodeToString(sum[:])
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	key := mac(mac(mac(mac([]byte("AWS4"+secret), "20150830"), "us-east-1"), "service"), "aws4_request")
	return hex.EncodeToString(mac(key, sts))
}

func TestS3SignatureVectors(t *testing.T) {
	// keystone's s3tokens tests: the v4 tokens differ only in the scope's service.
	const (
		tokIAM      = "QVdTNC1ITUFDLVNIQTI1NgoyMDE1MDgyNFQxMTIwNDFaCjIwMTUwODI0L1JlZ2lvbk9uZS9pYW0vYXdzNF9yZXF1ZXN0CmYyMjE1NTgwZWViOWExNjczNTFiZDkzZTg2YzNiNmYwNGE5MjhmNWM1NTIwYTM5MzVhNDUzNTQwYTA5NTY0YjU="
		tokSTS      = "QVdTNC1ITUFDLVNIQTI1NgoyMDE1MDgyNFQxMTIwNDFaCjIwMTUwODI0L1JlZ2lvbk9uZS9zdHMvYXdzNF9yZXF1ZXN0CmYyMjE1NTgwZWViOWExNjczNTFiZDkzZTg2YzNiNmYwNGE5MjhmNWM1NTIwYTM5MzVhNDUzNTQwYTA5NTY0YjU="
		tokBad      = "QVdTNC1ITUFDLVNIQTI1NgoyMDE1MDgyNFQxMTIwNDFaCjIwMTUwODI0L1JlZ2lvbk9uZS9iYWQvYXdzNF9yZXF1ZXN0CmYyMjE1NTgwZWViOWExNjczNTFiZDkzZTg2YzNiNmYwNGE5MjhmNWM1NTIwYTM5MzVhNDUzNTQwYTA5NTY0YjU="
		tokShort    = "QVdTNC1ITUFDLVNIQTI1NgoyMDE1MDgyNFQxMTIwNDFaCjIwMTUwODI0L1JlZ2lvbk9uZS9zMwpmMjIxNTU4MGVlYjlhMTY3MzUxYmQ5M2U4NmMzYjZmMDRhOTI4ZjVjNTUyMGEzOTM1YTQ1MzU0MGEwOTU2NGI1"
		tokBadFirst = "QVdTNC1BQUEKWApYClg="
		tokBadScope = "QVdTNC1ITUFDLVNIQTI1NgpYCi8vczMvYXdzTl9yZXF1ZXN0Clg="
	)
	sha1Sig := func(secret, sts string) string {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, secret, token, signature string
		want                           bool
	}{
		{"v1", ksS3V1Secret, ksS3V1Token, "IL4QLcLVaYgylF9iHj6Wb8BGZsw=", true},
		{"v1 url-safe token", ksS3V1Secret, base64.URLEncoding.EncodeToString(mustB64(t, ksS3V1Token)), "IL4QLcLVaYgylF9iHj6Wb8BGZsw=", true},
		{"v1 unpadded token", ksS3V1Secret, base64.RawStdEncoding.EncodeToString(mustB64(t, ksS3V1Token)), "IL4QLcLVaYgylF9iHj6Wb8BGZsw=", true},
		{"v1 computed here", "secret", b64("string to sign"), sha1Sig("secret", "string to sign"), true},
		{"v1 bad signature", ksS3V1Secret, ksS3V1Token, "4a2b8b6ff5c04ea9a0bbf5b7a8f3b5a1", false},
		{"v1 other secret", "secret2", b64("string to sign"), sha1Sig("secret", "string to sign"), false},
		{"v1 empty signature", ksS3V1Secret, ksS3V1Token, "", false},
		{"v4 s3", ksS3V4Secret, ksS3V4TokenS3, ksS3V4SigS3, true},
		{"v4 iam", ksS3V4Secret, tokIAM, "db4e15b3040f6afaa9d9d16002de2fc3425beea0c6ea8c1b2bb674f052030b7d", true},
		{"v4 sts", ksS3V4Secret, tokSTS, "3aa0b6f1414b92b2a32584068f83c6d09b7fdaa11d4ea58912bbf1d8616ef56d", true},
		{"v4 bad signature", ksS3V4Secret, ksS3V4TokenS3, "0c9b5e8c8a4f4b3e9d1f0b2a7c6d5e4f", false},
		{"v4 other service", ksS3V4Secret, tokBad, "1a2dec50eb1bba97887d1103c2ead6a3991198c4be2537cf14d40b64cceb888b", false},
		{"v4 signed with another key", ksS3V4Secret, ksS3V4TokenS3, "52d02211a3767d00b2104ab28c9859003b0e9c8735cd10de7975f3b1212cca41", false},
		{"v4 short scope", ksS3V4Secret, tokShort, "28a075f1ee41e96c431153914998443ff0f55fe93d31b37181f13ff4865942a2", false},
		{"v4 bad first line", ksS3V4Secret, tokBadFirst, "", false},
		{"v4 bad scope", ksS3V4Secret, tokBadScope, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &signedRequest{Token: tt.token, HasToken: true, Signature: tt.signature}
			if got := s3SignatureValid(tt.secret, req); got != tt.want {
				t.Fatalf("valid = %v, want %v", got, tt.want)
			}
		})
	}
	if s3SignatureValid(ksS3V1Secret, &signedRequest{Signature: "IL4QLcLVaYgylF9iHj6Wb8BGZsw="}) {
		t.Fatal("a request without a token validates")
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// s3Credential creates an ec2 credential of the demo user on its project with a
// chosen access key and secret (through /v3/credentials, as gophercloud's test).
func s3Credential(e *testEnv, userID, projectID, access, secret string) {
	e.t.Helper()
	blob, _ := json.Marshal(map[string]string{"access": access, "secret": secret})
	e.Must(http.StatusCreated, "POST", "/v3/credentials", e.DemoToken, map[string]any{"credential": map[string]any{
		"type": "ec2", "user_id": userID, "project_id": projectID, "blob": string(blob)}})
}

// gophercloudBody is the request body gophercloud sends for opts, to path.
func gophercloudBody(t *testing.T, opts *ec2tokens.AuthOptions, s3 bool) map[string]any {
	t.Helper()
	b, err := opts.ToTokenV3CreateMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := b["credentials"].(map[string]any)
	// As ec2tokens.Create and ValidateS3Token.
	drop := []string{"token"}
	if s3 {
		drop = []string{"body_hash", "headers", "host", "params", "path", "verb"}
	}
	for _, k := range drop {
		delete(c, k)
	}
	data, _ := json.Marshal(b) // []byte values become base64, as on the wire
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

func TestSignatureTokens(t *testing.T) {
	e := newTestEnv(t)
	demoBody := extTokenBody(e, e.DemoToken)
	demoID, demoProject := obj(demoBody, "user")["id"].(string), obj(demoBody, "project")["id"].(string)
	ec2 := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/credentials/OS-EC2", e.DemoToken,
		map[string]any{"tenant_id": demoProject}), "credential")
	access, secret := ec2["access"].(string), ec2["secret"].(string)
	s3Credential(e, demoID, demoProject, "AKIDEXAMPLE", awsSuiteSecret)
	s3Credential(e, demoID, demoProject, "ks-s3-v4", ksS3V4Secret)

	creds := func(m map[string]any) map[string]any { return map[string]any{"credentials": m} }
	sha1Sig := func(secret, sts string) string {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(sts))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	// v2 signed here: GET, host, path and the sorted, encoded query, HMAC-SHA256.
	now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
	v2 := func(host, signHost, method string) map[string]any {
		params := map[string]any{"AWSAccessKeyId": access, "Action": "DescribeInstances", "SignatureMethod": method,
			"SignatureVersion": "2", "Timestamp": now, "Version": "2016-11-15"}
		sts := "GET\n" + signHost + "\n/\nAWSAccessKeyId=" + access + "&Action=DescribeInstances&SignatureMethod=" + method +
			"&SignatureVersion=2&Timestamp=" + awsURIEncodeForTest(now) + "&Version=2016-11-15"
		h := sha256.New
		if method == "HmacSHA1" {
			h = sha1.New
		}
		m := hmac.New(h, []byte(secret))
		m.Write([]byte(sts))
		return creds(map[string]any{"access": access, "host": host, "verb": "GET", "path": "/", "params": params,
			"signature": base64.StdEncoding.EncodeToString(m.Sum(nil))})
	}
	suite := func(verb, signature string) map[string]any {
		r := awsSuiteV4(verb, map[string]string{}, signature)
		return creds(map[string]any{"access": "AKIDEXAMPLE", "host": r.Host, "verb": r.Verb, "path": r.Path, "params": map[string]any{},
			"headers": r.Headers, "body_hash": r.BodyHash, "signature": signature})
	}
	const vanilla = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	const postVanilla = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
	at2015 := func() time.Time { return time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC) }
	realNow := e.Svc.now

	tests := []struct {
		name  string
		path  string
		body  any
		clock func() time.Time
		want  int
	}{
		// s3tokens.
		{"s3 v1", "/v3/s3tokens", creds(map[string]any{"access": access, "token": b64("GET\n\n\n" + now + "\n/bucket/key"),
			"signature": sha1Sig(secret, "GET\n\n\n"+now+"\n/bucket/key")}), nil, 200},
		{"s3 v4 (keystone's vector)", "/v3/s3tokens", creds(map[string]any{"access": "ks-s3-v4", "token": ksS3V4TokenS3, "signature": ksS3V4SigS3}), nil, 200},
		{"s3 as gophercloud sends it", "/v3/s3tokens", gophercloudBody(t, &ec2tokens.AuthOptions{Access: access, Secret: secret, Service: "s3"}, true), nil, 200},
		{"s3 legacy envelope", "/v3/s3tokens", map[string]any{"credential": creds(map[string]any{"access": access, "token": b64("x"), "signature": sha1Sig(secret, "x")})["credentials"]}, nil, 200},
		{"s3 bad signature", "/v3/s3tokens", creds(map[string]any{"access": access, "token": b64("string to sign"), "signature": b64("totally not the sig")}), nil, 401},
		{"s3 other secret", "/v3/s3tokens", creds(map[string]any{"access": access, "token": b64("x"), "signature": sha1Sig(secret+"1", "x")}), nil, 401},
		{"s3 unknown access", "/v3/s3tokens", creds(map[string]any{"access": "nope", "token": b64("x"), "signature": sha1Sig(secret, "x")}), nil, 401},
		{"s3 no access", "/v3/s3tokens", creds(map[string]any{"token": b64("x"), "signature": sha1Sig(secret, "x")}), nil, 401},
		{"s3 no token", "/v3/s3tokens", creds(map[string]any{"access": access, "signature": sha1Sig(secret, "")}), nil, 401},
		{"s3 v4 for another service", "/v3/s3tokens", gophercloudBody(t, &ec2tokens.AuthOptions{Access: access, Secret: secret, Service: "ec2"}, true), nil, 401},
		{"s3 no body", "/v3/s3tokens", nil, nil, 400},
		{"s3 not JSON", "/v3/s3tokens", []byte("not json"), nil, 400},
		{"s3 empty object", "/v3/s3tokens", map[string]any{}, nil, 400},
		{"s3 credentials not an object", "/v3/s3tokens", map[string]any{"credentials": "x"}, nil, 400},
		{"s3 access not a string", "/v3/s3tokens", creds(map[string]any{"access": 1, "token": b64("x"), "signature": "x"}), nil, 400},
		{"s3 body a list", "/v3/s3tokens", []any{1}, nil, 400},

		// ec2tokens.
		{"ec2 v2 HmacSHA256", "/v3/ec2tokens", v2("ec2.example.com", "ec2.example.com", "HmacSHA256"), nil, 200},
		{"ec2 v2 HmacSHA1", "/v3/ec2tokens", v2("ec2.example.com", "ec2.example.com", "HmacSHA1"), nil, 200},
		{"ec2 v2 signed without the port", "/v3/ec2tokens", v2("ec2.example.com:8773", "ec2.example.com", "HmacSHA256"), nil, 200},
		{"ec2 v2 signed for another host", "/v3/ec2tokens", v2("ec2.example.com", "other.example.com", "HmacSHA256"), nil, 401},
		{"ec2 v4 get-vanilla", "/v3/ec2tokens", suite("GET", vanilla), at2015, 200},
		{"ec2 v4 post-vanilla", "/v3/ec2tokens", suite("POST", postVanilla), at2015, 200},
		{"ec2 v4 get-vanilla expired", "/v3/ec2tokens", suite("GET", vanilla), nil, 401},
		{"ec2 v4 wrong signature", "/v3/ec2tokens", suite("GET", postVanilla), at2015, 401},
		{"ec2 v4 as gophercloud sends it", "/v3/ec2tokens", gophercloudBody(t, &ec2tokens.AuthOptions{Access: access, Secret: secret,
			Host: "ec2.example.com", Verb: "GET", Path: "/", Region: "RegionOne", Service: "ec2",
			Headers: map[string]string{"Host": "ec2.example.com", "X-Amz-SignedHeaders": "host"}}, false), nil, 200},
		{"ec2 v2 as gophercloud sends it", "/v3/ec2tokens", gophercloudBody(t, &ec2tokens.AuthOptions{Access: access, Secret: secret,
			Host: "ec2.example.com", Verb: "GET", Path: "/", Params: map[string]string{"SignatureVersion": "2", "SignatureMethod": "HmacSHA256",
				"Action": "DescribeInstances", "Timestamp": now}}, false), nil, 200},
		{"ec2 no signature", "/v3/ec2tokens", creds(map[string]any{"access": access, "host": "h", "verb": "GET", "path": "/",
			"params": map[string]any{"SignatureVersion": "2"}}), nil, 401},
		{"ec2 unknown access", "/v3/ec2tokens", creds(map[string]any{"access": "nope", "host": "h", "verb": "GET", "path": "/",
			"params": map[string]any{"SignatureVersion": "2"}, "signature": "x"}), nil, 401},
		{"ec2 params not an object", "/v3/ec2tokens", creds(map[string]any{"access": access, "params": []any{}}), nil, 400},
		{"ec2 header value an object", "/v3/ec2tokens", creds(map[string]any{"access": access, "headers": map[string]any{"a": map[string]any{}}}), nil, 400},
		{"ec2 no body", "/v3/ec2tokens", nil, nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Svc.now = realNow
			if tt.clock != nil {
				e.Svc.now = tt.clock
			}
			defer func() { e.Svc.now = realNow }()
			status, out, hdr := e.Do("POST", tt.path, e.AdminToken, tt.body) // the front end, as a service would
			if status != tt.want {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
			if status != http.StatusOK {
				if msg, _ := obj(out, "error")["message"].(string); msg == "" {
					t.Fatalf("no error message: %v", out)
				}
				if status == http.StatusUnauthorized && obj(out, "error")["message"] != errAuthFailed.Message {
					t.Fatalf("a failure tells more than the generic message: %v", out)
				}
				return
			}
			tok := obj(out, "token")
			if obj(tok, "project")["id"] != demoProject || obj(tok, "user")["id"] != demoID ||
				!slices.Equal(anyStrings(tok["methods"]), []string{"ec2credential"}) || len(list(tok, "roles")) == 0 ||
				tok["catalog"] == nil {
				t.Fatalf("token: %v", tok)
			}
			subject := hdr.Get("X-Subject-Token")
			if tt.path == "/v3/s3tokens" {
				if subject != "" {
					t.Fatal("s3tokens answered a token id; upstream does not")
				}
				return
			}
			if subject == "" {
				t.Fatal("ec2tokens answered no X-Subject-Token")
			}
			if tt.clock == nil { // a token issued "in 2015" has long expired
				v := acTokenBody(e, subject)
				if obj(v, "project")["id"] != demoProject || !slices.Equal(anyStrings(v["methods"]), []string{"ec2credential"}) {
					t.Fatalf("issued token validates as %v", v)
				}
				// As upstream, it serves the other services, never identity itself.
				e.Must(http.StatusForbidden, "GET", "/v3/auth/projects", subject, nil)
			}
		})
	}

	// Only a service or an admin may turn a signed request into a token (upstream
	// bug 2119646: whoever holds a presigned URL must not): the signature's own
	// user may not, nor may an anonymous caller.
	good := v2("ec2.example.com", "ec2.example.com", "HmacSHA256")
	s3 := creds(map[string]any{"access": access, "token": b64("x"), "signature": sha1Sig(secret, "x")})
	e.Must(http.StatusUnauthorized, "POST", "/v3/ec2tokens", "", good)
	e.Must(http.StatusUnauthorized, "POST", "/v3/s3tokens", "", s3)
	e.Must(http.StatusForbidden, "POST", "/v3/ec2tokens", e.DemoToken, good)
	e.Must(http.StatusForbidden, "POST", "/v3/s3tokens", e.DemoToken, s3)
	service := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{
		"name": "swift", "password": "swift-pw"}}), "user")["id"].(string)
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+demoProject+"/users/"+service+"/roles/"+extRoleID(t, e, "service"), e.AdminToken, nil)
	e.Must(http.StatusOK, "POST", "/v3/s3tokens", e.Login("swift", "swift-pw", "demo"), s3)

	// A disabled user, or a credential on a disabled project, logs in no more.
	e.Must(http.StatusOK, "POST", "/v3/ec2tokens", e.AdminToken, good)
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+demoProject, e.AdminToken, map[string]any{"project": map[string]any{"enabled": false}})
	e.Must(http.StatusUnauthorized, "POST", "/v3/ec2tokens", e.AdminToken, good)
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+demoProject, e.AdminToken, map[string]any{"project": map[string]any{"enabled": true}})
	e.Must(http.StatusOK, "POST", "/v3/ec2tokens", e.AdminToken, good)
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+demoID, e.AdminToken, map[string]any{"user": map[string]any{"enabled": false}})
	e.Must(http.StatusUnauthorized, "POST", "/v3/ec2tokens", e.AdminToken, good)
}

// awsURIEncodeForTest encodes the only reserved character a timestamp holds.
func awsURIEncodeForTest(s string) string {
	out := ""
	for _, c := range s {
		if c == ':' {
			out += "%3A"
		} else {
			out += string(c)
		}
	}
	return out
}

func anyStrings(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
