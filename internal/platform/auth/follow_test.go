package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// TestFollowRevocations plays identity on one side of an embedded bus and a remote
// service on the other: stored events load at start, later events arrive live.
func TestFollowRevocations(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := bus.Start(bus.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Now()
	stored := []RevocationEvent{{AuditID: "stored", IssuedBefore: now}}
	if err := b.Handle(RevocationListSubject, func(context.Context, json.RawMessage) (any, error) {
		return stored, nil
	}); err != nil {
		t.Fatal(err)
	}
	list := NewRevocationList()
	stop, err := FollowRevocations(context.Background(), b, list, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	early := &Token{UserID: "u", AuditIDs: []string{"stored"}, IssuedAt: now.Add(-time.Second)}
	if !list.Revoked(early) {
		t.Fatal("stored event not loaded")
	}
	live := &Token{UserID: "u2", AuditIDs: []string{"live"}, IssuedAt: now.Add(-time.Second)}
	if list.Revoked(live) {
		t.Fatal("token revoked before any event")
	}
	if err := b.Publish(RevocationSubject, []RevocationEvent{{UserID: "u2", IssuedBefore: now}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !list.Revoked(live) {
		if time.Now().After(deadline) {
			t.Fatal("live revocation event never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
