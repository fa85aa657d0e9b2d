package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// revoke records events durably, then applies them to the shared list at once, so
// the next request to any in-process service is already rejected.
func (s *Service) revoke(ctx context.Context, events ...auth.RevocationEvent) error {
	now := s.now()
	for i := range events {
		if events[i].IssuedBefore.IsZero() {
			events[i].IssuedBefore = now
		}
	}
	extra, err := s.redelegatedTrustEvents(ctx, events)
	if err != nil {
		return err
	}
	events = append(events, extra...)
	for i := range events {
		if events[i].IssuedBefore.IsZero() {
			events[i].IssuedBefore = now
		}
		e := events[i]
		if _, err := s.db.ExecContext(ctx, `INSERT INTO revocation_events (id, user_id, project_id, domain_id, role_id,
			access_token_id, audit_id, audit_chain_id, issued_before, revoked_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			newID(), e.UserID, e.ProjectID, e.DomainID, e.RoleID, e.AppCredID, e.AuditID, e.AuditChainID,
			e.IssuedBefore.UnixMicro(), now.UnixMicro()); err != nil {
			return fmt.Errorf("record revocation: %w", err)
		}
	}
	s.revoked.Add(events...)
	s.changed()
	if s.bus != nil {
		if err := s.bus.Publish(auth.RevocationSubject, events); err != nil {
			s.log.Warn("publish revocation events", "error", err)
		}
	}
	return nil
}

// loadRevocations fills the list from the database, pruning events older than any
// token still alive.
func (s *Service) loadRevocations(ctx context.Context) error {
	horizon := s.now().Add(-s.cfg.TokenExpiration.Duration - time.Minute)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM revocation_events WHERE issued_before < ?`, horizon.UnixMicro()); err != nil {
		return fmt.Errorf("prune revocation events: %w", err)
	}
	events, err := s.RevocationEvents(ctx)
	if err != nil {
		return err
	}
	s.revoked.Add(events...)
	return nil
}

// RevocationEvents lists every stored event (what a process joining the bus loads).
func (s *Service) RevocationEvents(ctx context.Context) ([]auth.RevocationEvent, error) {
	events, err := db.QueryAll(ctx, s.db, func(row db.Scanner) (auth.RevocationEvent, error) {
		var e auth.RevocationEvent
		var before int64
		err := row.Scan(&e.UserID, &e.ProjectID, &e.DomainID, &e.RoleID, &e.AppCredID, &e.AuditID, &e.AuditChainID, &before)
		e.IssuedBefore = time.UnixMicro(before).UTC()
		return e, err
	}, `SELECT user_id, project_id, domain_id, role_id, access_token_id, audit_id, audit_chain_id, issued_before
		FROM revocation_events`)
	if err != nil {
		return nil, fmt.Errorf("load revocation events: %w", err)
	}
	return events, nil
}

// ServeRevocations answers "identity.revocations.list" on the bus, so that a service
// in another process can load the list when it starts and then follow the events.
func (s *Service) ServeRevocations(b *bus.Bus) error {
	return b.Handle(auth.RevocationListSubject, func(ctx context.Context, _ json.RawMessage) (any, error) {
		return s.RevocationEvents(ctx)
	})
}
