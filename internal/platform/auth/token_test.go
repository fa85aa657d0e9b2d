package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

const (
	hexUser    = "0123456789abcdef0123456789abcdef"
	hexDomain  = "fedcba9876543210fedcba9876543210"
	hexProject = "000000000000000000000000000abcd1"
	hexRole    = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// equalTokens compares tokens field by field: nil and empty lists are the same, and
// times compare as instants.
func equalTokens(a, b *Token) bool {
	return a.UserID == b.UserID && a.UserDomainID == b.UserDomainID &&
		slices.Equal(a.Methods, b.Methods) &&
		a.ProjectID == b.ProjectID && a.ProjectDomainID == b.ProjectDomainID &&
		a.DomainID == b.DomainID && a.System == b.System &&
		slices.Equal(a.Roles, b.Roles) && a.AppCredID == b.AppCredID && a.OAuthAccessTokenID == b.OAuthAccessTokenID &&
		slices.Equal(a.AccessRules, b.AccessRules) && slices.Equal(a.AuditIDs, b.AuditIDs) &&
		a.TrustID == b.TrustID && a.TrustorUserID == b.TrustorUserID && a.TrusteeUserID == b.TrusteeUserID &&
		a.Impersonation == b.Impersonation &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func newCodec(t testing.TB) Codec {
	t.Helper()
	repo, err := fernet.OpenRepository(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	return Codec{Keys: repo}
}

func sampleTokens() map[string]*Token {
	issued := time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)
	expires := issued.Add(time.Hour)
	return map[string]*Token{
		"minimal": {UserID: "u", Methods: []string{"password"}, AuditIDs: []string{"a"},
			IssuedAt: issued, ExpiresAt: expires},
		"hex project scoped": {UserID: hexUser, UserDomainID: hexDomain, Methods: []string{"password"},
			ProjectID: hexProject, ProjectDomainID: hexDomain,
			Roles:    []Role{{ID: hexRole, Name: "admin"}, {ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Name: "reader"}},
			AuditIDs: []string{"Wd3CrxFpQMKpOmHTOvnRAQ"}, IssuedAt: issued, ExpiresAt: expires},
		"non-hex ids raw": {UserID: "admin", UserDomainID: "default", Methods: []string{"token"},
			ProjectID: "demo-project", ProjectDomainID: "default",
			Roles:    []Role{{ID: "member", Name: "member"}},
			AuditIDs: []string{"x"}, IssuedAt: issued, ExpiresAt: expires},
		"uppercase hex stays raw": {UserID: strings.ToUpper(hexUser), UserDomainID: "ABCDEFABCDEFABCDEFABCDEFABCDEFAB",
			Methods: []string{"password"}, IssuedAt: issued, ExpiresAt: expires},
		"31 and 33 hex digits": {UserID: hexUser[:31], ProjectID: hexUser + "0", Methods: []string{"password"},
			IssuedAt: issued, ExpiresAt: expires},
		"domain scoped": {UserID: hexUser, UserDomainID: hexDomain, DomainID: hexDomain,
			Methods: []string{"password"}, Roles: []Role{{ID: hexRole, Name: "admin"}},
			AuditIDs: []string{"a1"}, IssuedAt: issued, ExpiresAt: expires},
		"system scope": {UserID: hexUser, UserDomainID: "default", System: true,
			Methods: []string{"password", "totp"}, Roles: []Role{{ID: hexRole, Name: "admin"}},
			AuditIDs: []string{"s1"}, IssuedAt: issued, ExpiresAt: expires},
		"rescoped two audit ids": {UserID: hexUser, Methods: []string{"password", "token"},
			ProjectID: hexProject, AuditIDs: []string{"own-audit-id", "chain-audit-id"},
			IssuedAt: issued, ExpiresAt: expires},
		"all methods": {UserID: hexUser, Methods: slices.Clone(methodBits),
			AuditIDs: []string{"m"}, IssuedAt: issued, ExpiresAt: expires},
		"application credential": {UserID: hexUser, Methods: []string{"application_credential"},
			ProjectID: hexProject, AppCredID: "cccccccccccccccccccccccccccccccc",
			Roles: []Role{{ID: hexRole, Name: "member"}}, AuditIDs: []string{"ac"},
			IssuedAt: issued, ExpiresAt: expires},
		"application credential with access rules": {UserID: hexUser, Methods: []string{"application_credential"},
			ProjectID: hexProject, AppCredID: "cccccccccccccccccccccccccccccccc",
			AccessRules: []AccessRule{{Service: "image", Method: "GET", Path: "/v2/images"},
				{Service: "compute", Method: "POST", Path: "/v2.1/servers/{id}/**"}},
			Roles: []Role{{ID: hexRole, Name: "member"}}, AuditIDs: []string{"ac"},
			IssuedAt: issued, ExpiresAt: expires},
		"ec2 login of an oauth1 delegation": {UserID: hexUser, Methods: []string{"ec2credential"},
			ProjectID: hexProject, OAuthAccessTokenID: "dddddddddddddddddddddddddddddddd",
			Roles: []Role{{ID: hexRole, Name: "reader"}}, AuditIDs: []string{"e"},
			IssuedAt: issued, ExpiresAt: expires},
		"empty role name and unicode": {UserID: "üser", Methods: []string{"mapped", "oauth1"},
			Roles: []Role{{ID: "r", Name: ""}, {ID: "", Name: "名前"}}, AuditIDs: []string{""},
			IssuedAt: issued, ExpiresAt: expires},
		"no methods zero times": {UserID: "u"},
		"pre-epoch times": {UserID: "u", Methods: []string{"password"},
			IssuedAt: time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC), ExpiresAt: time.Unix(-1, 0).UTC()},
		"long strings": {UserID: strings.Repeat("u", 300), ProjectID: strings.Repeat("p", 70000),
			Methods: []string{"password"}, AuditIDs: []string{strings.Repeat("a", 128)},
			IssuedAt: issued, ExpiresAt: expires},
	}
}

func TestTokenBinaryRoundTrip(t *testing.T) {
	for name, tok := range sampleTokens() {
		t.Run(name, func(t *testing.T) {
			b, err := tok.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Token
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if !equalTokens(tok, &got) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, *tok)
			}
			if got.IssuedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
				t.Error("decoded times are not UTC")
			}
			// Truncating the payload anywhere must fail, never panic.
			for i := 0; i < len(b); i++ {
				var tr Token
				if err := tr.UnmarshalBinary(b[:i]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("truncated to %d of %d bytes: err=%v", i, len(b), err)
				}
			}
			// Trailing bytes are malformed too.
			var tr Token
			if err := tr.UnmarshalBinary(append(slices.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("trailing byte: err=%v", err)
			}
		})
	}
}

func TestTokenHexIDsArePacked(t *testing.T) {
	issued := time.Unix(1700000000, 0)
	hexTok := &Token{UserID: hexUser, UserDomainID: hexDomain, ProjectID: hexProject, ProjectDomainID: hexDomain,
		Methods: []string{"password"}, Roles: []Role{{ID: hexRole, Name: "admin"}},
		AuditIDs: []string{"Wd3CrxFpQMKpOmHTOvnRAQ"}, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
	rawTok := *hexTok
	rawTok.UserID, rawTok.UserDomainID, rawTok.ProjectID = strings.ToUpper(hexUser), strings.ToUpper(hexDomain), strings.ToUpper(hexProject)
	rawTok.ProjectDomainID = strings.ToUpper(hexDomain)
	rawTok.Roles = []Role{{ID: strings.ToUpper(hexRole), Name: "admin"}}

	packed, err := hexTok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rawTok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Each packed id is 1 tag + 16 bytes; a raw one 1 tag + 1 length + 32 bytes.
	if want := len(raw) - 5*17; len(packed) != want {
		t.Errorf("packed payload %d bytes, want %d (raw %d)", len(packed), want, len(raw))
	}
	for _, id := range []string{hexUser, hexDomain, hexProject, hexRole} {
		if bytes.Contains(packed, []byte(id)) {
			t.Errorf("hex id %s stored as text", id)
		}
	}
	if !bytes.Contains(raw, []byte(strings.ToUpper(hexUser))) {
		t.Error("upper-case id not stored as text")
	}
}

func TestTokenMethodsCanonicalOrder(t *testing.T) {
	tok := &Token{UserID: "u", Methods: []string{"totp", "password"}}
	b, err := tok.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Token
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Methods, []string{"password", "totp"}) {
		t.Fatalf("methods %v", got.Methods)
	}
}

func TestTokenUnknownMethod(t *testing.T) {
	for _, methods := range [][]string{{"kerberos"}, {"password", "x509"}, {""}, {"Password"}} {
		tok := &Token{UserID: "u", Methods: methods}
		if _, err := tok.MarshalBinary(); err == nil || !strings.Contains(err.Error(), "unknown method") {
			t.Errorf("methods %q: err=%v", methods, err)
		}
		if _, err := newCodec(t).Seal(tok); err == nil {
			t.Errorf("Seal with methods %q succeeded", methods)
		}
	}
}

func TestTokenUnmarshalMalformed(t *testing.T) {
	good, err := (&Token{UserID: "u", Methods: []string{"password"}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	noUser, err := (&Token{Methods: []string{"password"}, ProjectID: "p"}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	badVersion := slices.Clone(good)
	badVersion[0] = 2
	for name, b := range map[string][]byte{
		"empty":        nil,
		"version only": {payloadVersion},
		"bad version":  badVersion,
		"no user id":   noUser,
		// version, mask, flags, then an id with an unknown tag
		"bad id tag": {payloadVersion, 0, 0, 2},
		// id with packed tag but too few bytes
		"short packed id": append([]byte{payloadVersion, 0, 0, 1}, make([]byte, 15)...),
		// raw id with a length beyond the payload
		"string too long": {payloadVersion, 0, 0, 0, 0x7f, 'a'},
		// overlong uvarint
		"bad varint": {payloadVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			var tok Token
			if err := tok.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err=%v", err)
			}
		})
	}
	// A huge role count must fail without allocating for it.
	huge := []byte{payloadVersion, 0, 0, // version, methods, flags
		0, 1, 'u', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // user id "u", five empty ids
		0xff, 0xff, 0xff, 0xff, 0x0f} // role count 2^32-1
	var tok Token
	if err := tok.UnmarshalBinary(huge); !errors.Is(err, ErrMalformed) {
		t.Fatalf("huge role count: err=%v", err)
	}
}

func TestTokenUnmarshalOverwrites(t *testing.T) {
	toks := sampleTokens()
	a, b := toks["all methods"], toks["rescoped two audit ids"]
	ab, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bb, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Token
	if err := got.UnmarshalBinary(ab); err != nil {
		t.Fatal(err)
	}
	if err := got.UnmarshalBinary(bb); err != nil {
		t.Fatal(err)
	}
	if !equalTokens(&got, b) {
		t.Fatalf("decoding into a used Token mixed the two:\n got %+v\nwant %+v", got, *b)
	}
}

func TestCodecSealOpen(t *testing.T) {
	c := newCodec(t)
	for name, tok := range sampleTokens() {
		t.Run(name, func(t *testing.T) {
			s, err := c.Seal(tok)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(s, "+/=") {
				t.Errorf("token %q is not unpadded url-safe base64", s)
			}
			got, err := c.Open(s)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !equalTokens(tok, got) {
				t.Fatalf("Seal/Open:\n got %+v\nwant %+v", *got, *tok)
			}
		})
	}
}

func TestCodecOpenRejects(t *testing.T) {
	c := newCodec(t)
	tok := sampleTokens()["hex project scoped"]
	s, err := c.Seal(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Another deployment's keys.
	if _, err := newCodec(t).Open(s); !errors.Is(err, fernet.ErrInvalid) {
		t.Errorf("foreign token: err=%v", err)
	}
	// Tampered.
	b := []byte(s)
	b[len(b)/2] ^= 1
	if _, err := c.Open(string(b)); err == nil {
		t.Error("tampered token opened")
	}
	// A valid Fernet token whose payload is not a token payload.
	junk, err := fernet.Encrypt(c.Keys.Primary(), []byte("not a payload"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(string(junk)); !errors.Is(err, ErrMalformed) {
		t.Errorf("junk payload: err=%v", err)
	}
	// After rotation the token still opens; after its key is retired it does not.
	if err := c.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(s); err != nil {
		t.Errorf("after one rotation: %v", err)
	}
	if err := c.Keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(s); err == nil {
		t.Error("token opened after its key was retired")
	}
}

func TestCredentialsFromToken(t *testing.T) {
	tok := sampleTokens()["hex project scoped"]
	c := tok.Credentials()
	if c.UserID != tok.UserID || c.ProjectID != tok.ProjectID || c.ProjectDomainID != tok.ProjectDomainID ||
		!c.HasRole("admin") || !c.HasRole("reader") || c.HasRole("member") || !c.Scoped() ||
		!c.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("credentials %+v", c)
	}
	pc := c.PolicyCredentials()
	if pc["project_id"] != hexProject || pc["system_scope"] != "" || !slices.Equal(pc["roles"].([]string), []string{"admin", "reader"}) {
		t.Fatalf("policy credentials %v", pc)
	}
	sys := sampleTokens()["system scope"].Credentials()
	if sys.PolicyCredentials()["system_scope"] != "all" || !sys.Scoped() {
		t.Fatal("system scope not carried")
	}
	if (&Token{UserID: "u"}).Credentials().Scoped() {
		t.Fatal("unscoped token reported scoped")
	}
}

func FuzzTokenPayload(f *testing.F) {
	for _, tok := range sampleTokens() {
		b, err := tok.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{payloadVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tok Token
		if err := tok.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		b2, err := tok.MarshalBinary()
		if err != nil {
			t.Fatalf("re-marshal of decoded token %+v: %v", tok, err)
		}
		var tok2 Token
		if err := tok2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-unmarshal: %v", err)
		}
		if !equalTokens(&tok, &tok2) {
			t.Fatalf("not stable:\n%+v\n%+v", tok, tok2)
		}
		// The canonical encoding is a fixed point.
		b3, err := tok2.MarshalBinary()
		if err != nil || !bytes.Equal(b2, b3) {
			t.Fatalf("canonical encoding not stable: %x vs %x (%v)", b2, b3, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	c := newCodec(f)
	for _, tok := range sampleTokens() {
		s, err := c.Seal(tok)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	// A validly sealed payload of junk, so the fuzzer can reach the payload decoder.
	junk, _ := fernet.Encrypt(c.Keys.Primary(), []byte{payloadVersion, 0, 0, 0, 1, 'u'}, time.Now())
	f.Add(string(junk))
	f.Add("")
	f.Add("gAAAAA")
	f.Add(base64.RawURLEncoding.EncodeToString(make([]byte, 100)))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := c.Open(s)
		if err != nil {
			if tok != nil {
				t.Fatal("Open returned a token with an error")
			}
			if !errors.Is(err, fernet.ErrInvalid) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if tok.UserID == "" {
			t.Fatal("Open returned a token without a user")
		}
	})
}

// TestTokenPayloadVersions pins the two payload layouts: tokens without an OAuth1
// access token keep version 1 (byte for byte what older processes wrote and read);
// tokens with one are version 2, whose access token id follows the application
// credential id.
func TestTokenPayloadVersions(t *testing.T) {
	issued := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base := Token{UserID: hexUser, UserDomainID: hexDomain, ProjectID: hexProject, ProjectDomainID: hexDomain,
		Methods: []string{"oauth1"}, Roles: []Role{{ID: hexRole, Name: "member"}},
		AuditIDs: []string{"Wd3CrxFpQMKpOmHTOvnRAQ"}, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
	withOAuth := base
	withOAuth.OAuthAccessTokenID = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	rawOAuth := base
	rawOAuth.OAuthAccessTokenID = "not-hex access token"

	withRules := base
	withRules.AccessRules = []AccessRule{{Service: "image", Method: "GET", Path: "/v2/images"}}
	rulesLen := 1 + 1 + len("image") + 1 + len("GET") + 1 + len("/v2/images") // count, then three strings
	withBoth := withOAuth
	withBoth.AccessRules = withRules.AccessRules
	withTrust := base
	withTrust.TrustID, withTrust.TrustorUserID, withTrust.TrusteeUserID = hexRole, hexUser, "cccccccccccccccccccccccccccccccc"
	withTrust.Impersonation = true
	rawTrust := withTrust
	rawTrust.TrustID, rawTrust.Impersonation = "trust", false

	tests := []struct {
		name    string
		tok     Token
		version byte
		extra   int // bytes beyond the version 1 encoding of base
	}{
		{"no oauth1 access token is version 1", base, 1, 0},
		{"hex access token is version 2, packed", withOAuth, 2, 17},
		{"raw access token is version 2", rawOAuth, 2, 2 + len(rawOAuth.OAuthAccessTokenID)},
		{"access rules are version 3, with an empty access token", withRules, 3, 2 + rulesLen},
		{"access rules and an access token", withBoth, 3, 17 + rulesLen},
		// No access token (2 bytes), no rules (1), three packed ids.
		{"a trust is version 4, impersonating", withTrust, 4, 2 + 1 + 3*17},
		{"a raw trust id", rawTrust, 4, 2 + 1 + 2 + len("trust") + 2*17},
	}
	v1, err := base.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.tok.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != tt.version || len(b) != len(v1)+tt.extra {
				t.Fatalf("version %d, %d bytes; want version %d, %d bytes", b[0], len(b), tt.version, len(v1)+tt.extra)
			}
			var got Token
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !equalTokens(&tt.tok, &got) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tt.tok)
			}
			for i := 0; i < len(b); i++ {
				var tr Token
				if err := tr.UnmarshalBinary(b[:i]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("truncated to %d of %d bytes: err=%v", i, len(b), err)
				}
			}
		})
	}

	// A hand-built version 1 payload (as written before version 2 existed) decodes.
	legacy := []byte{1, 1 << 0, 0} // version, methods {password}, flags
	legacy = append(legacy, 0, 1, 'u')
	for range 5 { // user domain, project, project domain, domain, app cred: empty
		legacy = append(legacy, 0, 0)
	}
	legacy = append(legacy, 0, 1, 1, 'a', 2, 4) // no roles; audit ids ["a"]; issued 1µs; expires 2µs
	var got Token
	if err := got.UnmarshalBinary(legacy); err != nil {
		t.Fatalf("version 1 payload: %v", err)
	}
	if got.UserID != "u" || got.OAuthAccessTokenID != "" || !slices.Equal(got.Methods, []string{"password"}) ||
		got.IssuedAt.UnixMicro() != 1 || got.ExpiresAt.UnixMicro() != 2 {
		t.Fatalf("version 1 payload decoded as %+v", got)
	}

	// Malformed payloads: version 2 with an empty access token id, version 3
	// without access rules, unknown versions.
	v2empty := append([]byte{2}, v1[1:]...) // version 2 header over a version 1 body
	v3, err := withRules.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rules := []byte("\x01\x05image\x03GET\x0a/v2/images") // count 1, then the rule's three strings
	at := bytes.Index(v3, rules)
	if at < 0 || len(rules) != rulesLen {
		t.Fatalf("access rules not found in %x", v3)
	}
	v3NoRules := slices.Concat(v3[:at], []byte{0}, v3[at+len(rules):])
	for name, b := range map[string][]byte{
		"version 2 without access token": v2empty,
		"version 3 without access rules": v3NoRules,
		"version 4 without a trust":      append([]byte{4}, v1[1:]...),
		"version 5":                      append([]byte{5}, v1[1:]...),
		"version 0":                      append([]byte{0}, v1[1:]...),
	} {
		var tr Token
		if err := tr.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err=%v, want ErrMalformed", name, err)
		}
	}

	// Sealed and opened through Fernet, the access token survives.
	c := newCodec(t)
	s, err := c.Seal(&withOAuth)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := c.Open(s)
	if err != nil || opened.OAuthAccessTokenID != withOAuth.OAuthAccessTokenID {
		t.Fatalf("open: %+v, %v", opened, err)
	}
	if s, err = c.Seal(&withBoth); err != nil {
		t.Fatal(err)
	}
	if opened, err = c.Open(s); err != nil || !equalTokens(opened, &withBoth) || !slices.Equal(opened.Credentials().AccessRules, withBoth.AccessRules) {
		t.Fatalf("open: %+v, %v", opened, err)
	}
}
