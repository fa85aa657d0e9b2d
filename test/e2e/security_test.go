package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Acceptance 3: authorization, token validity, secrets kept out of logs, and hostile
// request bodies answered with Keystone's error body, never a 500.

// secrets are passwords, credential secrets and tokens the tests handled; none of
// them may ever appear in a cloud's log (TestLogsHoldNoSecrets).
var secrets struct {
	sync.Mutex
	list []string
}

func noteSecret(s string) {
	if s == "" {
		return
	}
	secrets.Lock()
	secrets.list = append(secrets.list, s)
	secrets.Unlock()
}

func notedSecrets() []string {
	secrets.Lock()
	defer secrets.Unlock()
	return append([]string(nil), secrets.list...)
}

// decodeJSON decodes the text of a response or of CLI output into v.
func decodeJSON(t *testing.T, text string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) String() string {
	return fmt.Sprintf("HTTP %d %s", r.Status, truncate(string(r.Body), 600))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// request sends method url with an optional token and body. A body of type []byte or
// string goes as is; anything else is encoded as JSON. headers are name, value pairs.
func request(t *testing.T, method, url, token string, body any, headers ...string) response {
	t.Helper()
	r, err := tryRequest(context.Background(), method, url, token, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func tryRequest(ctx context.Context, method, url, token string, body any, headers ...string) (response, error) {
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	case string:
		reader = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reader)
	if err != nil {
		return response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// passwordAuth is the body of a password login, scoped to a project of domain Default.
func passwordAuth(user, password, project string) map[string]any {
	return map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]any{"id": "default"}, "password": password}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}},
	}}
}

// tokenInfo is what the tests read of a token response.
type tokenInfo struct {
	Token struct {
		ExpiresAt string `json:"expires_at"`
		IssuedAt  string `json:"issued_at"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
		Project struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"project"`
		Roles []struct {
			Name string `json:"name"`
		} `json:"roles"`
	} `json:"token"`
}

// login issues a project-scoped token for user and returns it with its body.
func login(t *testing.T, c *Cloud, user, password, project string) (string, tokenInfo) {
	t.Helper()
	r := request(t, "POST", c.IdentityURL+"/v3/auth/tokens?nocatalog", "", passwordAuth(user, password, project))
	if r.Status != http.StatusCreated {
		t.Fatalf("login %s/%s: %v", user, project, r)
	}
	tok := r.Header.Get("X-Subject-Token")
	if tok == "" {
		t.Fatalf("login %s/%s: no X-Subject-Token", user, project)
	}
	noteSecret(tok)
	var info tokenInfo
	decodeJSON(t, string(r.Body), &info)
	return tok, info
}

// validate checks subject with auth (GET /v3/auth/tokens) and returns the status.
func validate(t *testing.T, c *Cloud, auth, subject string) response {
	t.Helper()
	return request(t, "GET", c.IdentityURL+"/v3/auth/tokens?nocatalog", auth, nil, "X-Subject-Token", subject)
}

// wantKeystoneError fails unless r has status code and Keystone's error body:
// {"error": {"code": code, "title": "...", "message": "..."}}.
func wantKeystoneError(t *testing.T, what string, r response, code int) {
	t.Helper()
	if r.Status != code {
		t.Fatalf("%s: %v, want HTTP %d", what, r, code)
	}
	var body struct {
		Error *struct {
			Code    int    `json:"code"`
			Title   string `json:"title"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || body.Error == nil {
		t.Fatalf("%s: body is not Keystone's error body (%v): %s", what, err, truncate(string(r.Body), 600))
	}
	if body.Error.Code != code || body.Error.Title == "" || body.Error.Message == "" {
		t.Fatalf("%s: error body %+v, want code %d with a title and a message", what, *body.Error, code)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want application/json", what, ct)
	}
}

func TestDemoIsForbiddenAdminActions(t *testing.T) {
	c := shared
	out := mustFail(t, c, "nimbus-demo", "HTTP 403", "user", "list")
	if !strings.Contains(out, "You are not authorized to perform the requested action") {
		t.Errorf("user list as demo: %q lacks Keystone's 403 message", out)
	}
	name := uniqueName("demo-may-not")
	mustFail(t, c, "nimbus-demo", "HTTP 403", "project", "create", name)
	mustFail(t, c, "nimbus-admin", "No project with a name or ID of", "project", "show", name)
	mustFail(t, c, "nimbus-demo", "HTTP 403", "domain", "create", name)
	mustFail(t, c, "nimbus-demo", "HTTP 403", "role", "create", name)

	// What demo may do, it can: its own token, its own project.
	var tok row
	OSJSON(t, c, "nimbus-demo", &tok, "token", "issue")
	noteSecret(str(tok, "id"))
	var project row
	OSJSON(t, c, "nimbus-demo", &project, "project", "show", str(tok, "project_id"))
	wantField(t, "project show as demo", project, "name", "demo")
}

func TestProjectScopedTokenCannotReadAnotherProject(t *testing.T) {
	c := shared
	adminTok, adminInfo := login(t, c, "admin", c.Secret("admin"), "admin")
	demoTok, demoInfo := login(t, c, "demo", c.Secret("demo"), "demo")
	if adminInfo.Token.Project.ID == "" || demoInfo.Token.Project.ID == adminInfo.Token.Project.ID {
		t.Fatalf("project ids: admin %q, demo %q", adminInfo.Token.Project.ID, demoInfo.Token.Project.ID)
	}
	r := request(t, "GET", c.IdentityURL+"/v3/projects/"+demoInfo.Token.Project.ID, demoTok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("demo reads its own project: %v", r)
	}
	wantKeystoneError(t, "demo reads project admin", request(t, "GET", c.IdentityURL+"/v3/projects/"+adminInfo.Token.Project.ID, demoTok, nil), 403)
	wantKeystoneError(t, "demo lists users", request(t, "GET", c.IdentityURL+"/v3/users", demoTok, nil), 403)
	wantKeystoneError(t, "demo reads user admin", request(t, "GET", c.IdentityURL+"/v3/users/"+adminInfo.Token.User.ID, demoTok, nil), 403)
	wantKeystoneError(t, "demo lists the role assignments of project admin",
		request(t, "GET", c.IdentityURL+"/v3/role_assignments?scope.project.id="+adminInfo.Token.Project.ID, demoTok, nil), 403)
	wantKeystoneError(t, "demo creates a project", request(t, "POST", c.IdentityURL+"/v3/projects", demoTok,
		map[string]any{"project": map[string]any{"name": uniqueName("demo-may-not")}}), 403)
	wantKeystoneError(t, "demo disables project admin", request(t, "PATCH", c.IdentityURL+"/v3/projects/"+adminInfo.Token.Project.ID, demoTok,
		map[string]any{"project": map[string]any{"enabled": false}}), 403)
	// Nor may demo re-scope its token to project admin.
	rescope := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": demoTok}},
		"scope":    map[string]any{"project": map[string]any{"id": adminInfo.Token.Project.ID}},
	}}
	wantKeystoneError(t, "demo re-scopes to project admin", request(t, "POST", c.IdentityURL+"/v3/auth/tokens", "", rescope), 401)
	// Admin still reads it.
	if r := request(t, "GET", c.IdentityURL+"/v3/projects/"+adminInfo.Token.Project.ID, adminTok, nil); r.Status != http.StatusOK {
		t.Fatalf("admin reads project admin: %v", r)
	}
}

func TestRevokedAndTamperedTokensAreRejected(t *testing.T) {
	c := shared
	adminTok, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	victim, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	projects := c.IdentityURL + "/v3/projects"
	if r := request(t, "GET", projects, victim, nil); r.Status != http.StatusOK {
		t.Fatalf("fresh token: %v", r)
	}
	if r := validate(t, c, adminTok, victim); r.Status != http.StatusOK || r.Header.Get("X-Subject-Token") != victim {
		t.Fatalf("validate fresh token: %v", r)
	}

	// Tampered: every kind of damage is a 401, never a 500.
	tampered := map[string]string{
		"one character changed in the middle": flip(victim, len(victim)/2),
		"one character changed at the end":    flip(victim, len(victim)-2),
		"truncated":                           victim[:len(victim)-10],
		"extended":                            victim + "AAAA",
		"not base64":                          victim[:40] + "!!!!" + victim[44:],
		"random":                              "gAAAAABrandomrandomrandomrandomrandomrandomrandomrandomrandomrandomrandom",
		"empty-looking":                       "x",
		"huge":                                strings.Repeat("gAAAAA", 2000),
	}
	for what, tok := range tampered {
		wantKeystoneError(t, "token "+what+" as X-Auth-Token", request(t, "GET", projects, tok, nil), 401)
		r := validate(t, c, adminTok, tok)
		if r.Status != http.StatusNotFound && r.Status != http.StatusUnauthorized {
			t.Fatalf("validate a token %s: %v, want 404 (or 401)", what, r)
		}
		wantKeystoneError(t, "validate a token "+what, r, r.Status)
	}
	wantKeystoneError(t, "no token", request(t, "GET", projects, "", nil), 401)

	// Revoked by DELETE /v3/auth/tokens.
	if r := request(t, "DELETE", c.IdentityURL+"/v3/auth/tokens", adminTok, nil, "X-Subject-Token", victim); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %v", r)
	}
	wantKeystoneError(t, "revoked token as X-Auth-Token", request(t, "GET", projects, victim, nil), 401)
	wantKeystoneError(t, "validate revoked token", validate(t, c, adminTok, victim), 404)
	rescope := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": victim}}}}
	// Keystone answers a login with the token method whose token is revoked or expired
	// with the 404 of its token validation ("Failed to validate token").
	wantKeystoneError(t, "log in with a revoked token", request(t, "POST", c.IdentityURL+"/v3/auth/tokens", "", rescope), 404)
	// The token that revoked it is unaffected.
	if r := request(t, "GET", projects, adminTok, nil); r.Status != http.StatusOK {
		t.Fatalf("the revoking token after the revocation: %v", r)
	}
}

// flip changes the character at i of a base64url token to another base64url one.
func flip(tok string, i int) string {
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestExpiredTokensAreRejected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// token_expiration from a config file rather than NIMBUS_TOKEN_EXPIRATION, so
	// that this test can run beside others (t.Setenv cannot).
	conf := filepath.Join(dir, "nimbus.toml")
	if err := os.WriteFile(conf, []byte("[identity]\ntoken_expiration = \"3s\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := StartCloud(filepath.Join(dir, "cloud"), "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })

	tok, info := login(t, c, "admin", c.Secret("admin"), "admin")
	issued, err1 := time.Parse(time.RFC3339, info.Token.IssuedAt)
	expires, err2 := time.Parse(time.RFC3339, info.Token.ExpiresAt)
	if err1 != nil || err2 != nil || expires.Sub(issued) < 2*time.Second || expires.Sub(issued) > 4*time.Second {
		t.Fatalf("issued_at %q, expires_at %q: want 3s apart (%v, %v)", info.Token.IssuedAt, info.Token.ExpiresAt, err1, err2)
	}
	if r := request(t, "GET", c.IdentityURL+"/v3/projects", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("fresh token: %v", r)
	}
	time.Sleep(time.Until(expires) + 1500*time.Millisecond)
	wantKeystoneError(t, "expired token as X-Auth-Token", request(t, "GET", c.IdentityURL+"/v3/projects", tok, nil), 401)
	fresh, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	wantKeystoneError(t, "validate an expired token", validate(t, c, fresh, tok), 404)
	rescope := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": tok}}}}
	wantKeystoneError(t, "log in with an expired token", request(t, "POST", c.IdentityURL+"/v3/auth/tokens", "", rescope), 404)
	assertNoSecretsInLog(t, c)
}

func TestHostileBodiesGetKeystoneErrors(t *testing.T) {
	c := shared
	adminTok, info := login(t, c, "admin", c.Secret("admin"), "admin")
	base := c.IdentityURL + "/v3"

	// 10 MB, well past Keystone's max_request_body_size (114688 bytes).
	big := append([]byte(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "`),
		bytes.Repeat([]byte("a"), 10<<20)...)
	big = append(big, []byte(`"}}}}}`)...)
	wantKeystoneError(t, "10 MB login", bigRequest(t, base+"/auth/tokens", "", big), 413)
	bigProject := append([]byte(`{"project": {"name": "x", "description": "`), bytes.Repeat([]byte("b"), 10<<20)...)
	bigProject = append(bigProject, []byte(`"}}`)...)
	wantKeystoneError(t, "10 MB project", bigRequest(t, base+"/projects", adminTok, bigProject), 413)

	cases := []struct {
		what, method, path string
		token              bool
		body               string
	}{
		{"malformed login", "POST", "/auth/tokens", false, `{"auth": {"identity":`},
		{"login not an object", "POST", "/auth/tokens", false, `[1, 2, 3]`},
		{"login null", "POST", "/auth/tokens", false, `null`},
		{"login empty body", "POST", "/auth/tokens", false, ``},
		{"login with trailing garbage", "POST", "/auth/tokens", false, `{"auth": {}} {"auth": {}}`},
		{"login auth a list", "POST", "/auth/tokens", false, `{"auth": []}`},
		{"login methods a string", "POST", "/auth/tokens", false, `{"auth": {"identity": {"methods": "password"}}}`},
		{"login methods of numbers", "POST", "/auth/tokens", false, `{"auth": {"identity": {"methods": [1]}}}`},
		{"login password a number", "POST", "/auth/tokens", false,
			`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": 12345}}}}}`},
		{"login user a string", "POST", "/auth/tokens", false,
			`{"auth": {"identity": {"methods": ["password"], "password": {"user": "admin"}}}}`},
		{"login scope a number, wrong password", "POST", "/auth/tokens", false,
			`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": "x"}}}, "scope": 7}}`},
		// Keystone validates the body against its schema before it authenticates.
		{"login scope a number, right password", "POST", "/auth/tokens", false,
			`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": ` +
				strconv.Quote(c.Secret("admin")) + `}}}, "scope": 7}}`},
		{"login project scope a number", "POST", "/auth/tokens", false,
			`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": ` +
				strconv.Quote(c.Secret("admin")) + `}}}, "scope": {"project": 5}}}`},
		{"malformed project", "POST", "/projects", true, `{"project": {"name": "x"`},
		{"project name a number", "POST", "/projects", true, `{"project": {"name": 123}}`},
		{"project a string", "POST", "/projects", true, `{"project": "x"}`},
		// Keystone's boolean takes "yes", "no", "1", "off"... (parameter_types.boolean), not any string.
		{"project enabled a string", "POST", "/projects", true, `{"project": {"name": "x", "enabled": "maybe"}}`},
		{"project tags not a list", "POST", "/projects", true, `{"project": {"name": "x", "tags": "a"}}`},
		{"project without body", "POST", "/projects", true, ``},
		{"patch project enabled a string", "PATCH", "/projects/" + info.Token.Project.ID, true, `{"project": {"enabled": "nope"}}`},
		{"patch project malformed", "PATCH", "/projects/" + info.Token.Project.ID, true, `{"project": `},
		{"domain name a list", "POST", "/domains", true, `{"domain": {"name": ["a"]}}`},
		{"user name an object", "POST", "/users", true, `{"user": {"name": {"a": 1}}}`},
		{"user password a number", "POST", "/users", true, `{"user": {"name": "x", "password": 5}}`},
		{"group malformed", "POST", "/groups", true, `{"group": {`},
		{"role name a number", "POST", "/roles", true, `{"role": {"name": 1}}`},
		{"region malformed", "POST", "/regions", true, `{"region": }`},
	}
	for _, tc := range cases {
		t.Run(tc.what, func(t *testing.T) {
			token := ""
			if tc.token {
				token = adminTok
			}
			wantKeystoneError(t, tc.method+" "+tc.path+" "+truncate(tc.body, 60), request(t, tc.method, base+tc.path, token, []byte(tc.body)), 400)
		})
	}
	// The project admin is untouched by the attempts above.
	r := request(t, "GET", base+"/projects/"+info.Token.Project.ID, adminTok, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"enabled": true`) && !strings.Contains(string(r.Body), `"enabled":true`) {
		t.Fatalf("project admin after the hostile bodies: %v", r)
	}
}

// bigRequest POSTs an oversized body. The server may answer 413 and close the
// connection before the client has sent it all; a client that then fails to read the
// answer (a reset while writing) tries again rather than making the test flaky.
func bigRequest(t *testing.T, url, token string, body []byte) response {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		r, err := tryRequest(context.Background(), "POST", url, token, body)
		if err == nil {
			return r
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("POST %s with %d bytes: no answer in 5 attempts: %v", url, len(body), lastErr)
	return response{}
}

// tokenPattern matches a Fernet token (version byte 0x80, then an 8-byte timestamp).
var tokenPattern = regexp.MustCompile(`gAAAAA[A-Za-z0-9_=-]{40,}`)

// assertNoSecretsInLog fails if c's log holds a bootstrap password, a secret a test
// handled, or anything shaped like a token.
func assertNoSecretsInLog(t *testing.T, c *Cloud) {
	t.Helper()
	log := c.Log()
	if !strings.Contains(log, "nimbus ready") {
		t.Fatalf("log of %s looks empty: %q", c.Dir, truncate(log, 400))
	}
	for _, user := range []string{"admin", "demo"} {
		if strings.Contains(log, c.Secret(user)) {
			t.Errorf("the %s password appears in the log of %s", user, c.Dir)
		}
	}
	for _, s := range notedSecrets() {
		if strings.Contains(log, s) {
			t.Errorf("a secret or token (%s...) appears in the log of %s", s[:min(8, len(s))], c.Dir)
		}
	}
	if m := tokenPattern.FindString(log); m != "" {
		t.Errorf("something shaped like a token (%s...) appears in the log of %s", m[:12], c.Dir)
	}
}

// TestLogsHoldNoSecrets runs after the tests above have logged in, failed logins,
// revoked and tampered with tokens on the shared cloud.
func TestLogsHoldNoSecrets(t *testing.T) {
	c := shared
	// Whatever ran before, exercise the paths that handle secrets once more: logins,
	// validation, a revocation, and a failed login with another user's real password.
	adminTok, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	demoTok, _ := login(t, c, "demo", c.Secret("demo"), "demo")
	if r := validate(t, c, adminTok, demoTok); r.Status != http.StatusOK {
		t.Fatalf("validate demo's token: %v", r)
	}
	if r := request(t, "DELETE", c.IdentityURL+"/v3/auth/tokens", adminTok, nil, "X-Subject-Token", demoTok); r.Status != http.StatusNoContent {
		t.Fatalf("revoke demo's token: %v", r)
	}
	wantKeystoneError(t, "revoked token", request(t, "GET", c.IdentityURL+"/v3/projects", demoTok, nil), 401)
	wantKeystoneError(t, "demo logs in with admin's password",
		request(t, "POST", c.IdentityURL+"/v3/auth/tokens", "", passwordAuth("demo", c.Secret("admin"), "demo")), 401)
	assertNoSecretsInLog(t, c)
}
