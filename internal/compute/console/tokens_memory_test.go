package console

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMemoryTokens(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryTokens()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	target := Target{Socket: "/var/lib/nimbus/instances/i-1/vnc.sock"}

	tok, err := m.Issue(target, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 32 {
		t.Fatalf("token %d characters, want 32 (192 bits)", len(tok))
	}
	other, _ := m.Issue(target, time.Minute)
	if other == tok {
		t.Fatal("two tokens alike")
	}

	if got, err := m.Consume(ctx, tok); err != nil || got != target {
		t.Fatalf("first use: %+v %v", got, err)
	}
	if _, err := m.Consume(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("second use: %v, want ErrInvalidToken", err)
	}
	if _, err := m.Consume(ctx, "made-up"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown token: %v, want ErrInvalidToken", err)
	}

	now = now.Add(time.Minute) // other's expiry instant: expired
	if _, err := m.Consume(ctx, other); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired token: %v, want ErrInvalidToken", err)
	}

	// Unused tokens are swept once expired.
	m.Issue(target, time.Second)
	now = now.Add(2 * time.Second)
	m.Issue(target, time.Second)
	if m.Len() != 1 {
		t.Fatalf("%d tokens held, want 1 after the sweep", m.Len())
	}

	if _, err := m.Issue(Target{}, time.Minute); err == nil {
		t.Fatal("issued a token for no target")
	}
	if _, err := m.Issue(target, 0); err == nil {
		t.Fatal("issued a token with no ttl")
	}
}

func TestTargetNetwork(t *testing.T) {
	tests := []struct {
		target        Target
		network, addr string
	}{
		{Target{Socket: "/x/vnc.sock"}, "unix", "/x/vnc.sock"},
		{Target{Addr: "10.0.0.2:5900"}, "tcp", "10.0.0.2:5900"},
		{Target{Socket: "/x/vnc.sock", Addr: "10.0.0.2:5900"}, "tcp", "10.0.0.2:5900"},
	}
	for _, tt := range tests {
		n, a, err := tt.target.network()
		if err != nil || n != tt.network || a != tt.addr {
			t.Errorf("%+v: %s %s %v, want %s %s", tt.target, n, a, err, tt.network, tt.addr)
		}
	}
}
