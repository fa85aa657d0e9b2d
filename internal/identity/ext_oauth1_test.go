package identity

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testOAuth1Signer signs requests per RFC 5849 on its own, sharing no code with the
// server, as a consumer would.
type testOAuth1Signer struct {
	consumerKey, consumerSecret string
	token, tokenSecret          string
	method                      string // HMAC-SHA1 or PLAINTEXT
	extra                       map[string]string
	timestamp                   time.Time
	nonce                       string
	tamper                      bool // corrupt the signature
}

var testNonce int

func testPctEncode(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// header returns the Authorization header for method on rawURL.
func (sg testOAuth1Signer) header(method, rawURL string) string {
	ts := sg.timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	nonce := sg.nonce
	if nonce == "" {
		testNonce++
		nonce = fmt.Sprintf("n%d-%d", testNonce, time.Now().UnixNano())
	}
	params := map[string]string{
		"oauth_consumer_key": sg.consumerKey, "oauth_signature_method": sg.method,
		"oauth_timestamp": strconv.FormatInt(ts.Unix(), 10), "oauth_nonce": nonce, "oauth_version": "1.0",
	}
	if sg.token != "" {
		params["oauth_token"] = sg.token
	}
	for k, v := range sg.extra {
		params[k] = v
	}
	var pairs []string
	for k, v := range params {
		pairs = append(pairs, testPctEncode(k)+"="+testPctEncode(v))
	}
	sort.Strings(pairs)
	u, _ := url.Parse(rawURL)
	base := method + "&" + testPctEncode(u.Scheme+"://"+u.Host+u.EscapedPath()) + "&" + testPctEncode(strings.Join(pairs, "&"))
	key := testPctEncode(sg.consumerSecret) + "&" + testPctEncode(sg.tokenSecret)
	sig := key
	if sg.method == "HMAC-SHA1" {
		m := hmac.New(sha1.New, []byte(key))
		m.Write([]byte(base))
		sig = base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	if sg.tamper { // change the first character, whatever it was
		first := "x"
		if strings.HasPrefix(sig, "x") {
			first = "y"
		}
		sig = first + sig[1:]
	}
	params["oauth_signature"] = sig
	var parts []string
	for k, v := range params {
		parts = append(parts, fmt.Sprintf(`%s="%s"`, testPctEncode(k), testPctEncode(v)))
	}
	sort.Strings(parts)
	return "OAuth realm=\"\", " + strings.Join(parts, ", ")
}

// oauthPost sends an OAuth-signed POST and returns the status, body and headers.
func oauthPost(t *testing.T, e *testEnv, path string, sg testOAuth1Signer, headers map[string]string, body string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest("POST", e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", sg.header("POST", e.URL+path))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), resp.Header
}

// oauthForm parses a form-encoded token answer.
func oauthForm(t *testing.T, status int, body string, hdr http.Header) (token, secret string) {
	t.Helper()
	if status != http.StatusCreated || hdr.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("status %d, content type %q: %s", status, hdr.Get("Content-Type"), body)
	}
	v, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.999999Z07:00", v.Get("oauth_expires_at")); err != nil {
		t.Fatalf("oauth_expires_at %q: %v", v.Get("oauth_expires_at"), err)
	}
	return v.Get("oauth_token"), v.Get("oauth_token_secret")
}

type oauth1Fixture struct {
	consumerID, consumerSecret string
	adminID, adminProject      string
}

func newOAuth1Fixture(t *testing.T, e *testEnv) oauth1Fixture {
	t.Helper()
	c := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-OAUTH1/consumers", e.AdminToken,
		map[string]any{"consumer": map[string]any{"description": "test consumer"}}), "consumer")
	return oauth1Fixture{consumerID: c["id"].(string), consumerSecret: c["secret"].(string),
		adminID: extUserID(e, e.AdminToken), adminProject: extProjectID(e, e.AdminToken)}
}

func (f oauth1Fixture) signer(method string) testOAuth1Signer {
	return testOAuth1Signer{consumerKey: f.consumerID, consumerSecret: f.consumerSecret, method: method}
}

func (f oauth1Fixture) requestToken(t *testing.T, e *testEnv, method string) (string, string) {
	t.Helper()
	sg := f.signer(method)
	sg.extra = map[string]string{"oauth_callback": "oob"}
	status, body, hdr := oauthPost(t, e, "/v3/OS-OAUTH1/request_token", sg, map[string]string{"Requested-Project-Id": f.adminProject}, "")
	return oauthForm(t, status, body, hdr)
}

func (f oauth1Fixture) authorize(t *testing.T, e *testEnv, requestToken string, roles ...map[string]any) string {
	t.Helper()
	out := e.Must(http.StatusOK, "PUT", "/v3/OS-OAUTH1/authorize/"+requestToken, e.AdminToken, map[string]any{"roles": roles})
	v, _ := obj(out, "token")["oauth_verifier"].(string)
	if v == "" {
		t.Fatalf("no verifier: %v", out)
	}
	return v
}

func (f oauth1Fixture) accessToken(t *testing.T, e *testEnv, method, reqToken, reqSecret, verifier string) (string, string) {
	t.Helper()
	sg := f.signer(method)
	sg.token, sg.tokenSecret = reqToken, reqSecret
	sg.extra = map[string]string{"oauth_verifier": verifier}
	status, body, hdr := oauthPost(t, e, "/v3/OS-OAUTH1/access_token", sg, nil, "")
	return oauthForm(t, status, body, hdr)
}

var oauth1AuthBody = `{"auth":{"identity":{"methods":["oauth1"],"oauth1":{}}}}`

// oauth1Login authenticates with an access token.
func (f oauth1Fixture) login(t *testing.T, e *testEnv, sg testOAuth1Signer) (int, string, map[string]any) {
	t.Helper()
	status, body, hdr := oauthPost(t, e, "/v3/auth/tokens", sg, nil, oauth1AuthBody)
	var out map[string]any
	_ = json.Unmarshal([]byte(body), &out)
	return status, hdr.Get("X-Subject-Token"), out
}

func TestOAuth1ConsumerCRUD(t *testing.T) {
	e := newTestEnv(t)
	created := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-OAUTH1/consumers", e.AdminToken,
		map[string]any{"consumer": map[string]any{"description": "My consumer", "color": "blue"}}), "consumer")
	id, _ := created["id"].(string)
	if id == "" || created["secret"] == "" || created["description"] != "My consumer" || created["color"] != "blue" ||
		obj(created, "links")["self"] != e.URL+"/v3/OS-OAUTH1/consumers/"+id {
		t.Fatalf("created: %v", created)
	}
	got := obj(e.Must(http.StatusOK, "GET", "/v3/OS-OAUTH1/consumers/"+id, e.AdminToken, nil), "consumer")
	if _, has := got["secret"]; has || got["description"] != "My consumer" {
		t.Fatalf("get shows %v", got)
	}
	upd := obj(e.Must(http.StatusOK, "PATCH", "/v3/OS-OAUTH1/consumers/"+id, e.AdminToken,
		map[string]any{"consumer": map[string]any{"description": ""}}), "consumer")
	if upd["description"] != "" || upd["color"] != "blue" {
		t.Fatalf("updated: %v", upd)
	}
	all := list(e.Must(http.StatusOK, "GET", "/v3/OS-OAUTH1/consumers", e.AdminToken, nil), "consumers")
	if len(all) != 1 || all[0]["id"] != id || all[0]["secret"] != nil {
		t.Fatalf("list: %v", all)
	}
	extRunStatusCases(t, e, []extStatusCase{
		{"secret cannot change", "PATCH", "/v3/OS-OAUTH1/consumers/" + id, e.AdminToken,
			map[string]any{"consumer": map[string]any{"secret": "x"}}, http.StatusBadRequest},
		{"member cannot create", "POST", "/v3/OS-OAUTH1/consumers", e.DemoToken,
			map[string]any{"consumer": map[string]any{}}, http.StatusForbidden},
		{"member cannot list", "GET", "/v3/OS-OAUTH1/consumers", e.DemoToken, nil, http.StatusForbidden},
		{"no envelope", "POST", "/v3/OS-OAUTH1/consumers", e.AdminToken, map[string]any{}, http.StatusBadRequest},
		{"unknown", "GET", "/v3/OS-OAUTH1/consumers/nope", e.AdminToken, nil, http.StatusNotFound},
		{"delete", "DELETE", "/v3/OS-OAUTH1/consumers/" + id, e.AdminToken, nil, http.StatusNoContent},
		{"deleted", "GET", "/v3/OS-OAUTH1/consumers/" + id, e.AdminToken, nil, http.StatusNotFound},
	})
}

func TestOAuth1Flow(t *testing.T) {
	for _, method := range []string{"HMAC-SHA1", "PLAINTEXT"} {
		t.Run(method, func(t *testing.T) {
			e := newTestEnv(t)
			f := newOAuth1Fixture(t, e)
			memberID, readerID := extRoleID(t, e, "member"), extRoleID(t, e, "reader")

			reqToken, reqSecret := f.requestToken(t, e, method)
			verifier := f.authorize(t, e, reqToken, map[string]any{"id": memberID}, map[string]any{"name": "reader"})
			accToken, accSecret := f.accessToken(t, e, method, reqToken, reqSecret, verifier)

			// The request token is single-use.
			sg := f.signer(method)
			sg.token, sg.tokenSecret = reqToken, reqSecret
			sg.extra = map[string]string{"oauth_verifier": verifier}
			if status, body, _ := oauthPost(t, e, "/v3/OS-OAUTH1/access_token", sg, nil, ""); status != http.StatusNotFound {
				t.Fatalf("second exchange: %d %s", status, body)
			}

			base := "/v3/users/" + f.adminID + "/OS-OAUTH1/access_tokens"
			at := obj(e.Must(http.StatusOK, "GET", base+"/"+accToken, e.AdminToken, nil), "access_token")
			if at["id"] != accToken || at["consumer_id"] != f.consumerID || at["authorizing_user_id"] != f.adminID ||
				at["project_id"] != f.adminProject || at["expires_at"] == nil || at["secret"] != nil {
				t.Fatalf("access token: %v", at)
			}
			if ats := list(e.Must(http.StatusOK, "GET", base, e.AdminToken, nil), "access_tokens"); len(ats) != 1 || ats[0]["id"] != accToken {
				t.Fatalf("access tokens: %v", ats)
			}
			roles := extIDs(list(e.Must(http.StatusOK, "GET", base+"/"+accToken+"/roles", e.AdminToken, nil), "roles"))
			sort.Strings(roles)
			want := []string{memberID, readerID}
			sort.Strings(want)
			if strings.Join(roles, ",") != strings.Join(want, ",") {
				t.Fatalf("roles %v, want %v", roles, want)
			}
			if r := obj(e.Must(http.StatusOK, "GET", base+"/"+accToken+"/roles/"+readerID, e.AdminToken, nil), "role"); r["name"] != "reader" {
				t.Fatalf("role: %v", r)
			}
			e.Must(http.StatusNotFound, "GET", base+"/"+accToken+"/roles/"+extRoleID(t, e, "admin"), e.AdminToken, nil)

			// Authenticate with the access token.
			login := f.signer(method)
			login.token, login.tokenSecret = accToken, accSecret
			status, token, out := f.login(t, e, login)
			if status != http.StatusCreated || token == "" {
				t.Fatalf("oauth1 login: %d %v", status, out)
			}
			tok := obj(out, "token")
			oa := obj(tok, "OS-OAUTH1")
			if oa["access_token_id"] != accToken || oa["consumer_id"] != f.consumerID ||
				obj(tok, "project")["id"] != f.adminProject || obj(tok, "user")["id"] != f.adminID {
				t.Fatalf("token: %v", tok)
			}
			if methods, _ := tok["methods"].([]any); len(methods) != 1 || methods[0] != "oauth1" {
				t.Fatalf("methods: %v", tok["methods"])
			}
			got := extIDs(list(tok, "roles"))
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(want, ",") { // admin was not delegated
				t.Fatalf("token roles %v, want %v", got, want)
			}
			// Validation renders the same; the token is usable.
			status, body, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", token, nil, map[string]string{"X-Subject-Token": token})
			if status != http.StatusOK || obj(obj(body, "token"), "OS-OAUTH1")["access_token_id"] != accToken {
				t.Fatalf("validate: %d %v", status, body)
			}
			// An OAuth1 token cannot obtain other tokens.
			e.Must(http.StatusForbidden, "POST", "/v3/auth/tokens", "", map[string]any{"auth": map[string]any{
				"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": token}}}})

			// Deleting the access token revokes the tokens issued with it.
			e.Must(http.StatusNoContent, "DELETE", base+"/"+accToken, e.AdminToken, nil)
			if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
				t.Fatalf("revoked token validates: %d", status)
			}
			if status, _, _ := e.Do("GET", "/v3/auth/projects", token, nil); status != http.StatusUnauthorized {
				t.Fatalf("revoked token used: %d", status)
			}
			if status, _, out := f.login(t, e, login); status != http.StatusUnauthorized {
				t.Fatalf("login with deleted access token: %d %v", status, out)
			}
			e.Must(http.StatusNotFound, "GET", base+"/"+accToken, e.AdminToken, nil)
		})
	}
}

func TestOAuth1Rejections(t *testing.T) {
	e := newTestEnv(t)
	f := newOAuth1Fixture(t, e)
	memberID := extRoleID(t, e, "member")
	reqPath := "/v3/OS-OAUTH1/request_token"
	project := map[string]string{"Requested-Project-Id": f.adminProject}

	t.Run("request token", func(t *testing.T) {
		tamper := f.signer("HMAC-SHA1")
		tamper.tamper = true
		wrongSecret := f.signer("HMAC-SHA1")
		wrongSecret.consumerSecret = "not-the-secret"
		plainWrong := f.signer("PLAINTEXT")
		plainWrong.consumerSecret = "not-the-secret"
		stale := f.signer("HMAC-SHA1")
		stale.timestamp = time.Now().Add(-time.Hour)
		unknown := f.signer("HMAC-SHA1")
		unknown.consumerKey = newID()
		rsa := f.signer("HMAC-SHA1")
		rsa.method = "RSA-SHA1"
		for _, tt := range []struct {
			name    string
			sg      testOAuth1Signer
			headers map[string]string
			want    int
		}{
			{"bad signature", tamper, project, http.StatusUnauthorized},
			{"wrong consumer secret", wrongSecret, project, http.StatusUnauthorized},
			{"wrong plaintext secret", plainWrong, project, http.StatusUnauthorized},
			{"stale timestamp", stale, project, http.StatusUnauthorized},
			{"unknown consumer", unknown, project, http.StatusNotFound},
			{"unsupported method", rsa, project, http.StatusBadRequest},
			{"no project", f.signer("HMAC-SHA1"), nil, http.StatusBadRequest},
			{"unknown project", f.signer("HMAC-SHA1"), map[string]string{"Requested-Project-Id": newID()}, http.StatusNotFound},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if status, body, _ := oauthPost(t, e, reqPath, tt.sg, tt.headers, ""); status != tt.want {
					t.Fatalf("status %d, want %d: %s", status, tt.want, body)
				}
			})
		}
		// No Authorization header at all.
		if status, _, _ := e.Do("POST", reqPath, "", nil); status != http.StatusBadRequest {
			t.Fatalf("unsigned: %d", status)
		}
		// A replayed nonce is refused.
		replay := f.signer("HMAC-SHA1")
		replay.nonce = "fixed-nonce"
		replay.timestamp = time.Now()
		if status, body, _ := oauthPost(t, e, reqPath, replay, project, ""); status != http.StatusCreated {
			t.Fatalf("first: %d %s", status, body)
		}
		if status, body, _ := oauthPost(t, e, reqPath, replay, project, ""); status != http.StatusUnauthorized {
			t.Fatalf("replay: %d %s", status, body)
		}
	})

	t.Run("authorize", func(t *testing.T) {
		reqToken, _ := f.requestToken(t, e, "HMAC-SHA1")
		extRunStatusCases(t, e, []extStatusCase{
			{"unknown request token", "PUT", "/v3/OS-OAUTH1/authorize/" + newID(), e.AdminToken,
				map[string]any{"roles": []any{map[string]any{"id": memberID}}}, http.StatusNotFound},
			// Upstream: a role the authorizing user does not hold is 401.
			{"role not held", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.AdminToken,
				map[string]any{"roles": []any{map[string]any{"id": oauth1CreateRole(t, e, "unheld")}}}, http.StatusUnauthorized},
			{"unknown role name", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.AdminToken,
				map[string]any{"roles": []any{map[string]any{"name": "no-such-role"}}}, http.StatusNotFound},
			{"no roles", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.AdminToken,
				map[string]any{"roles": []any{}}, http.StatusBadRequest},
			{"member may not authorize", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.DemoToken,
				map[string]any{"roles": []any{map[string]any{"id": memberID}}}, http.StatusForbidden},
			{"authorized", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.AdminToken,
				map[string]any{"roles": []any{map[string]any{"id": memberID}}}, http.StatusOK},
			{"only once", "PUT", "/v3/OS-OAUTH1/authorize/" + reqToken, e.AdminToken,
				map[string]any{"roles": []any{map[string]any{"id": memberID}}}, http.StatusUnauthorized},
		})
	})

	t.Run("access token", func(t *testing.T) {
		reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
		unauthorized, unauthSecret := f.requestToken(t, e, "HMAC-SHA1")
		verifier := f.authorize(t, e, reqToken, map[string]any{"id": memberID})
		expired, expSecret := f.requestToken(t, e, "HMAC-SHA1")
		if _, err := e.Svc.db.ExecContext(t.Context(), `UPDATE oauth1_request_tokens SET expires_at = ? WHERE id = ?`,
			time.Now().Add(-time.Second).UnixMicro(), expired); err != nil {
			t.Fatal(err)
		}
		sign := func(token, secret, verifier string, mod func(*testOAuth1Signer)) testOAuth1Signer {
			sg := f.signer("HMAC-SHA1")
			sg.token, sg.tokenSecret = token, secret
			sg.extra = map[string]string{"oauth_verifier": verifier}
			if mod != nil {
				mod(&sg)
			}
			return sg
		}
		for _, tt := range []struct {
			name string
			sg   testOAuth1Signer
			want int
		}{
			{"unknown request token", sign(newID(), reqSecret, verifier, nil), http.StatusNotFound},
			{"expired request token", sign(expired, expSecret, verifier, nil), http.StatusUnauthorized},
			{"not authorized", sign(unauthorized, unauthSecret, verifier, nil), http.StatusUnauthorized},
			{"wrong verifier", sign(reqToken, reqSecret, "wrong", nil), http.StatusUnauthorized},
			{"wrong token secret", sign(reqToken, "wrong", verifier, nil), http.StatusUnauthorized},
			{"bad signature", sign(reqToken, reqSecret, verifier, func(s *testOAuth1Signer) { s.tamper = true }), http.StatusUnauthorized},
			{"other consumer", sign(reqToken, reqSecret, verifier, func(s *testOAuth1Signer) { s.consumerKey = newID() }), http.StatusUnauthorized},
			{"no verifier", sign(reqToken, reqSecret, verifier, func(s *testOAuth1Signer) { s.extra = nil }), http.StatusBadRequest},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if status, body, _ := oauthPost(t, e, "/v3/OS-OAUTH1/access_token", tt.sg, nil, ""); status != tt.want {
					t.Fatalf("status %d, want %d: %s", status, tt.want, body)
				}
			})
		}
		// After all that, the genuine exchange still works.
		f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret, verifier)
	})

	t.Run("oauth1 login", func(t *testing.T) {
		reqToken, reqSecret := f.requestToken(t, e, "HMAC-SHA1")
		accToken, accSecret := f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret,
			f.authorize(t, e, reqToken, map[string]any{"id": memberID}))
		sign := func(mod func(*testOAuth1Signer)) testOAuth1Signer {
			sg := f.signer("HMAC-SHA1")
			sg.token, sg.tokenSecret = accToken, accSecret
			if mod != nil {
				mod(&sg)
			}
			return sg
		}
		for _, tt := range []struct {
			name string
			sg   testOAuth1Signer
			want int
		}{
			{"bad signature", sign(func(s *testOAuth1Signer) { s.tamper = true }), http.StatusUnauthorized},
			{"wrong access secret", sign(func(s *testOAuth1Signer) { s.tokenSecret = "wrong" }), http.StatusUnauthorized},
			{"request-token style key", sign(func(s *testOAuth1Signer) { s.tokenSecret = "" }), http.StatusUnauthorized},
			{"unknown access token", sign(func(s *testOAuth1Signer) { s.token = newID() }), http.StatusUnauthorized},
			{"other consumer", sign(func(s *testOAuth1Signer) { s.consumerKey = newID() }), http.StatusUnauthorized},
			{"genuine", sign(nil), http.StatusCreated},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if status, _, out := f.login(t, e, tt.sg); status != tt.want {
					t.Fatalf("status %d, want %d: %v", status, tt.want, out)
				}
			})
		}
		// An explicit scope other than the access token's project is refused.
		status, body, _ := oauthPost(t, e, "/v3/auth/tokens", sign(nil), nil,
			`{"auth":{"identity":{"methods":["oauth1"],"oauth1":{}},"scope":{"system":{"all":true}}}}`)
		if status != http.StatusUnauthorized {
			t.Fatalf("scoped oauth1 login: %d %s", status, body)
		}
		// A delegated role the user loses on the project leaves the token: with
		// nothing left to delegate, login fails.
		roleID := oauth1CreateRole(t, e, "delegable")
		grant := "/v3/projects/" + f.adminProject + "/users/" + f.adminID + "/roles/" + roleID
		e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
		reqToken, reqSecret = f.requestToken(t, e, "HMAC-SHA1")
		accToken, accSecret = f.accessToken(t, e, "HMAC-SHA1", reqToken, reqSecret,
			f.authorize(t, e, reqToken, map[string]any{"id": roleID}))
		status, token, out := f.login(t, e, sign(nil))
		if roles := extIDs(list(obj(out, "token"), "roles")); status != http.StatusCreated || len(roles) != 1 || roles[0] != roleID {
			t.Fatalf("login with delegable: %d %v", status, out)
		}
		e.Must(http.StatusNoContent, "DELETE", grant, e.AdminToken, nil)
		e.AdminToken = e.Login("admin", testAdminPassword, "admin") // the unassignment revoked it too
		if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
			t.Fatalf("token carrying an unassigned role validates: %d", status)
		}
		if status, _, out := f.login(t, e, sign(nil)); status != http.StatusUnauthorized {
			t.Fatalf("after unassign: %d %v", status, out)
		}
	})

	t.Run("delete consumer revokes", func(t *testing.T) {
		g := newOAuth1Fixture(t, e)
		readerID := extRoleID(t, e, "reader")
		reqToken, reqSecret := g.requestToken(t, e, "PLAINTEXT")
		accToken, accSecret := g.accessToken(t, e, "PLAINTEXT", reqToken, reqSecret,
			g.authorize(t, e, reqToken, map[string]any{"id": readerID}))
		sg := g.signer("PLAINTEXT")
		sg.token, sg.tokenSecret = accToken, accSecret
		status, token, out := g.login(t, e, sg)
		if status != http.StatusCreated {
			t.Fatalf("login: %d %v", status, out)
		}
		e.Must(http.StatusNoContent, "DELETE", "/v3/OS-OAUTH1/consumers/"+g.consumerID, e.AdminToken, nil)
		if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token}); status != http.StatusNotFound {
			t.Fatalf("token of deleted consumer validates: %d", status)
		}
		e.Must(http.StatusNotFound, "GET", "/v3/users/"+g.adminID+"/OS-OAUTH1/access_tokens/"+accToken, e.AdminToken, nil)
	})
}

// oauth1CreateRole creates a global role and returns its id.
func oauth1CreateRole(t *testing.T, e *testEnv, name string) string {
	t.Helper()
	return obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
		map[string]any{"role": map[string]any{"name": name}}), "role")["id"].(string)
}
