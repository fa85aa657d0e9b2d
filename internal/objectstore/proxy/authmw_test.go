package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// TestCleanACL: upstream's clean_acl examples and errors.
func TestCleanACL(t *testing.T) {
	for _, tc := range []struct{ name, in, want, err string }{
		{"X-Container-Read", "bob, sue", "bob,sue", ""},
		{"X-Container-Read", "bob , sue", "bob,sue", ""},
		{"X-Container-Read", "bob,,,sue", "bob,sue", ""},
		{"X-Container-Read", ".referrer : *", ".r:*", ""},
		{"X-Container-Read", ".ref:*.example.com", ".r:.example.com", ""},
		{"X-Container-Read", ".r:*, .rlistings", ".r:*,.rlistings", ""},
		{"X-Container-Read", ".r:-thief.com", ".r:-thief.com", ""},
		{"X-Container-Read", ".r:**0", ".r:*0", ""}, // one leading '*' stripped per pass, as upstream
		{"X-Container-Read", ".r: - *.thief.com", ".r:-.thief.com", ""},
		{"X-Container-Read", "acct:user", "acct:user", ""},
		{"X-Container-Read", ":x", ":x", ""},
		{"X-Container-Read", ".r:", "", "No host/domain value after referrer designation in ACL: '.r:'"},
		{"X-Container-Read", ".r:-", "", "No host/domain value after referrer designation in ACL: '.r:-'"},
		{"X-Container-Read", ".r:.", "", "No host/domain value after referrer designation in ACL: '.r:.'"},
		{"X-Container-Read", ".x:y", "", "Unknown designator '.x' in ACL: '.x:y'"},
		{"X-Container-Write", ".r:*", "", "Referrers not allowed in write ACL: '.r:*'"},
	} {
		got, err := cleanACL(tc.name, tc.in)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if got != tc.want || msg != tc.err {
			t.Errorf("clean_acl(%s, %q) = %q, %q; want %q, %q", tc.name, tc.in, got, msg, tc.want, tc.err)
		}
	}
}

// TestAccountACLError: tempauth's messages for bad account ACLs.
func TestAccountACLError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"{}", ""},
		{`{"admin":["a:b"],"read-only":[]}`, ""},
		{"[]", "Syntax error in input ('[]')"},
		{"it's", `Syntax error in input ("it's")`},
		{`{"x":1}`, `Key "x" not recognized`},
		{`{"r\u00e9":1}`, `Key "r\u00e9" not recognized`},
		{`{"read-write":{}}`, `Value for key "read-write" must be a list`},
		{`{"read-only":[null]}`, `Elements of "read-only" list must be strings`},
		{`{"admin":[]} x`, "Syntax error in input ('{\"admin\":[]} x')"},
	} {
		if got := accountACLError(tc.in); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseTempAuthUsers: upstream's user_<account>_<user> lines.
func TestParseTempAuthUsers(t *testing.T) {
	users, err := ParseTempAuthUsers("user_admin_admin = admin .admin .reseller_admin\n# comment\n" +
		"user_test_tester = testing .admin; user_test_tester3 = testing3 http://example.com/v1/AUTH_other")
	if err != nil {
		t.Fatal(err)
	}
	if u := users["admin:admin"]; u.Key != "admin" || strings.Join(u.Groups, " ") != ".admin .reseller_admin" ||
		u.URL != "$HOST/v1/AUTH_admin" || u.userGroups() != "admin,admin:admin,.reseller_admin,AUTH_admin" {
		t.Fatalf("admin: %+v groups %s", u, u.userGroups())
	}
	if u := users["test:tester3"]; u.URL != "http://example.com/v1/AUTH_other" || u.userGroups() != "test,test:tester3" {
		t.Fatalf("tester3: %+v", u)
	}
	for _, bad := range []string{"user_a_b_c = k", "user_ab = k", "user_a_b =", "admin = x", "user_a_b"} {
		if _, err := ParseTempAuthUsers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestTempAuthTokens: a token opens to the groups it was made for, until
// its life ends; anything else opens to nothing.
func TestTempAuthTokens(t *testing.T) {
	k1, _ := fernet.GenerateKey()
	k2, _ := fernet.GenerateKey()
	ta := &TempAuth{Keys: []fernet.Key{k1}, TokenLife: time.Hour}
	u := TempAuthUser{Account: "test", User: "tester", URL: "$HOST/v1/AUTH_test", Groups: []string{".admin"}}
	now := time.Now()
	tok, err := ta.newToken(u, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ta.groups(tok, now), ","); got != "test,test:tester,AUTH_test" {
		t.Fatalf("groups %q", got)
	}
	long := TempAuthUser{Account: "test", User: "tester", URL: "$HOST/v1/AUTH_test", Groups: []string{strings.Repeat("g", 200)}}
	if ztok, _ := ta.newToken(long, now); !strings.HasPrefix(ztok, "AUTH_zftk") || len(ta.groups(ztok, now)) != 3 {
		t.Fatalf("compressed token %q", ztok)
	}
	other := &TempAuth{Keys: []fernet.Key{k2}, TokenLife: time.Hour}
	for name, groups := range map[string][]string{
		"expired":   ta.groups(tok, now.Add(2*time.Hour)),
		"other key": other.groups(tok, now),
		"memcache":  ta.groups("AUTH_tk0123", now),
		"garbage":   ta.groups("AUTH_ftkgarbage", now),
	} {
		if groups != nil {
			t.Errorf("%s: %v", name, groups)
		}
	}
}
