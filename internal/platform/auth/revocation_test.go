package auth

import (
	"testing"
	"time"
)

func TestRevocationEventMatches(t *testing.T) {
	issued := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	before, after := issued.Add(-time.Second), issued.Add(time.Second)

	projectTok := &Token{UserID: "u1", UserDomainID: "ud", ProjectID: "p1", ProjectDomainID: "pd",
		Roles: []Role{{ID: "r1", Name: "admin"}, {ID: "r2", Name: "reader"}}, AppCredID: "ac1",
		AuditIDs: []string{"a1", "chain1"}, IssuedAt: issued}
	domainTok := &Token{UserID: "u1", UserDomainID: "ud", DomainID: "dd", AuditIDs: []string{"a2"}, IssuedAt: issued}
	freshTok := &Token{UserID: "u1", AuditIDs: []string{"a3"}, IssuedAt: issued}
	noAudit := &Token{UserID: "u1", IssuedAt: issued}
	oauthTok := &Token{UserID: "u1", ProjectID: "p1", Methods: []string{"oauth1"}, OAuthAccessTokenID: "at1",
		AuditIDs: []string{"a4"}, IssuedAt: issued}
	trustTok := &Token{UserID: "trustee", ProjectID: "p1", TrustID: "t1", TrustorUserID: "trustor",
		TrusteeUserID: "trustee", AuditIDs: []string{"a5"}, IssuedAt: issued}

	tests := []struct {
		name string
		ev   RevocationEvent
		tok  *Token
		want bool
	}{
		// issued_before boundaries
		{"audit id, issued_before equal", RevocationEvent{AuditID: "a1", IssuedBefore: issued}, projectTok, true},
		{"audit id, issued_before after", RevocationEvent{AuditID: "a1", IssuedBefore: after}, projectTok, true},
		{"audit id, token issued after event", RevocationEvent{AuditID: "a1", IssuedBefore: before}, projectTok, false},
		{"audit id, 1ns earlier", RevocationEvent{AuditID: "a1", IssuedBefore: issued.Add(-time.Nanosecond)}, projectTok, false},
		{"empty event revokes everything issued before", RevocationEvent{IssuedBefore: issued}, projectTok, true},
		{"empty event spares newer tokens", RevocationEvent{IssuedBefore: before}, projectTok, false},

		// audit ids
		{"audit id other", RevocationEvent{AuditID: "zz", IssuedBefore: after}, projectTok, false},
		{"audit id is not the chain id", RevocationEvent{AuditID: "chain1", IssuedBefore: after}, projectTok, false},
		{"audit id on token without audit ids", RevocationEvent{AuditID: "a1", IssuedBefore: after}, noAudit, false},
		{"audit chain matches last audit id", RevocationEvent{AuditChainID: "chain1", IssuedBefore: after}, projectTok, true},
		{"audit chain is not the own id of a rescoped token", RevocationEvent{AuditChainID: "a1", IssuedBefore: after}, projectTok, false},
		{"audit chain of an original token is its own id", RevocationEvent{AuditChainID: "a3", IssuedBefore: after}, freshTok, true},
		{"audit chain other", RevocationEvent{AuditChainID: "zz", IssuedBefore: after}, projectTok, false},
		{"audit chain on token without audit ids", RevocationEvent{AuditChainID: "a1", IssuedBefore: after}, noAudit, false},
		{"audit chain, token issued after", RevocationEvent{AuditChainID: "chain1", IssuedBefore: before}, projectTok, false},

		// trusts: the trust id, and either of its users
		{"trust by id", RevocationEvent{AppCredID: "t1", IssuedBefore: issued}, trustTok, true},
		{"other trust", RevocationEvent{AppCredID: "t2", IssuedBefore: issued}, trustTok, false},
		{"trust's trustor", RevocationEvent{UserID: "trustor", IssuedBefore: issued}, trustTok, true},
		{"trust's trustor on the project", RevocationEvent{UserID: "trustor", ProjectID: "p1", IssuedBefore: issued}, trustTok, true},
		{"trust's trustor on another project", RevocationEvent{UserID: "trustor", ProjectID: "p2", IssuedBefore: issued}, trustTok, false},
		{"trust's trustee", RevocationEvent{UserID: "trustee", IssuedBefore: issued}, trustTok, true},
		{"a user outside the trust", RevocationEvent{UserID: "u1", IssuedBefore: issued}, trustTok, false},

		// user / project
		{"user", RevocationEvent{UserID: "u1", IssuedBefore: issued}, projectTok, true},
		{"user other", RevocationEvent{UserID: "u2", IssuedBefore: issued}, projectTok, false},
		{"user, token issued after", RevocationEvent{UserID: "u1", IssuedBefore: before}, projectTok, false},
		{"user and project", RevocationEvent{UserID: "u1", ProjectID: "p1", IssuedBefore: issued}, projectTok, true},
		{"user and other project", RevocationEvent{UserID: "u1", ProjectID: "p2", IssuedBefore: issued}, projectTok, false},
		{"other user and project", RevocationEvent{UserID: "u2", ProjectID: "p1", IssuedBefore: issued}, projectTok, false},
		{"user and project vs domain token", RevocationEvent{UserID: "u1", ProjectID: "p1", IssuedBefore: issued}, domainTok, false},
		{"project", RevocationEvent{ProjectID: "p1", IssuedBefore: issued}, projectTok, true},

		// domain matches scope domain, project's domain or user's domain
		{"domain = project_domain_id", RevocationEvent{DomainID: "pd", IssuedBefore: issued}, projectTok, true},
		{"domain = user_domain_id", RevocationEvent{DomainID: "ud", IssuedBefore: issued}, projectTok, true},
		{"domain = scoped domain", RevocationEvent{DomainID: "dd", IssuedBefore: issued}, domainTok, true},
		{"domain other", RevocationEvent{DomainID: "xx", IssuedBefore: issued}, projectTok, false},
		{"domain other on domain token", RevocationEvent{DomainID: "pd", IssuedBefore: issued}, domainTok, false},
		{"domain and user", RevocationEvent{DomainID: "pd", UserID: "u1", IssuedBefore: issued}, projectTok, true},
		{"domain and other user", RevocationEvent{DomainID: "pd", UserID: "u2", IssuedBefore: issued}, projectTok, false},

		// roles and application credentials
		{"role", RevocationEvent{RoleID: "r2", IssuedBefore: issued}, projectTok, true},
		{"role other", RevocationEvent{RoleID: "r9", IssuedBefore: issued}, projectTok, false},
		{"role name is not role id", RevocationEvent{RoleID: "admin", IssuedBefore: issued}, projectTok, false},
		{"role on token without roles", RevocationEvent{RoleID: "r1", IssuedBefore: issued}, domainTok, false},
		{"role and project", RevocationEvent{RoleID: "r1", ProjectID: "p1", IssuedBefore: issued}, projectTok, true},
		{"role and other project", RevocationEvent{RoleID: "r1", ProjectID: "p2", IssuedBefore: issued}, projectTok, false},
		{"app cred", RevocationEvent{AppCredID: "ac1", IssuedBefore: issued}, projectTok, true},
		{"app cred other", RevocationEvent{AppCredID: "ac2", IssuedBefore: issued}, projectTok, false},
		{"app cred on token without", RevocationEvent{AppCredID: "ac1", IssuedBefore: issued}, freshTok, false},
		{"oauth1 access token", RevocationEvent{AppCredID: "at1", IssuedBefore: issued}, oauthTok, true},
		{"oauth1 access token other", RevocationEvent{AppCredID: "at2", IssuedBefore: issued}, oauthTok, false},
		{"oauth1 access token, token issued after", RevocationEvent{AppCredID: "at1", IssuedBefore: before}, oauthTok, false},
		{"oauth1 access token on token without", RevocationEvent{AppCredID: "at1", IssuedBefore: issued}, projectTok, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			if got := ev.Matches(tc.tok); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
			// The list must agree with the event, whichever index it lands in.
			l := NewRevocationList()
			l.Add(ev)
			if got := l.Revoked(tc.tok); got != tc.want {
				t.Errorf("RevocationList.Revoked = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRevocationListAddRevokedPrune(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tok := func(audit string, issued time.Time) *Token {
		return &Token{UserID: "u-" + audit, AuditIDs: []string{audit}, IssuedAt: issued}
	}
	l := NewRevocationList()
	if l.Len() != 0 || l.Revoked(tok("a", t0)) {
		t.Fatal("new list is not empty")
	}

	l.Add(RevocationEvent{AuditID: "a", IssuedBefore: t0})
	if l.Len() != 1 {
		t.Fatalf("Len = %d", l.Len())
	}
	if !l.Revoked(tok("a", t0)) || !l.Revoked(tok("a", t0.Add(-time.Hour))) {
		t.Error("audit-id event not applied")
	}
	if l.Revoked(tok("a", t0.Add(time.Microsecond))) {
		t.Error("token issued after the event revoked")
	}
	if l.Revoked(tok("b", t0)) {
		t.Error("other audit id revoked")
	}
	// The chain id (second audit id) is not the token's own id.
	if l.Revoked(&Token{UserID: "x", AuditIDs: []string{"own", "a"}, IssuedAt: t0}) {
		t.Error("audit-id event matched a chain id")
	}
	if l.Revoked(&Token{UserID: "x", IssuedAt: t0}) {
		t.Error("token without audit ids revoked")
	}

	// Re-adding is harmless; an earlier issued_before never narrows an event.
	l.Add(RevocationEvent{AuditID: "a", IssuedBefore: t0})
	l.Add(RevocationEvent{AuditID: "a", IssuedBefore: t0.Add(-time.Hour)})
	if l.Len() != 1 || !l.Revoked(tok("a", t0)) {
		t.Fatalf("re-adding changed the list: len %d", l.Len())
	}
	// A later issued_before widens it.
	l.Add(RevocationEvent{AuditID: "a", IssuedBefore: t0.Add(time.Hour)})
	if l.Len() != 1 || !l.Revoked(tok("a", t0.Add(30*time.Minute))) {
		t.Fatal("later event not applied")
	}

	userEv := RevocationEvent{UserID: "u-c", IssuedBefore: t0}
	chainEv := RevocationEvent{AuditChainID: "chain", IssuedBefore: t0.Add(2 * time.Hour)}
	l.Add(userEv, chainEv, userEv)
	if l.Len() != 3 {
		t.Fatalf("Len after general events = %d, want 3", l.Len())
	}
	if !l.Revoked(tok("c", t0)) || l.Revoked(tok("c", t0.Add(time.Second))) {
		t.Error("user event misapplied")
	}
	if !l.Revoked(&Token{UserID: "z", AuditIDs: []string{"own", "chain"}, IssuedAt: t0.Add(time.Hour)}) {
		t.Error("chain event not applied")
	}

	// Prune forgets events strictly older than the horizon.
	l.Prune(t0) // user event at t0 and audit event at t0+1h are kept
	if l.Len() != 3 {
		t.Fatalf("Len after Prune(t0) = %d, want 3", l.Len())
	}
	l.Prune(t0.Add(time.Nanosecond)) // user event goes
	if l.Len() != 2 || l.Revoked(tok("c", t0)) {
		t.Fatalf("Len after Prune(t0+1ns) = %d", l.Len())
	}
	l.Prune(t0.Add(90 * time.Minute)) // audit event at t0+1h goes
	if l.Len() != 1 || l.Revoked(tok("a", t0)) {
		t.Fatalf("Len after Prune(t0+90m) = %d", l.Len())
	}
	l.Prune(t0.Add(3 * time.Hour))
	if l.Len() != 0 {
		t.Fatalf("Len after final Prune = %d", l.Len())
	}
}
