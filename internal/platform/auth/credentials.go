// Package auth carries who is calling: the credentials a validated token stands for,
// the token format every service validates locally, and the revocation list.
package auth

import (
	"context"
	"slices"
	"time"
)

// Credentials are what a validated token says about its bearer.
type Credentials struct {
	UserID          string
	UserName        string
	UserDomainID    string
	UserDomainName  string
	ProjectID       string
	ProjectName     string
	ProjectDomainID string
	ProjectDomainNm string
	DomainID        string // domain-scoped tokens
	DomainName      string
	System          bool // system-scoped ("all")
	Roles           []Role
	Methods         []string
	AuditIDs        []string
	AppCredID       string
	// OAuthAccessTokenID is set for tokens an OAuth1 consumer obtained with a
	// delegation (method "oauth1").
	OAuthAccessTokenID string
	// AccessRules, when any, are all the requests the token may make (its
	// application credential's access rules).
	AccessRules []AccessRule
	// TrustID is set for trust-scoped tokens (OS-TRUST), with the trust's users.
	TrustID        string
	TrustorUserID  string
	TrusteeUserID  string
	IssuedAt       time.Time
	ExpiresAt      time.Time
	IsAdminProject bool
}

// Role is a role the bearer holds on the token's scope (implied roles included).
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// HasRole reports whether the bearer holds the role named name.
func (c *Credentials) HasRole(name string) bool {
	return slices.ContainsFunc(c.Roles, func(r Role) bool { return r.Name == name })
}

// RoleNames lists the names of the bearer's roles.
func (c *Credentials) RoleNames() []string {
	out := make([]string, len(c.Roles))
	for i, r := range c.Roles {
		out[i] = r.Name
	}
	return out
}

// PolicyCredentials is the credentials dictionary oslo.policy rules are evaluated against.
func (c *Credentials) PolicyCredentials() map[string]any {
	m := map[string]any{
		"user_id":           c.UserID,
		"user_domain_id":    c.UserDomainID,
		"project_id":        c.ProjectID,
		"project_domain_id": c.ProjectDomainID,
		"domain_id":         c.DomainID,
		"roles":             c.RoleNames(),
		"is_admin_project":  c.IsAdminProject,
	}
	if c.System {
		m["system_scope"] = "all"
	} else {
		m["system_scope"] = ""
	}
	// Keystone's rules also read the caller's token as identity renders it
	// ("token.domain.id:%(target.domain.id)s"): its scope's and user's domains.
	for key, v := range map[string]string{
		"token.domain.id": c.DomainID, "token.project.domain.id": c.ProjectDomainID,
		"token.user.domain.id": c.UserDomainID,
	} {
		if v != "" {
			m[key] = v
		}
	}
	return m
}

// Delegated reports whether the token stands for a delegation (an application
// credential, an OAuth1 access token or a trust) rather than for the user itself.
func (c *Credentials) Delegated() bool {
	return c.AppCredID != "" || c.OAuthAccessTokenID != "" || c.TrustID != ""
}

// Scoped reports whether the token is scoped to anything.
func (c *Credentials) Scoped() bool { return c.ProjectID != "" || c.DomainID != "" || c.System }

type credsKey struct{}

// WithCredentials stores creds in ctx.
func WithCredentials(ctx context.Context, creds *Credentials) context.Context {
	return context.WithValue(ctx, credsKey{}, creds)
}

// FromContext returns the caller's credentials, nil for unauthenticated requests.
func FromContext(ctx context.Context) *Credentials {
	c, _ := ctx.Value(credsKey{}).(*Credentials)
	return c
}
