package auth

import (
	"slices"
	"sync"
	"time"
)

// RevocationEvent revokes every token matching all of its non-empty fields that was
// issued at or before IssuedBefore (Keystone's revocation-event model). An event with
// only AuditID revokes one token; with AuditChainID a token and all its re-scopes.
type RevocationEvent struct {
	UserID       string    `json:"user_id,omitempty"`
	ProjectID    string    `json:"project_id,omitempty"`
	DomainID     string    `json:"domain_id,omitempty"`
	RoleID       string    `json:"role_id,omitempty"`
	AppCredID    string    `json:"access_token_id,omitempty"`
	AuditID      string    `json:"audit_id,omitempty"`
	AuditChainID string    `json:"audit_chain_id,omitempty"`
	IssuedBefore time.Time `json:"issued_before"`
}

// Matches reports whether the event revokes t.
func (e *RevocationEvent) Matches(t *Token) bool {
	if t.IssuedAt.After(e.IssuedBefore) {
		return false
	}
	if e.AuditID != "" && (len(t.AuditIDs) == 0 || t.AuditIDs[0] != e.AuditID) {
		return false
	}
	if e.AuditChainID != "" && (len(t.AuditIDs) == 0 || t.AuditIDs[len(t.AuditIDs)-1] != e.AuditChainID) {
		return false
	}
	// A user's events revoke the trust-scoped tokens of the trusts the user is
	// trustor or trustee of, whoever the token stands for (upstream validates a
	// trust-scoped token against both users).
	if e.UserID != "" && t.UserID != e.UserID && t.TrustorUserID != e.UserID && t.TrusteeUserID != e.UserID {
		return false
	}
	if e.ProjectID != "" && t.ProjectID != e.ProjectID {
		return false
	}
	if e.DomainID != "" && t.DomainID != e.DomainID && t.ProjectDomainID != e.DomainID && t.UserDomainID != e.DomainID {
		return false
	}
	if e.RoleID != "" && !slices.ContainsFunc(t.Roles, func(r Role) bool { return r.ID == e.RoleID }) {
		return false
	}
	// access_token_id names an application credential, an OS-OAUTH1 access token
	// or an OS-TRUST trust (all random ids), revoking every token issued with it.
	if e.AppCredID != "" && t.AppCredID != e.AppCredID && t.OAuthAccessTokenID != e.AppCredID && t.TrustID != e.AppCredID {
		return false
	}
	return true
}

// RevocationList holds the revocation events a validator checks every token against.
// Events for single tokens are indexed by audit id, so validation stays O(1) however
// many tokens were revoked (Keystone's validation slowed down with the count).
type RevocationList struct {
	mu      sync.RWMutex
	byAudit map[string]time.Time
	general []RevocationEvent
}

// NewRevocationList returns an empty list.
func NewRevocationList() *RevocationList {
	return &RevocationList{byAudit: map[string]time.Time{}}
}

// Add records events; adding the same event twice is harmless.
func (l *RevocationList) Add(events ...RevocationEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		if e.AuditID != "" && e.UserID == "" && e.ProjectID == "" && e.DomainID == "" && e.RoleID == "" &&
			e.AppCredID == "" && e.AuditChainID == "" {
			if e.IssuedBefore.After(l.byAudit[e.AuditID]) {
				l.byAudit[e.AuditID] = e.IssuedBefore
			}
			continue
		}
		if !slices.Contains(l.general, e) {
			l.general = append(l.general, e)
		}
	}
}

// Revoked reports whether any event revokes t.
func (l *RevocationList) Revoked(t *Token) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(t.AuditIDs) > 0 {
		if before, ok := l.byAudit[t.AuditIDs[0]]; ok && !t.IssuedAt.After(before) {
			return true
		}
	}
	for i := range l.general {
		if l.general[i].Matches(t) {
			return true
		}
	}
	return false
}

// Prune forgets events older than horizon: no unexpired token can predate them.
func (l *RevocationList) Prune(horizon time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, before := range l.byAudit {
		if before.Before(horizon) {
			delete(l.byAudit, id)
		}
	}
	l.general = slices.DeleteFunc(l.general, func(e RevocationEvent) bool { return e.IssuedBefore.Before(horizon) })
}

// Len is the number of events held.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.byAudit) + len(l.general)
}
