package proxy

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// FuzzCleanACL: clean_acl never panics, and what it accepts is a list of
// trimmed, non-empty elements. It is not a fixed point, as upstream's is not:
// each pass strips one leading '*' of a referrer (".r:**a" is ".r:*a", then
// ".r:a"; ".r:**." is ".r:*.", then refused).
func FuzzCleanACL(f *testing.F) {
	for _, s := range []string{".r:*,.rlistings", " .referrer : -*.x.com ", "a:b,,c", ".x:y", ".r:", ".r:**0", ".r:**."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := cleanACL("X-Container-Read", in)
		if err != nil || out == "" {
			return
		}
		for _, el := range strings.Split(out, ",") {
			if el == "" || el != strings.TrimSpace(el) {
				t.Fatalf("clean_acl(%q) = %q: element %q", in, out, el)
			}
		}
	})
}

// FuzzAccountACL: any header value parses or is refused, never panics, and
// an accepted one is shown re-formatted.
func FuzzAccountACL(f *testing.F) {
	for _, s := range []string{`{"admin":["a"]}`, "{", `{"read-only":[1]}`, `[]`, `{"x":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if accountACLError(in) == "" {
			if acl := parseACLv2(in); acl == nil {
				t.Fatalf("%q accepted but does not parse", in)
			} else {
				_ = jsonASCII(acl)
			}
		}
		_ = pyRepr(in)
	})
}

// FuzzTempAuthToken: the token header never panics and opens only to what
// was sealed.
func FuzzTempAuthToken(f *testing.F) {
	k, _ := fernet.GenerateKey()
	ta := &TempAuth{Keys: []fernet.Key{k}, TokenLife: time.Hour}
	tok, _ := ta.newToken(TempAuthUser{Account: "a", User: "u", URL: "$HOST/v1/AUTH_a"}, time.Now())
	for _, s := range []string{tok, "AUTH_tk1", "AUTH_zftk", "AUTH_ftk" + tok[8:] + "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		if g := ta.groups(token, time.Now()); g != nil && token != tok {
			t.Fatalf("forged token %q opened to %v", token, g)
		}
	})
}

// FuzzTempAuthUsers: configuration lines never panic the parser.
func FuzzTempAuthUsers(f *testing.F) {
	f.Add("user_a_b = k .admin")
	f.Add("user_a_b = k $HOST/v1/x;user_c_d=e")
	f.Fuzz(func(t *testing.T, in string) {
		users, err := ParseTempAuthUsers(in)
		if err != nil {
			return
		}
		for _, u := range users {
			_ = u.userGroups()
		}
	})
}

// FuzzFormPost: any form body is parsed without a panic; with no keys a
// file is 401, never written.
func FuzzFormPost(f *testing.F) {
	f.Add("--b\r\nContent-Disposition: form-data; name=\"expires\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\ndata\r\n--b--\r\n")
	f.Add("--b\r\n\r\n--b--")
	f.Add("garbage")
	p := New(Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/AUTH_a", strings.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		w := httptest.NewRecorder()
		if !p.formPost(&request{w: w, r: r, version: "v1", account: "AUTH_a"}) {
			t.Fatal("not taken as a form post")
		}
		if w.Code != http.StatusBadRequest && w.Code != http.StatusUnauthorized && w.Code != http.StatusSeeOther {
			t.Fatalf("status %d: %q", w.Code, w.Body.String())
		}
		_ = pyTitle(body)
		_, _ = pyInt(body)
	})
}

// FuzzArchiveMemberName: a member's name becomes an account-relative
// "<container>/<object>" that never starts with a slash.
func FuzzArchiveMemberName(f *testing.F) {
	for _, s := range []string{"./c/o", "/c/o", "../../etc/passwd", "c", "//c//o", "./../x"} {
		f.Add("", s)
		f.Add("base/pre", s)
	}
	f.Fuzz(func(t *testing.T, base, member string) {
		base = strings.TrimRight(base, "/")
		name, ok := archiveObjectName(base, member)
		if !ok {
			return
		}
		container, _, _ := strings.Cut(name, "/")
		if strings.HasPrefix(name, "/") && base == "" {
			t.Fatalf("%q names %q", member, name)
		}
		if base != "" && !strings.HasPrefix(name, base+"/") {
			t.Fatalf("%q under %q names %q", member, base, name)
		}
		_ = container
		_ = paxKeyToHeader(member)
	})
}

// FuzzTempAuthRequest: any path and credentials headers get one of
// tempauth's answers, and a token only for the configured user's key.
func FuzzTempAuthRequest(f *testing.F) {
	k, _ := fernet.GenerateKey()
	users, _ := ParseTempAuthUsers("user_test_tester = testing .admin")
	p := New(Options{Logger: slog.New(slog.DiscardHandler), TempAuth: &TempAuth{Users: users, Keys: []fernet.Key{k}, TokenLife: time.Hour}})
	f.Add("/auth/v1.0", "test:tester", "testing", "", "")
	f.Add("/auth/v1/test/auth", "", "", "tester", "testing")
	f.Add("/auth/auth", "a:b:c", "k", "x", "y")
	f.Add("/auth//x/y", "", "", "", "")
	f.Fuzz(func(t *testing.T, path, authUser, authKey, storageUser, storagePass string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = "/auth/" + strings.TrimPrefix(path, "/auth/")
		for k, v := range map[string]string{"X-Auth-User": authUser, "X-Auth-Key": authKey, "X-Storage-User": storageUser, "X-Storage-Pass": storagePass} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		w := httptest.NewRecorder()
		p.serveTempAuth(w, r)
		switch w.Code {
		case http.StatusOK:
			token := w.Header().Get("X-Auth-Token")
			if g := p.opts.TempAuth.groups(token, time.Now()); len(g) < 2 || g[1] != "test:tester" {
				t.Fatalf("token for %q %q opens to %v", authUser, storageUser, g)
			}
			if authKey != "testing" && storagePass != "testing" {
				t.Fatalf("a token without the key: %q %q", authKey, storagePass)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound:
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
