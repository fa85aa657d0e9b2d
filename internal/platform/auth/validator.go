package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrInvalidToken covers expired, revoked, tampered and malformed tokens alike.
var ErrInvalidToken = errors.New("the token is invalid, expired or revoked")

// Validator authenticates tokens locally with the shared keys: no call to identity,
// only a decrypt (cached) and a revocation check (always, so revocation is immediate).
type Validator struct {
	Codec   Codec
	Revoked *RevocationList
	Now     func() time.Time

	mu       sync.RWMutex
	cache    map[string]*Token
	keysSeen uint64 // key generation the cache was filled under
}

const validatorCacheSize = 65536

// NewValidator returns a Validator for the given codec and revocation list.
func NewValidator(c Codec, revoked *RevocationList) *Validator {
	return &Validator{Codec: c, Revoked: revoked, Now: time.Now, cache: map[string]*Token{}}
}

// Token opens and checks s, returning its payload.
func (v *Validator) Token(s string) (*Token, error) {
	gen := v.Codec.Keys.Generation()
	v.mu.RLock()
	t, ok := v.cache[s]
	if v.keysSeen != gen {
		ok = false // keys rotated: a cached token's key may be retired
	}
	v.mu.RUnlock()
	if !ok {
		var err error
		t, err = v.Codec.Open(s)
		if err != nil {
			return nil, ErrInvalidToken
		}
		v.mu.Lock()
		if v.keysSeen != gen {
			clear(v.cache)
			v.keysSeen = gen
		}
		if len(v.cache) >= validatorCacheSize {
			clear(v.cache) // bounded memory; entries are cheap to rebuild
		}
		v.cache[s] = t
		v.mu.Unlock()
	}
	if !v.Now().Before(t.ExpiresAt) || v.Revoked.Revoked(t) {
		return nil, ErrInvalidToken
	}
	return t, nil
}

// Authenticate implements httpapi.Authenticator.
func (v *Validator) Authenticate(_ context.Context, s string) (*Credentials, error) {
	t, err := v.Token(s)
	if err != nil {
		return nil, err
	}
	return t.Credentials(), nil
}
