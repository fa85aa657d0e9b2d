package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eTempAuthUsers are the tempauth users of every cloud the package starts
// (upstream's sample users), set before TestMain starts the shared cloud so
// its config has them without another test's file changing.
const e2eTempAuthUsers = "user_test_tester = testing .admin; user_test2_tester2 = testing2 .admin; user_test_tester3 = testing3"

func init() {
	if _, set := os.LookupEnv("NIMBUS_OBJECT_STORE_TEMPAUTH_USERS"); !set {
		_ = os.Setenv("NIMBUS_OBJECT_STORE_TEMPAUTH_USERS", e2eTempAuthUsers)
	}
}

// objectStoreURL is the shared cloud's object-store proxy.
func objectStoreURL(t *testing.T, c *Cloud) string {
	t.Helper()
	u := c.Endpoints["object-store"]
	if u == "" {
		t.Fatalf("no object-store endpoint in %v", c.Endpoints)
	}
	return u
}

// tempAuthSwift runs the swift CLI with tempauth credentials (-A -U -K) in dir.
func tempAuthSwift(t *testing.T, proxyURL, user, key, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") && !strings.HasPrefix(kv, "ST_") {
			env = append(env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	argv := append([]string{"-A", proxyURL + "/auth/v1.0", "-U", user, "-K", key}, args...)
	if err := swiftCLI.run(ctx, dir, argv, env, &stdout, &stderr); err != nil {
		t.Fatalf("swift %s: %v: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// tempAuthLogin is GET /auth/v1.0 with plain HTTP: the token and storage URL.
func tempAuthLogin(t *testing.T, proxyURL, user, key string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", proxyURL+"/auth/v1.0", nil)
	req.Header.Set("X-Auth-User", user)
	req.Header.Set("X-Auth-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("tempauth login as %s: %d", user, res.StatusCode)
	}
	return res.Header.Get("X-Auth-Token"), res.Header.Get("X-Storage-Url")
}

// httpDo sends one request and returns its status, headers and body.
func httpDo(t *testing.T, method, url, token string, body io.Reader, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(data)
}

// TestObjectStoreTempAuthCLI drives the object store with the swift CLI
// authenticated by tempauth (swift -A .../auth/v1.0 -U test:tester -K
// testing): post, upload, list, download (bytes identical), stat, delete;
// a user without .admin gets in only through the container's ACL.
func TestObjectStoreTempAuthCLI(t *testing.T) {
	t.Parallel()
	proxyURL := objectStoreURL(t, shared)
	dir := t.TempDir()
	data := make([]byte, 1<<20+3)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	sw := func(args ...string) string { return tempAuthSwift(t, proxyURL, "test:tester", "testing", dir, args...) }
	name := uniqueName("tempauth")
	sw("post", name)
	t.Cleanup(func() {
		cmd := exec.Command("swift", "-A", proxyURL+"/auth/v1.0", "-U", "test:tester", "-K", "testing", "delete", name)
		_ = cmd.Run()
	})
	sw("upload", name, "data.bin")
	if got := sw("list", name); got != "data.bin\n" {
		t.Fatalf("swift list: %q", got)
	}
	if got := sw("list"); !strings.Contains(got, name+"\n") {
		t.Fatalf("swift list of the account lacks %s: %q", name, got)
	}
	sw("download", name, "data.bin", "-o", "saved.bin")
	if got, err := os.ReadFile(filepath.Join(dir, "saved.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}
	stat := sw("stat", name, "data.bin")
	if !strings.Contains(stat, "Account: AUTH_test") || !strings.Contains(stat, fmt.Sprintf("Content Length: %d", len(data))) {
		t.Fatalf("swift stat:\n%s", stat)
	}
	// tester3 has no .admin: refused until the container's ACL names it
	token3, storage3 := tempAuthLogin(t, proxyURL, "test:tester3", "testing3")
	if status, _, _ := httpDo(t, "GET", storage3+"/"+name+"/data.bin", token3, nil); status != 403 {
		t.Fatalf("tester3 without an ACL: %d", status)
	}
	sw("post", "--read-acl", "test:tester3", name)
	if status, _, body := httpDo(t, "GET", storage3+"/"+name+"/data.bin", token3, nil); status != 200 || body != string(data) {
		t.Fatalf("tester3 with an ACL: %d, %d bytes", status, len(body))
	}
	sw("delete", name, "data.bin")
	if got := sw("list", name); got != "" {
		t.Fatalf("swift list after delete: %q", got)
	}
	sw("delete", name)
}

// TestObjectStoreAccountACLCLI: the demo project grants another project
// read access to its whole account with X-Account-Access-Control (swift post
// -H); that project's user reads with its own identity token and may not
// write.
func TestObjectStoreAccountACLCLI(t *testing.T) {
	t.Parallel()
	c := shared
	const admin = "nimbus-admin"
	dir := t.TempDir()
	name := uniqueName("account-acl")
	swift(t, c, dir, "post", name)
	t.Cleanup(func() {
		_, _ = runSwift(c, dir, "post", "-H", "X-Account-Access-Control:")
		_, _ = runSwift(c, dir, "delete", name)
	})
	if err := os.WriteFile(filepath.Join(dir, "o.txt"), []byte("shared"), 0o600); err != nil {
		t.Fatal(err)
	}
	swift(t, c, dir, "upload", name, "o.txt")
	demoURL := storageURL(t, c, dir).String()

	projectName, userName := uniqueName("acl-proj"), uniqueName("acl-user")
	password := "pw-" + uniqueName("acl")
	noteSecret(password)
	var project, user row
	OSJSON(t, c, admin, &project, "project", "create", projectName)
	projectID := str(project, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "project", "delete", projectID) })
	OSJSON(t, c, admin, &user, "user", "create", "--project", projectName, "--password", password, userName)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "user", "delete", str(user, "id")) })
	OS(t, c, admin, "role", "add", "--project", projectName, "--user", userName, "member")
	other := newCLIConfig(t, fmt.Sprintf(`clouds:
  e2e-other:
    auth:
      auth_url: %s
      username: %q
      password: %q
      project_name: %q
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
`, c.IdentityURL, userName, password, projectName))
	out, err := other.run("e2e-other", "token", "issue", "-f", "value", "-c", "id")
	if err != nil {
		t.Fatalf("token issue: %v %s", err, out)
	}
	token := strings.TrimSpace(out)

	if status, _, _ := httpDo(t, "GET", demoURL+"/"+name+"/o.txt", token, nil); status != 403 {
		t.Fatalf("another project before the ACL: %d", status)
	}
	swift(t, c, dir, "post", "-H", `X-Account-Access-Control:{"read-only":["`+projectID+`:*"]}`)
	if out := swift(t, c, dir, "stat"); !strings.Contains(out, projectID) {
		t.Fatalf("swift stat does not show the ACL to its owner:\n%s", out)
	}
	if status, _, body := httpDo(t, "GET", demoURL+"/"+name+"/o.txt", token, nil); status != 200 || body != "shared" {
		t.Fatalf("another project reading with the ACL: %d %q", status, body)
	}
	if status, _, body := httpDo(t, "GET", demoURL+"?format=json", token, nil); status != 200 || !strings.Contains(body, name) {
		t.Fatalf("another project listing with the ACL: %d %q", status, body)
	}
	if status, _, _ := httpDo(t, "PUT", demoURL+"/"+name+"/x", token, strings.NewReader("x")); status != 403 {
		t.Fatalf("another project writing with a read-only ACL: %d", status)
	}
	if status, h, _ := httpDo(t, "HEAD", demoURL, token, nil); status != 204 || h.Get("X-Account-Access-Control") != "" {
		t.Fatalf("a reader's HEAD: %d %v", status, h)
	}
}

// curl runs curl and returns its output (-i: with the status line and headers).
func curl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestObjectStoreWebMiddleware drives the account and web middleware of a
// tempauth account on the shared cloud as browsers and tools use them: a
// static-web site fetched anonymously with curl, a CORS preflight, a form
// post of plain HTTP multipart, and an archive uploaded with
// ?extract-archive by curl.
func TestObjectStoreWebMiddleware(t *testing.T) {
	t.Parallel()
	proxyURL := objectStoreURL(t, shared)
	dir := t.TempDir()
	sw := func(args ...string) string { return tempAuthSwift(t, proxyURL, "test:tester", "testing", dir, args...) }
	token, storage := tempAuthLogin(t, proxyURL, "test:tester", "testing")
	site, uploads, extracted := uniqueName("site"), uniqueName("uploads"), uniqueName("extracted")
	t.Cleanup(func() {
		for _, c := range []string{site, uploads, extracted} {
			_ = exec.Command("swift", "-A", proxyURL+"/auth/v1.0", "-U", "test:tester", "-K", "testing", "delete", c).Run()
		}
	})

	// static web, with CORS for one origin
	sw("post", "-r", ".r:*,.rlistings", "-m", "web-index:index.html", "-m", "web-listings:true",
		"-H", "X-Container-Meta-Access-Control-Allow-Origin:https://app.example", site)
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<h1>welcome</h1>", "docs/guide.txt": "read me"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sw("upload", site, "index.html", "docs/guide.txt")
	if out := curl(t, dir, storage+"/"+site+"/"); out != "<h1>welcome</h1>" {
		t.Fatalf("anonymous index page: %q", out)
	}
	if out := curl(t, dir, "-i", storage+"/"+site); !strings.Contains(out, "301 Moved Permanently") ||
		!strings.Contains(out, "Location: "+storage+"/"+site+"/") {
		t.Fatalf("redirect to the directory: %q", out)
	}
	if out := curl(t, dir, storage+"/"+site+"/docs/"); !strings.Contains(out, `<a href="./guide%2Etxt">guide.txt</a>`) {
		t.Fatalf("anonymous listing: %q", out)
	}
	preflight := curl(t, dir, "-i", "-X", "OPTIONS", "-H", "Origin: https://app.example",
		"-H", "Access-Control-Request-Method: GET", storage+"/"+site+"/index.html")
	if !strings.HasPrefix(preflight, "HTTP/1.1 200") || !strings.Contains(preflight, "Access-Control-Allow-Origin: https://app.example") ||
		!strings.Contains(preflight, "Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, POST, PUT") {
		t.Fatalf("CORS preflight: %q", preflight)
	}
	if out := curl(t, dir, "-i", "-X", "OPTIONS", "-H", "Origin: https://evil.example",
		"-H", "Access-Control-Request-Method: GET", storage+"/"+site+"/index.html"); !strings.HasPrefix(out, "HTTP/1.1 401") {
		t.Fatalf("CORS preflight from another origin: %q", out)
	}

	// form post, signed with the container's temp URL key
	sw("post", "-m", "Temp-URL-Key:formsecret", uploads)
	path := strings.TrimPrefix(storage, proxyURL) + "/" + uploads + "/in/"
	expires := fmt.Sprint(time.Now().Unix() + 300)
	mac := hmac.New(sha256.New, []byte("formsecret"))
	mac.Write([]byte(path + "\n\n1024\n2\n" + expires))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, kv := range [][2]string{{"redirect", ""}, {"max_file_size", "1024"}, {"max_file_count", "2"},
		{"expires", expires}, {"signature", hex.EncodeToString(mac.Sum(nil))}} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("file1", "hello.txt")
	_, _ = fw.Write([]byte("hello from a form"))
	_ = mw.Close()
	status, _, body := httpDo(t, "POST", proxyURL+path, "", &form, "Content-Type", mw.FormDataContentType())
	if status != 201 || body != "201 Created" {
		t.Fatalf("form post: %d %q", status, body)
	}
	if status, _, body := httpDo(t, "GET", storage+"/"+uploads+"/in/hello.txt", token, nil); status != 200 || body != "hello from a form" {
		t.Fatalf("uploaded by the form: %d %q", status, body)
	}
	var bad bytes.Buffer
	mw = multipart.NewWriter(&bad)
	for _, kv := range [][2]string{{"max_file_size", "1024"}, {"max_file_count", "2"}, {"expires", expires}, {"signature", strings.Repeat("0", 64)}} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	fw, _ = mw.CreateFormFile("file1", "evil.txt")
	_, _ = fw.Write([]byte("x"))
	_ = mw.Close()
	if status, _, body := httpDo(t, "POST", proxyURL+path, "", &bad, "Content-Type", mw.FormDataContentType()); status != 401 ||
		body != "FormPost: Invalid Signature" {
		t.Fatalf("forged form post: %d %q", status, body)
	}

	// bulk upload: a tar made by tar(1), PUT by curl
	src := filepath.Join(dir, "tree")
	for name, body := range map[string]string{"a.txt": "A", "sub/b.txt": "BB"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o700)
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("tar", "-C", src, "-czf", filepath.Join(dir, "tree.tar.gz"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	out := curl(t, dir, "-X", "PUT", "-H", "X-Auth-Token: "+token, "-H", "Accept: application/json",
		"--data-binary", "@tree.tar.gz", storage+"/"+extracted+"?extract-archive=tar.gz")
	if out != `{"Response Status": "201 Created", "Response Body": "", "Number Files Created": 2, "Errors": []}` {
		t.Fatalf("extract-archive: %q", out)
	}
	if got := sw("list", extracted); got != "a.txt\nsub/b.txt\n" {
		t.Fatalf("extracted: %q", got)
	}
}

// TestObjectStoreProxyRole boots a second proxy (nimbus serve --role proxy)
// beside the shared cloud, on its rings, Fernet keys and bus: what one proxy
// writes the other reads, identity's tokens work at both, and a tempauth
// token issued by one is good at the other.
func TestObjectStoreProxyRole(t *testing.T) {
	t.Parallel()
	c := shared
	dir := t.TempDir()
	p, line, err := startProcess([]string{"serve", "--role", "proxy", "--config", filepath.Join(c.Dir, "join.toml"),
		"--data-dir", c.Dir, "--ephemeral-ports"}, nil, filepath.Join(dir, "proxy.log"), "nimbus proxy ready")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop the proxy: %v", err)
		}
	})
	second := ""
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "object-store="); ok {
			second = v
		}
	}
	if second == "" {
		t.Fatalf("ready line without the proxy's URL: %q", line)
	}
	first := objectStoreURL(t, c)

	// tempauth: a token from the first proxy at the second
	token, storage := tempAuthLogin(t, first, "test:tester", "testing")
	name := uniqueName("proxy-role")
	t.Cleanup(func() {
		_ = exec.Command("swift", "-A", first+"/auth/v1.0", "-U", "test:tester", "-K", "testing", "delete", name).Run()
	})
	storage2 := second + strings.TrimPrefix(storage, first)
	if status, _, body := httpDo(t, "PUT", storage2+"/"+name, token, nil); status != 201 {
		t.Fatalf("container PUT through the second proxy: %d %q", status, body)
	}
	if status, _, _ := httpDo(t, "PUT", storage+"/"+name+"/o", token, strings.NewReader("via the first")); status != 201 {
		t.Fatalf("object PUT through the first proxy: %d", status)
	}
	if status, _, body := httpDo(t, "GET", storage2+"/"+name+"/o", token, nil); status != 200 || body != "via the first" {
		t.Fatalf("GET through the second proxy: %d %q", status, body)
	}
	// the swift CLI against the second proxy alone
	if err := os.WriteFile(filepath.Join(dir, "up.txt"), []byte("via the second"), 0o600); err != nil {
		t.Fatal(err)
	}
	tempAuthSwift(t, second, "test:tester", "testing", dir, "upload", name, "up.txt")
	if got := tempAuthSwift(t, first, "test:tester", "testing", dir, "list", name); got != "o\nup.txt\n" {
		t.Fatalf("listing through the first proxy: %q", got)
	}
	// identity: the demo project's token through the second proxy
	demoURL := storageURL(t, c, dir)
	if _, err := runSwift(c, dir, "--os-storage-url", second+demoURL.Path, "list"); err != nil {
		t.Fatalf("swift list through the second proxy with an identity token: %v", err)
	}
	if status, h, _ := httpDo(t, "GET", second+demoURL.Path, "not-a-token", nil); status != 401 ||
		h.Get("Www-Authenticate") != "Keystone uri='"+c.IdentityURL+"'" {
		t.Fatalf("a bad token at the second proxy: %d %v", status, h)
	}
}
