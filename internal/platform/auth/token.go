package auth

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// Token is the payload sealed inside a Fernet token. Like Keystone's it is stateless:
// nothing is stored when a token is issued. Unlike Keystone's it carries the effective
// roles, so that every service authorises locally without calling identity; the
// identity service revokes tokens whenever the roles they carry stop being true.
type Token struct {
	UserID          string
	UserDomainID    string
	Methods         []string
	ProjectID       string
	ProjectDomainID string
	DomainID        string
	System          bool
	Roles           []Role
	AppCredID       string
	// OAuthAccessTokenID is the OS-OAUTH1 access token the token was issued with
	// (method "oauth1"); deleting the access token revokes the token.
	OAuthAccessTokenID string
	// AccessRules are the access rules of the application credential the token
	// was issued with: when there are any, every service lets the token make
	// only the requests they allow.
	AccessRules []AccessRule
	// TrustID is the OS-TRUST trust a trust-scoped token was issued with; its
	// trustor and trustee travel with it, so that revoking either user's tokens
	// revokes it too. UserID is the trustor when the trust impersonates, the
	// trustee otherwise.
	TrustID       string
	TrustorUserID string
	TrusteeUserID string
	Impersonation bool
	AuditIDs      []string // own audit id, then the chain's first when re-scoped
	IssuedAt      time.Time
	ExpiresAt     time.Time
}

// Credentials turns the token into request credentials (names are filled by identity
// when it renders a token; other services need only ids).
func (t *Token) Credentials() *Credentials {
	return &Credentials{
		UserID: t.UserID, UserDomainID: t.UserDomainID,
		ProjectID: t.ProjectID, ProjectDomainID: t.ProjectDomainID,
		DomainID: t.DomainID, System: t.System,
		Roles: t.Roles, Methods: t.Methods, AuditIDs: t.AuditIDs, AppCredID: t.AppCredID,
		OAuthAccessTokenID: t.OAuthAccessTokenID, AccessRules: t.AccessRules,
		TrustID: t.TrustID, TrustorUserID: t.TrustorUserID, TrusteeUserID: t.TrusteeUserID,
		IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt,
	}
}

// Payload versions: 1 is the original layout; 2 adds the OAuth1 access token id
// after the application credential id; 3 adds, after that id (empty or not), the
// application credential's access rules; 4 adds, after the rules (none or some),
// the trust id, trustor and trustee of a trust-scoped token. MarshalBinary writes the lowest version
// that holds the token (1 without an OAuth1 access token or access rules), so
// processes that only know the older versions keep validating every other token
// during a rolling upgrade; a token with access rules is refused by them, never
// taken for an unrestricted one.
const (
	payloadVersion1 = 1
	payloadVersion2 = 2
	payloadVersion3 = 3
	payloadVersion4 = 4
	payloadVersion  = payloadVersion1 // the base layout
)

var methodBits = []string{"password", "token", "application_credential", "totp", "mapped", "oauth1", "ec2credential"}

// ErrMalformed means the payload decrypted but does not decode; callers treat it as
// an invalid token.
var ErrMalformed = errors.New("auth: malformed token payload")

// Codec seals and opens tokens with a Fernet key repository.
type Codec struct{ Keys *fernet.Repository }

// Seal returns the token string for t.
func (c Codec) Seal(t *Token) (string, error) {
	payload, err := t.MarshalBinary()
	if err != nil {
		return "", err
	}
	out, err := fernet.Encrypt(c.Keys.Primary(), payload, t.IssuedAt)
	if err != nil {
		return "", fmt.Errorf("seal token: %w", err)
	}
	return string(out), nil
}

// Open verifies and decodes a token string. It does not check expiry or revocation.
func (c Codec) Open(s string) (*Token, error) {
	payload, _, err := fernet.Decrypt([]byte(s), c.Keys.Keys())
	if err != nil {
		return nil, err
	}
	t := &Token{}
	if err := t.UnmarshalBinary(payload); err != nil {
		return nil, err
	}
	return t, nil
}

// MarshalBinary encodes the payload compactly: ids that are 32 hex digits (all ids
// Nimbus generates) take 16 bytes, so tokens stay close to Keystone's length.
func (t *Token) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 160)
	version := byte(payloadVersion1)
	switch {
	case t.TrustID != "":
		version = payloadVersion4
	case len(t.AccessRules) > 0:
		version = payloadVersion3
	case t.OAuthAccessTokenID != "":
		version = payloadVersion2
	}
	b = append(b, version)
	var mask uint64
	for _, m := range t.Methods {
		found := false
		for i, name := range methodBits {
			if m == name {
				mask |= 1 << i
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("auth: unknown method %q", m)
		}
	}
	b = binary.AppendUvarint(b, mask)
	var flags byte
	if t.System {
		flags |= 1
	}
	if t.Impersonation {
		flags |= 2
	}
	b = append(b, flags)
	for _, s := range []string{t.UserID, t.UserDomainID, t.ProjectID, t.ProjectDomainID, t.DomainID, t.AppCredID} {
		b = appendID(b, s)
	}
	if version >= payloadVersion2 {
		b = appendID(b, t.OAuthAccessTokenID)
	}
	if version >= payloadVersion3 {
		b = binary.AppendUvarint(b, uint64(len(t.AccessRules)))
		for _, r := range t.AccessRules {
			b = appendString(b, r.Service)
			b = appendString(b, r.Method)
			b = appendString(b, r.Path)
		}
	}
	if version >= payloadVersion4 {
		for _, s := range []string{t.TrustID, t.TrustorUserID, t.TrusteeUserID} {
			b = appendID(b, s)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(t.Roles)))
	for _, r := range t.Roles {
		b = appendID(b, r.ID)
		b = appendString(b, r.Name)
	}
	b = binary.AppendUvarint(b, uint64(len(t.AuditIDs)))
	for _, a := range t.AuditIDs {
		b = appendString(b, a)
	}
	b = binary.AppendVarint(b, t.IssuedAt.UnixMicro())
	b = binary.AppendVarint(b, t.ExpiresAt.UnixMicro())
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; any inconsistency is ErrMalformed.
func (t *Token) UnmarshalBinary(b []byte) error {
	*t = Token{} // decoding replaces, never appends to, what t held
	d := decoder{b: b}
	version := d.byte()
	if version < payloadVersion1 || version > payloadVersion4 {
		return ErrMalformed
	}
	mask := d.uvarint()
	for i, name := range methodBits {
		if mask&(1<<i) != 0 {
			t.Methods = append(t.Methods, name)
		}
	}
	flags := d.byte()
	t.System, t.Impersonation = flags&1 != 0, flags&2 != 0
	for _, dst := range []*string{&t.UserID, &t.UserDomainID, &t.ProjectID, &t.ProjectDomainID, &t.DomainID, &t.AppCredID} {
		*dst = d.id()
	}
	if version >= payloadVersion2 {
		// Version 2 always carries an access token; an empty one is not canonical.
		if t.OAuthAccessTokenID = d.id(); t.OAuthAccessTokenID == "" && version == payloadVersion2 {
			d.fail()
		}
	}
	if version >= payloadVersion3 {
		// Version 3 always carries access rules; none is not canonical.
		n := d.count()
		if n == 0 && version == payloadVersion3 {
			d.fail()
		}
		for i := 0; i < n && d.err == nil; i++ {
			t.AccessRules = append(t.AccessRules, AccessRule{Service: d.string(), Method: d.string(), Path: d.string()})
		}
	}
	if version >= payloadVersion4 {
		// Version 4 always carries a trust, with both its users.
		t.TrustID, t.TrustorUserID, t.TrusteeUserID = d.id(), d.id(), d.id()
		if t.TrustID == "" || t.TrustorUserID == "" || t.TrusteeUserID == "" {
			d.fail()
		}
	}
	n := d.count()
	t.Roles = make([]Role, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		t.Roles = append(t.Roles, Role{ID: d.id(), Name: d.string()})
	}
	n = d.count()
	for i := 0; i < n && d.err == nil; i++ {
		t.AuditIDs = append(t.AuditIDs, d.string())
	}
	t.IssuedAt = time.UnixMicro(d.varint()).UTC()
	t.ExpiresAt = time.UnixMicro(d.varint()).UTC()
	if d.err != nil || len(d.b) != 0 || t.UserID == "" {
		return ErrMalformed
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendID writes a tag byte: 0 = raw string, 1 = 16 bytes of packed lowercase hex.
func appendID(b []byte, s string) []byte {
	if len(s) == 32 {
		var raw [16]byte
		if _, err := hex.Decode(raw[:], []byte(s)); err == nil && hex.EncodeToString(raw[:]) == s {
			b = append(b, 1)
			return append(b, raw[:]...)
		}
	}
	b = append(b, 0)
	return appendString(b, s)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err = ErrMalformed; d.b = nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a list length, bounded by what the remaining bytes could hold.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) id() string {
	switch d.byte() {
	case 0:
		return d.string()
	case 1:
		if len(d.b) < 16 {
			d.fail()
			return ""
		}
		s := hex.EncodeToString(d.b[:16])
		d.b = d.b[16:]
		return s
	default:
		d.fail()
		return ""
	}
}
