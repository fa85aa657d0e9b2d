package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// tokenBytes is the random part of a token: 192 bits, well above the 128 bits that make
// guessing hopeless, and 32 URL-safe characters once encoded.
const tokenBytes = 24

// MemoryTokens is an in-process Tokens store for the all-in-one and tests: tokens are
// single-use and expire. Like upstream's console_auth_tokens table it keys entries by
// the token's SHA-256, so the map never holds a usable token.
type MemoryTokens struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]memoryEntry
	now     func() time.Time // replaced by tests
}

type memoryEntry struct {
	target  Target
	expires time.Time
}

var _ Tokens = (*MemoryTokens)(nil)

// NewMemoryTokens returns an empty store.
func NewMemoryTokens() *MemoryTokens {
	return &MemoryTokens{entries: map[[sha256.Size]byte]memoryEntry{}, now: time.Now}
}

// Issue authorizes one connection to target within ttl and returns its token.
func (m *MemoryTokens) Issue(target Target, ttl time.Duration) (string, error) {
	if _, _, err := target.network(); err != nil {
		return "", fmt.Errorf("issue console token: %w", err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("issue console token: ttl %v is not positive", ttl)
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("issue console token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)

	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	// Tokens nobody used would otherwise stay forever; sweeping here keeps the map
	// bounded by the tokens issued within one ttl.
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	m.entries[sha256.Sum256([]byte(token))] = memoryEntry{target: target, expires: now.Add(ttl)}
	return token, nil
}

// Consume implements Tokens.
func (m *MemoryTokens) Consume(_ context.Context, token string) (Target, error) {
	key := sha256.Sum256([]byte(token))
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		return Target{}, ErrInvalidToken
	}
	delete(m.entries, key)
	if !m.now().Before(e.expires) {
		return Target{}, ErrInvalidToken
	}
	return e.target, nil
}

// Len reports how many tokens are held (used or not yet swept), for tests and metrics.
func (m *MemoryTokens) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
