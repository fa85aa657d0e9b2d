package objectstore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tempAuthUsers are upstream's sample users (proxy-server.conf-sample).
const tempAuthUsers = `user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester3 = testing3
user_audit_auditor = auditing .reseller_reader`

// startAuthCluster is an all-in-one with tempauth users beside identity's.
func startAuthCluster(t *testing.T) *cluster {
	t.Helper()
	dir := t.TempDir()
	a, err := StartAllInOne(Options{Dir: dir, Host: "127.0.0.1", PartPower: 6, Devices: 3, Logger: slog.New(slog.DiscardHandler),
		TempAuthUsers: tempAuthUsers,
		Auth: tokens{
			"a-member": creds("a", "member"), "b-member": creds("b", "member"),
			"reseller": creds("x", "ResellerAdmin"),
		}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, a)
	return &cluster{t: t, url: a.URL, dir: dir, a: a}
}

// login is a tempauth GET /auth/v1.0; it returns the token and storage URL.
func (c *cluster) login(user, key string) (string, string) {
	c.t.Helper()
	r := c.expect("", "GET", "/auth/v1.0", "", 200, "X-Auth-User", user, "X-Auth-Key", key)
	return r.header.Get("X-Auth-Token"), r.header.Get("X-Storage-Url")
}

// TestObjectStoreTempAuth: tokens as upstream's tempauth gives them, and
// what each user may do with them.
func TestObjectStoreTempAuth(t *testing.T) {
	c := startAuthCluster(t)
	for _, tc := range []struct {
		name, method, path string
		headers            []string
		status             int
		realm              string
	}{
		{"bad key", "GET", "/auth/v1.0", []string{"X-Auth-User", "test:tester", "X-Auth-Key", "nope"}, 401, `Swift realm="test"`},
		{"unknown user", "GET", "/auth/v1.0", []string{"X-Auth-User", "test:nobody", "X-Auth-Key", "testing"}, 401, `Swift realm="test"`},
		{"no colon", "GET", "/auth/v1.0", []string{"X-Auth-User", "tester", "X-Auth-Key", "testing"}, 401, `Swift realm="unknown"`},
		{"no user", "GET", "/auth/v1.0", nil, 401, `Swift realm="unknown"`},
		{"POST", "POST", "/auth/v1.0", nil, 405, ""},
		{"unknown version", "GET", "/auth/v2", nil, 400, ""},
		{"v1 without auth", "GET", "/auth/v1/test", nil, 400, ""},
		{"v1 other account", "GET", "/auth/v1/test/auth", []string{"X-Auth-User", "test2:tester2", "X-Auth-Key", "testing2"}, 401, `Swift realm="test"`},
		{"no version", "GET", "/auth/", nil, 404, ""},
		{"longer path", "GET", "/auth/v1.0/x/y/z", []string{"X-Auth-User", "test:tester", "X-Auth-Key", "testing"}, 200, ""},
		{"v1 form", "GET", "/auth/v1/test/auth", []string{"X-Storage-User", "tester", "X-Storage-Pass", "testing"}, 200, ""},
		{"auth form", "GET", "/auth/auth", []string{"X-Storage-User", "test:tester", "X-Storage-Pass", "testing"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("", tc.method, tc.path, "", tc.headers...)
			if r.status != tc.status || r.header.Get("Www-Authenticate") != tc.realm {
				t.Fatalf("%d %q (Www-Authenticate %q), want %d %q", r.status, r.body, r.header.Get("Www-Authenticate"), tc.status, tc.realm)
			}
		})
	}

	r := c.expect("", "GET", "/auth/v1.0", "", 200, "X-Auth-User", "test:tester", "X-Auth-Key", "testing")
	token, storage := r.header.Get("X-Auth-Token"), r.header.Get("X-Storage-Url")
	if !strings.HasPrefix(token, "AUTH_") || r.header.Get("X-Storage-Token") != token ||
		storage != c.url+"/v1/AUTH_test" || (r.header.Get("X-Auth-Token-Expires") != "86399" && r.header.Get("X-Auth-Token-Expires") != "86400") {
		t.Fatalf("token answer: %v", r.header)
	}
	c.expect(token, "PUT", "/v1/AUTH_test/c", "", 201)
	c.expect(token, "PUT", "/v1/AUTH_test/c/o", "data", 201)
	if got := c.expect(token, "GET", "/v1/AUTH_test/c/o", "", 200); got.body != "data" {
		t.Fatalf("GET: %q", got.body)
	}
	c.expect(token, "GET", "/v1/AUTH_test2/c/o", "", 403)    // another account
	c.expect(token, "DELETE", "/v1/AUTH_test", "", 403)      // .admin may not delete its account
	c.expect(token+"x", "GET", "/v1/AUTH_test/c/o", "", 401) // tampered
	c.expect("AUTH_tk0123", "GET", "/v1/AUTH_test/c/o", "", 401)
	c.expect("a-member", "GET", "/v1/AUTH_test/c/o", "", 403) // identity users are not tempauth's
	// a user without .admin needs an ACL
	tester3, _ := c.login("test:tester3", "testing3")
	c.expect(tester3, "GET", "/v1/AUTH_test/c/o", "", 403)
	c.expect(token, "POST", "/v1/AUTH_test/c", "", 204, "X-Container-Read", "test:tester3")
	c.expect(tester3, "GET", "/v1/AUTH_test/c/o", "", 200)
	c.expect(tester3, "PUT", "/v1/AUTH_test/c/o2", "x", 403)
	// the reseller admin owns every account
	admin, _ := c.login("admin:admin", "admin")
	c.expect(admin, "GET", "/v1/AUTH_test/c/o", "", 200)
	c.expect(admin, "GET", "/v1/AUTH_a", "", 204)
	// the reseller reader reads every account, and only reads
	auditor, _ := c.login("audit:auditor", "auditing")
	c.expect(auditor, "GET", "/v1/AUTH_test/c/o", "", 200)
	c.expect(auditor, "PUT", "/v1/AUTH_test/c/o", "x", 403)
	// identity still works beside it
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201)
	c.expect(token, "GET", "/v1/AUTH_a/c", "", 403)
	info := c.expect("", "GET", "/info", "", 200).body
	for _, want := range []string{`"tempauth":{"account_acls":true}`, `"account_quotas":{}`, `"staticweb":{}`,
		`"formpost":{"allowed_digests":["sha1","sha256","sha512"],"deprecated_digests":["sha1"]}`,
		`"bulk_upload":{"max_containers_per_extraction":10000,"max_failed_extractions":1000}`, `"strict_cors_mode":true`} {
		if !strings.Contains(info, want) {
			t.Errorf("/info lacks %s: %s", want, info)
		}
	}
}

// TestObjectStoreAccountACL: X-Account-Access-Control as tempauth applies
// it, for tempauth users and identity's projects.
func TestObjectStoreAccountACL(t *testing.T) {
	c := startAuthCluster(t)
	tester, _ := c.login("test:tester", "testing")
	tester2, _ := c.login("test2:tester2", "testing2")
	c.expect(tester, "PUT", "/v1/AUTH_test/c", "", 201)
	c.expect(tester, "PUT", "/v1/AUTH_test/c/o", "data", 201)
	c.expect(tester2, "GET", "/v1/AUTH_test/c/o", "", 403)
	for _, bad := range []struct{ acl, body string }{
		{"{", "X-Account-Access-Control invalid: Syntax error in input ('{')\n\nInput: {\n"},
		{`{"owner":["x"]}`, "X-Account-Access-Control invalid: Key \"owner\" not recognized\n\nInput: {\"owner\":[\"x\"]}\n"},
		{`{"admin":"x"}`, "X-Account-Access-Control invalid: Value for key \"admin\" must be a list\n\nInput: {\"admin\":\"x\"}\n"},
		{`{"admin":[1]}`, "X-Account-Access-Control invalid: Elements of \"admin\" list must be strings\n\nInput: {\"admin\":[1]}\n"},
	} {
		if r := c.expect(tester, "POST", "/v1/AUTH_test", "", 400, "X-Account-Access-Control", bad.acl); r.body != bad.body {
			t.Fatalf("%s: %q", bad.acl, r.body)
		}
	}
	c.expect(tester, "POST", "/v1/AUTH_test", "", 204, "X-Account-Access-Control", `{"read-only": ["test2"], "read-write":["b:*"]}`)
	if r := c.expect(tester, "HEAD", "/v1/AUTH_test", "", 204); r.header.Get("X-Account-Access-Control") != `{"read-only":["test2"],"read-write":["b:*"]}` ||
		r.header.Get("X-Account-Sysmeta-Core-Access-Control") != "" {
		t.Fatalf("owner's HEAD: %v", r.header)
	}
	if r := c.expect(tester2, "HEAD", "/v1/AUTH_test", "", 204); r.header.Get("X-Account-Access-Control") != "" {
		t.Fatalf("a reader sees the ACL: %v", r.header)
	}
	c.expect(tester2, "GET", "/v1/AUTH_test/c/o", "", 200)
	c.expect(tester2, "GET", "/v1/AUTH_test", "", 200)
	c.expect(tester2, "PUT", "/v1/AUTH_test/c/o2", "x", 403)
	c.expect(tester2, "POST", "/v1/AUTH_test", "", 403)
	// read-write, to an identity project
	c.expect("b-member", "PUT", "/v1/AUTH_test/c/o2", "x", 201)
	c.expect("b-member", "POST", "/v1/AUTH_test", "", 403, "X-Account-Meta-X", "y")
	c.expect("a-member", "GET", "/v1/AUTH_test/c/o", "", 403)
	// admin owns it
	c.expect(tester, "POST", "/v1/AUTH_test", "", 204, "X-Account-Access-Control", `{"admin":["test2:tester2"]}`)
	c.expect(tester2, "POST", "/v1/AUTH_test/c", "", 204, "X-Container-Read", ".r:*")
	c.expect("", "GET", "/v1/AUTH_test/c/o", "", 200)
	// an empty ACL removes it
	c.expect(tester, "POST", "/v1/AUTH_test", "", 204, "X-Account-Access-Control", "")
	c.expect(tester2, "PUT", "/v1/AUTH_test/c/o3", "x", 403)
}

// TestObjectStoreAccountQuotas: only the reseller admin sets them; a PUT
// past them is 413.
func TestObjectStoreAccountQuotas(t *testing.T) {
	c := startAuthCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201)
	c.expect("a-member", "POST", "/v1/AUTH_a", "", 403, "X-Account-Meta-Quota-Bytes", "10")
	c.expect("a-member", "POST", "/v1/AUTH_a", "", 403, "X-Account-Quota-Count", "1")
	c.expect("reseller", "POST", "/v1/AUTH_a", "", 400, "X-Account-Quota-Bytes", "ten")
	c.expect("reseller", "POST", "/v1/AUTH_a", "", 204, "X-Account-Quota-Bytes", "10")
	if r := c.expect("a-member", "HEAD", "/v1/AUTH_a", "", 204); r.header.Get("X-Account-Quota-Bytes") != "10" {
		t.Fatalf("quota not shown: %v", r.header)
	}
	c.expect("a-member", "PUT", "/v1/AUTH_a/c/o", "123456", 201)
	c.waitAccountStat("a-member", "/v1/AUTH_a", "X-Account-Bytes-Used", "6") // account stats follow object writes
	if r := c.expect("a-member", "PUT", "/v1/AUTH_a/c/o2", "123456", 413); r.body != "Upload exceeds quota." {
		t.Fatalf("413 body %q", r.body)
	}
	c.expect("reseller", "PUT", "/v1/AUTH_a/c/o2", "123456", 201)
	c.expect("reseller", "POST", "/v1/AUTH_a", "", 204, "X-Remove-Account-Quota-Bytes", "x", "X-Account-Quota-Count", "3")
	c.expect("a-member", "PUT", "/v1/AUTH_a/c/o3", "123456", 201)
	c.waitAccountStat("a-member", "/v1/AUTH_a", "X-Account-Object-Count", "3")
	c.expect("a-member", "PUT", "/v1/AUTH_a/c/o4", "1", 413)
	// per policy
	c.expect("a-member", "POST", "/v1/AUTH_a", "", 403, "X-Account-Quota-Bytes-Policy-Policy-0", "1")
	c.expect("reseller", "POST", "/v1/AUTH_a", "", 204, "X-Remove-Account-Quota-Count", "x",
		"X-Account-Quota-Bytes-Policy-Policy-0", "20")
	if r := c.expect("a-member", "HEAD", "/v1/AUTH_a", "", 204); r.header.Get("X-Account-Quota-Bytes-Policy-Policy-0") != "20" ||
		r.header.Get("X-Account-Quota-Count") != "" {
		t.Fatalf("policy quota not shown: %v", r.header)
	}
	if r := c.expect("a-member", "PUT", "/v1/AUTH_a/c/o5", "123", 413); r.body != "Upload exceeds policy quota." {
		t.Fatalf("413 body %q", r.body)
	}
}

// TestObjectStoreCleanACL: container ACLs are stored as clean_acl cleans
// them; bad ones are 400 with its message.
func TestObjectStoreCleanACL(t *testing.T) {
	c := startAuthCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201, "X-Container-Read", " .referrer : * , b:*,, ")
	if r := c.expect("a-member", "HEAD", "/v1/AUTH_a/c", "", 204); r.header.Get("X-Container-Read") != ".r:*,b:*" {
		t.Fatalf("stored %q", r.header.Get("X-Container-Read"))
	}
	if r := c.expect("a-member", "POST", "/v1/AUTH_a/c", "", 400, "X-Container-Write", ".r:*"); r.body != "Referrers not allowed in write ACL: '.r:*'" {
		t.Fatalf("400 body %q", r.body)
	}
}

// waitAccountStat waits (up to 20 s) for the account's stat header to read
// want: containers report their stats to the account a moment after writes.
func (c *cluster) waitAccountStat(token, path, header, want string) {
	c.t.Helper()
	for range 200 {
		if c.do(token, "HEAD", path, "").header.Get(header) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s of %s never became %s", header, path, want)
}

// TestObjectStoreCORS: preflights and actual requests as upstream's proxy
// answers them from the container's Access-Control metadata.
func TestObjectStoreCORS(t *testing.T) {
	c := startAuthCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201,
		"X-Container-Meta-Access-Control-Allow-Origin", "http://good.example https://other.example",
		"X-Container-Meta-Access-Control-Max-Age", "600", "X-Container-Meta-Access-Control-Expose-Headers", "X-Custom")
	c.expect("a-member", "PUT", "/v1/AUTH_a/c/o", "data", 201, "X-Object-Meta-Color", "blue")
	c.expect("a-member", "PUT", "/v1/AUTH_a/open", "", 201, "X-Container-Meta-Access-Control-Allow-Origin", "*")
	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
		want       map[string]string
	}{
		{"not CORS", "/v1/AUTH_a/c/o", nil, 200, map[string]string{"Allow": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
			"Access-Control-Allow-Origin": ""}},
		{"account", "/v1/AUTH_a", []string{"Origin", "http://good.example"}, 200, map[string]string{"Allow": "GET, HEAD, OPTIONS, POST",
			"Access-Control-Allow-Origin": ""}},
		{"preflight", "/v1/AUTH_a/c/o", []string{"Origin", "http://good.example", "Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "x-auth-token, content-type"}, 200, map[string]string{
			"Access-Control-Allow-Origin": "http://good.example", "Access-Control-Max-Age": "600",
			"Access-Control-Allow-Methods": "DELETE, GET, HEAD, OPTIONS, POST, PUT",
			"Access-Control-Allow-Headers": "x-auth-token, content-type", "Vary": "Origin, Access-Control-Request-Headers"}},
		{"star", "/v1/AUTH_a/open", []string{"Origin", "http://any.example", "Access-Control-Request-Method", "GET"}, 200,
			map[string]string{"Access-Control-Allow-Origin": "*", "Vary": ""}},
		{"origin refused", "/v1/AUTH_a/c/o", []string{"Origin", "http://evil.example", "Access-Control-Request-Method", "GET"}, 401,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"method refused", "/v1/AUTH_a/c/o", []string{"Origin", "http://good.example", "Access-Control-Request-Method", "COPY"}, 401, nil},
		{"no container", "/v1/AUTH_a/none/o", []string{"Origin", "http://good.example", "Access-Control-Request-Method", "GET"}, 401, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("", "OPTIONS", tc.path, "", tc.headers...)
			if r.status != tc.status {
				t.Fatalf("%d %q, want %d", r.status, r.body, tc.status)
			}
			for k, v := range tc.want {
				if r.header.Get(k) != v {
					t.Errorf("%s: %q, want %q", k, r.header.Get(k), v)
				}
			}
		})
	}
	r := c.expect("a-member", "GET", "/v1/AUTH_a/c/o", "", 200, "Origin", "https://other.example")
	if r.header.Get("Access-Control-Allow-Origin") != "https://other.example" || r.header.Get("Vary") != "Origin" ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "x-object-meta-color") ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "x-custom") ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "etag") {
		t.Fatalf("actual request: %v", r.header)
	}
	// strict_cors_mode: no headers for an origin not allowed
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/c/o", "", 200, "Origin", "http://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("evil origin: %v", r.header)
	}
	// a denial carries them too, so the browser can read it
	if r := c.expect("", "GET", "/v1/AUTH_a/c/o", "", 401, "Origin", "http://good.example"); r.header.Get("Access-Control-Allow-Origin") != "http://good.example" {
		t.Fatalf("401: %v", r.header)
	}
}

// TestObjectStoreStaticWeb: a container served as a web site to anonymous
// readers, as upstream's staticweb serves it.
func TestObjectStoreStaticWeb(t *testing.T) {
	c := startAuthCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/site", "", 201, "X-Container-Read", ".r:*,.rlistings",
		"X-Container-Meta-Web-Index", "index.html", "X-Container-Meta-Web-Error", "error.html")
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/index.html", "<h1>home</h1>", 201, "Content-Type", "text/html")
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/404error.html", "<h1>lost</h1>", 201, "Content-Type", "text/html")
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/docs/index.html", "<h1>docs</h1>", 201, "Content-Type", "text/html")
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/files/a.txt", "aaa", 201, "Content-Type", "text/plain")
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/files/sub/b.txt", "b", 201)
	c.expect("a-member", "PUT", "/v1/AUTH_a/site/dirmarker", "", 201, "Content-Type", "application/directory")

	get := func(path string) (int, http.Header, string) {
		t.Helper()
		res, err := noRedirectClient.Get(c.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sb strings.Builder
		_, _ = io.Copy(&sb, res.Body)
		return res.StatusCode, res.Header, sb.String()
	}
	for _, tc := range []struct {
		path, location, body string
		status               int
	}{
		{"/v1/AUTH_a/site", c.url + "/v1/AUTH_a/site/", "", 301},
		{"/v1/AUTH_a/site/", "", "<h1>home</h1>", 200},
		{"/v1/AUTH_a/site/docs", c.url + "/v1/AUTH_a/site/docs/", "", 301},
		{"/v1/AUTH_a/site/docs/", "", "<h1>docs</h1>", 200},
		{"/v1/AUTH_a/site/files/a.txt", "", "aaa", 200},
		{"/v1/AUTH_a/site/missing", "", "<h1>lost</h1>", 404},
		{"/v1/AUTH_a/site/files", c.url + "/v1/AUTH_a/site/files/", "", 301},
	} {
		status, h, body := get(tc.path)
		if status != tc.status || h.Get("Location") != tc.location || (tc.body != "" && body != tc.body) {
			t.Errorf("GET %s: %d %q (Location %q), want %d %q %q", tc.path, status, body, h.Get("Location"), tc.status, tc.body, tc.location)
		}
	}
	// no index under files/: a listing once listings are on
	if status, _, body := get("/v1/AUTH_a/site/files/"); status != 404 || !strings.Contains(body, "<h1>lost</h1>") {
		t.Fatalf("listing disabled: %d %q", status, body)
	}
	c.expect("a-member", "POST", "/v1/AUTH_a/site", "", 204, "X-Container-Meta-Web-Listings", "true")
	status, h, body := get("/v1/AUTH_a/site/files/")
	if status != 200 || h.Get("Content-Type") != "text/html; charset=UTF-8" ||
		!strings.Contains(body, "<title>Listing of /v1/AUTH_a/site/files/</title>") ||
		!strings.Contains(body, `<tr class="item type-text type-plain">`+"\n"+`    <td class="colname"><a href="./a%2Etxt">a.txt</a></td>`+"\n"+`    <td class="colsize">3</td>`) ||
		!strings.Contains(body, `<a href="./sub/">sub/</a>`) || !strings.Contains(body, `<a href="../">../</a>`) {
		t.Fatalf("listing: %d %v\n%s", status, h, body)
	}
	// an owner with a token sees the API, not the site
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/site", "", 200); !strings.Contains(r.body, "index.html\n") {
		t.Fatalf("owner's listing: %q", r.body)
	}
	// a container without a read ACL stays closed
	c.expect("a-member", "PUT", "/v1/AUTH_a/private", "", 201, "X-Container-Meta-Web-Index", "index.html")
	if status, _, _ := get("/v1/AUTH_a/private/"); status != 401 {
		t.Fatalf("private site: %d", status)
	}
}

// formPostBody is a multipart form: fields in order, then files.
func formPostBody(fields [][2]string, files [][2]string) (string, string) {
	var sb strings.Builder
	const boundary = "----nimbusformboundary"
	for _, f := range fields {
		sb.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + f[0] + "\"\r\n\r\n" + f[1] + "\r\n")
	}
	for _, f := range files {
		sb.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + f[0] +
			"\"\r\nContent-Type: text/plain\r\n\r\n" + f[1] + "\r\n")
	}
	sb.WriteString("--" + boundary + "--\r\n")
	return sb.String(), "multipart/form-data; boundary=" + boundary
}

func formSignature(key, path, redirect, maxSize, maxCount, expires string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(path + "\n" + redirect + "\n" + maxSize + "\n" + maxCount + "\n" + expires))
	return hex.EncodeToString(mac.Sum(nil))
}

// TestObjectStoreFormPost: browser uploads signed with the temp URL key, as
// upstream's formpost answers them.
func TestObjectStoreFormPost(t *testing.T) {
	c := startAuthCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/up", "", 201)
	c.expect("a-member", "POST", "/v1/AUTH_a", "", 204, "X-Account-Meta-Temp-URL-Key", "secret")
	path := "/v1/AUTH_a/up/pre/"
	expires := strconv.FormatInt(time.Now().Unix()+600, 10)
	fields := func(redirect, maxSize, maxCount, expires, sig string) [][2]string {
		return [][2]string{{"redirect", redirect}, {"max_file_size", maxSize}, {"max_file_count", maxCount},
			{"expires", expires}, {"signature", sig}}
	}
	good := formSignature("secret", path, "", "100", "2", expires)
	for _, tc := range []struct {
		name     string
		path     string
		fields   [][2]string
		files    [][2]string
		status   int
		body     string
		location string
	}{
		{"ok", path, fields("", "100", "2", expires, good), [][2]string{{"a.txt", "aaa"}, {"b.txt", "bb"}}, 201, "201 Created", ""},
		{"too many", path, fields("", "100", "2", expires, good), [][2]string{{"c.txt", "c"}, {"d.txt", "d"}, {"e.txt", "e"}}, 400,
			"400 Bad Request\r\nFormPost: Max File Count Exceeded", ""},
		{"too big", path, fields("", "100", "2", expires, good), [][2]string{{"big.txt", strings.Repeat("x", 101)}}, 400,
			"FormPost: max_file_size exceeded", ""},
		{"bad signature", path, fields("", "100", "2", expires, formSignature("wrong", path, "", "100", "2", expires)),
			[][2]string{{"f.txt", "f"}}, 401, "FormPost: Invalid Signature", ""},
		{"expired", path, fields("", "100", "2", "1", formSignature("secret", path, "", "100", "2", "1")),
			[][2]string{{"f.txt", "f"}}, 401, "FormPost: Form Expired", ""},
		{"no files", path, fields("", "100", "2", expires, good), nil, 400, "400 Bad Request\r\nFormPost: No Files To Process", ""},
		{"not an integer", path, fields("", "x", "2", expires, good), [][2]string{{"f.txt", "f"}}, 400,
			"FormPost: max_file_size not an integer", ""},
		{"redirect", path, fields("https://example.com/done", "100", "2", expires,
			formSignature("secret", path, "https://example.com/done", "100", "2", expires)), [][2]string{{"r.txt", "r"}}, 303,
			`<html><body><p><a href="https://example.com/done?status=201&message=">Click to continue...</a></p></body></html>`,
			"https://example.com/done?status=201&message="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := formPostBody(tc.fields, tc.files)
			req, _ := http.NewRequest("POST", c.url+tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			res, err := noRedirectClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{res.StatusCode, res.Header, string(data)}
			if r.status != tc.status || r.body != tc.body || r.header.Get("Location") != tc.location {
				t.Fatalf("%d %q (Location %q), want %d %q", r.status, r.body, r.header.Get("Location"), tc.status, tc.body)
			}
		})
	}
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/up/pre/a.txt", "", 200); r.body != "aaa" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("uploaded object: %q %v", r.body, r.header)
	}
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/up?prefix=pre/", "", 200); r.body != "pre/a.txt\npre/b.txt\npre/c.txt\npre/d.txt\npre/r.txt\n" {
		t.Fatalf("listing: %q", r.body)
	}
}

// noRedirectClient shows redirects rather than following them.
var noRedirectClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// tarBody is a tar archive of files (name, content) and a directory.
func tarBody(t *testing.T, files [][2]string, gz bool) string {
	t.Helper()
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	tw := tar.NewWriter(w)
	_ = tw.WriteHeader(&tar.Header{Name: "somedir/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		hdr := &tar.Header{Name: f[0], Size: int64(len(f[1])), Mode: 0o644, Typeflag: tar.TypeReg}
		if strings.HasSuffix(f[0], ".meta") {
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.meta.color": "blue", "SCHILY.xattr.user.mime_type": "text/x-meta"}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(f[1]))
	}
	_ = tw.Close()
	if zw != nil {
		_ = zw.Close()
	}
	return buf.String()
}

// TestObjectStoreExtractArchive: bulk upload as upstream's extract-archive
// answers it; archive member names name only objects.
func TestObjectStoreExtractArchive(t *testing.T) {
	c := startAuthCluster(t)
	archive := tarBody(t, [][2]string{{"c1/a.txt", "aaa"}, {"./c1/sub/b.txt", "bb"}, {"/c2/x.meta", "x"}, {"top.txt", "ignored"},
		{"c3/../../etc/passwd", "p"}}, false)
	r := c.expect("a-member", "PUT", "/v1/AUTH_a?extract-archive=tar", archive, 200, "Accept", "application/json")
	if r.body != `{"Response Status": "201 Created", "Response Body": "", "Number Files Created": 4, "Errors": []}` {
		t.Fatalf("summary: %q", r.body)
	}
	if got := c.expect("a-member", "GET", "/v1/AUTH_a/c1", "", 200).body; got != "a.txt\nsub/b.txt\n" {
		t.Fatalf("c1: %q", got)
	}
	if got := c.expect("a-member", "GET", "/v1/AUTH_a/c3/../../etc/passwd", "", 200); got.body != "p" {
		t.Fatalf("a name with dots is an object name: %q", got.body)
	}
	if got := c.expect("a-member", "HEAD", "/v1/AUTH_a/c2/x.meta", "", 200); got.header.Get("X-Object-Meta-Color") != "blue" ||
		got.header.Get("Content-Type") != "text/x-meta" {
		t.Fatalf("pax metadata: %v", got.header)
	}
	// under a container and prefix, gzipped
	gz := tarBody(t, [][2]string{{"d/e.txt", "e"}}, true)
	r = c.expect("a-member", "PUT", "/v1/AUTH_a/c1/pre?extract-archive=tar.gz", gz, 200)
	if r.body != "Number Files Created: 1\nResponse Body: \nResponse Status: 201 Created\nErrors:\n" {
		t.Fatalf("text summary: %q", r.body)
	}
	c.expect("a-member", "GET", "/v1/AUTH_a/c1/pre/d/e.txt", "", 200)
	for _, tc := range []struct{ name, query, body, accept, want string }{
		{"not gzip", "tar.gz", archive, "", "Number Files Created: 0\nResponse Body: Invalid Tar File: not a gzip file\nResponse Status: 400 Bad Request\nErrors:\n"},
		{"empty", "tar", "", "", "Number Files Created: 0\nResponse Body: Invalid Tar File: empty file\nResponse Status: 400 Bad Request\nErrors:\n"},
		{"no files", "tar", tarBody(t, [][2]string{{"top.txt", "x"}}, false), "application/xml",
			"<extract>\n<number_files_created>0</number_files_created>\n<response_body>Invalid Tar File: No Valid Files</response_body>\n" +
				"<response_status>400 Bad Request</response_status>\n<errors>\n</errors>\n</extract>\n"},
	} {
		if r := c.expect("a-member", "PUT", "/v1/AUTH_a?extract-archive="+tc.query, tc.body, 200, "Accept", tc.accept); r.body != tc.want {
			t.Errorf("%s: %q", tc.name, r.body)
		}
	}
	if r := c.expect("a-member", "PUT", "/v1/AUTH_a?extract-archive=zip", "x", 400); r.body != "Unsupported archive format" {
		t.Fatalf("zip: %q", r.body)
	}
	// another project's archive into this account: 401/403 per object
	r = c.expect("b-member", "PUT", "/v1/AUTH_a?extract-archive=tar", tarBody(t, [][2]string{{"c1/evil.txt", "x"}}, false), 200,
		"Accept", "application/json")
	if r.body != `{"Response Status": "400 Bad Request", "Response Body": "", "Number Files Created": 0, "Errors": [["/v1/AUTH_a/c1", "403 Forbidden"], ["c1/evil.txt", "403 Forbidden"]]}` {
		t.Fatalf("forbidden: %q", r.body)
	}
	if r := c.expect("", "PUT", "/v1/AUTH_a?extract-archive=tar", tarBody(t, [][2]string{{"c9/x.txt", "x"}}, false), 200); !strings.Contains(r.body, "Response Status: 401 Unauthorized") {
		t.Fatalf("anonymous: %q", r.body)
	}
}
