package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newValidator(t *testing.T) (*Validator, *clock, *RevocationList) {
	t.Helper()
	revoked := NewRevocationList()
	v := NewValidator(newCodec(t), revoked)
	clk := &clock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	v.Now = clk.Now
	return v, clk, revoked
}

func seal(t *testing.T, v *Validator, tok *Token) string {
	t.Helper()
	s, err := v.Codec.Seal(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testToken(issued time.Time) *Token {
	return &Token{UserID: hexUser, UserDomainID: "default", ProjectID: hexProject, ProjectDomainID: "default",
		Methods: []string{"password"}, Roles: []Role{{ID: hexRole, Name: "member"}},
		AuditIDs: []string{"audit-1"}, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)}
}

func TestValidatorAcceptsValidToken(t *testing.T) {
	v, clk, _ := newValidator(t)
	tok := testToken(clk.now)
	s := seal(t, v, tok)
	for i := 0; i < 2; i++ { // uncached, then cached
		got, err := v.Token(s)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if !equalTokens(got, tok) {
			t.Fatalf("got %+v", got)
		}
	}
	creds, err := v.Authenticate(context.Background(), s)
	if err != nil || creds.UserID != hexUser || creds.ProjectID != hexProject || !creds.HasRole("member") {
		t.Fatalf("Authenticate = %+v, %v", creds, err)
	}
}

func TestValidatorExpiry(t *testing.T) {
	for _, cached := range []bool{false, true} {
		v, clk, _ := newValidator(t)
		tok := testToken(clk.now)
		s := seal(t, v, tok)
		if cached {
			if _, err := v.Token(s); err != nil {
				t.Fatal(err)
			}
		}
		clk.now = tok.ExpiresAt.Add(-time.Nanosecond)
		if _, err := v.Token(s); err != nil {
			t.Fatalf("cached=%v: token rejected just before expiry: %v", cached, err)
		}
		clk.now = tok.ExpiresAt
		if _, err := v.Token(s); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("cached=%v: token accepted at its expiry: %v", cached, err)
		}
		clk.now = tok.ExpiresAt.Add(time.Hour)
		if _, err := v.Authenticate(context.Background(), s); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("cached=%v: expired token authenticated: %v", cached, err)
		}
	}
}

func TestValidatorRevocationIsImmediate(t *testing.T) {
	events := map[string]func(tok *Token) RevocationEvent{
		"audit id": func(tok *Token) RevocationEvent {
			return RevocationEvent{AuditID: tok.AuditIDs[0], IssuedBefore: tok.IssuedAt}
		},
		"user": func(tok *Token) RevocationEvent {
			return RevocationEvent{UserID: tok.UserID, IssuedBefore: tok.IssuedAt}
		},
		"role": func(tok *Token) RevocationEvent {
			return RevocationEvent{RoleID: tok.Roles[0].ID, ProjectID: tok.ProjectID, IssuedBefore: tok.IssuedAt.Add(time.Second)}
		},
	}
	for name, mk := range events {
		for _, cached := range []bool{false, true} {
			v, clk, revoked := newValidator(t)
			tok := testToken(clk.now)
			s := seal(t, v, tok)
			if cached {
				if _, err := v.Token(s); err != nil {
					t.Fatal(err)
				}
			}
			revoked.Add(mk(tok))
			if _, err := v.Token(s); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s cached=%v: revoked token accepted: %v", name, cached, err)
			}
			if _, err := v.Authenticate(context.Background(), s); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s cached=%v: revoked token authenticated: %v", name, cached, err)
			}
			// A token issued after the event (the user logged in again) is fine.
			clk.now = clk.now.Add(time.Minute)
			fresh := testToken(clk.now)
			fresh.AuditIDs = []string{"audit-2"}
			if _, err := v.Token(seal(t, v, fresh)); err != nil {
				t.Errorf("%s cached=%v: token issued after revocation rejected: %v", name, cached, err)
			}
		}
	}
}

func TestValidatorRejectsBadTokens(t *testing.T) {
	v, clk, _ := newValidator(t)
	s := seal(t, v, testToken(clk.now))
	if _, err := v.Token(s); err != nil {
		t.Fatal(err)
	}
	b := []byte(s)
	for _, i := range []int{0, 10, len(b) / 2, len(b) - 2} {
		m := append([]byte(nil), b...)
		if m[i] == 'A' {
			m[i] = 'B'
		} else {
			m[i] = 'A'
		}
		if _, err := v.Token(string(m)); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("tampered at %d: %v", i, err)
		}
	}
	other, _, _ := newValidator(t)
	foreign := seal(t, other, testToken(clk.now))
	for name, bad := range map[string]string{
		"empty": "", "garbage": "not-a-token", "truncated": s[:len(s)-5], "foreign": foreign,
		"doubled": s + s,
	} {
		if _, err := v.Token(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
		if c, err := v.Authenticate(context.Background(), bad); err == nil || c != nil {
			t.Errorf("%s: authenticated", name)
		}
	}
	// Still accepts the original.
	if _, err := v.Token(s); err != nil {
		t.Fatal(err)
	}
}

// TestValidatorCacheForgetsRetiredKeys: a cached token must stop validating once its
// key is rotated out, exactly as an uncached one does.
func TestValidatorCacheForgetsRetiredKeys(t *testing.T) {
	repo, err := fernet.OpenRepository(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	v := NewValidator(Codec{Keys: repo}, NewRevocationList())
	now := time.Now()
	s, err := v.Codec.Seal(&Token{UserID: "u", Methods: []string{"password"}, AuditIDs: []string{"a"},
		IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Token(s); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // with max 2 keys, two rotations retire the sealing key
		if err := repo.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Token(s); err == nil {
		t.Fatal("token sealed with a retired key still validates from the cache")
	}
}
