package identity

import (
	"context"
	"encoding/json"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

type renderKey struct {
	auditID   string
	nocatalog bool
}

type renderedToken struct {
	generation uint64
	body       []byte
}

const renderCacheSize = 16384

// renderToken returns the JSON body of a token. Bodies are cached per token until the
// next identity write, so validation is a decrypt and a map hit.
func (s *Service) renderToken(ctx context.Context, t *auth.Token, nocatalog bool) ([]byte, error) {
	key := renderKey{auditID: t.AuditIDs[0], nocatalog: nocatalog}
	gen := s.generation.Load()
	s.renderMu.Lock()
	cached, ok := s.rendered[key]
	s.renderMu.Unlock()
	if ok && cached.generation == gen {
		return cached.body, nil
	}
	body, err := s.buildTokenBody(ctx, t, nocatalog)
	if err != nil {
		return nil, err
	}
	s.renderMu.Lock()
	if len(s.rendered) >= renderCacheSize {
		clear(s.rendered)
	}
	s.rendered[key] = renderedToken{generation: gen, body: body}
	s.renderMu.Unlock()
	return body, nil
}

func (s *Service) buildTokenBody(ctx context.Context, t *auth.Token, nocatalog bool) ([]byte, error) {
	user, err := s.getUser(ctx, s.db, t.UserID)
	if err != nil {
		return nil, err
	}
	if user == nil {
		return nil, errAuthFailed
	}
	var passwordExpires any
	if user.PasswordExpiresAt.Valid {
		passwordExpires = formatTime(timeFromMicro(user.PasswordExpiresAt.Int64))
	}
	body := map[string]any{
		"methods":    t.Methods,
		"audit_ids":  t.AuditIDs,
		"issued_at":  formatTime(t.IssuedAt),
		"expires_at": formatTime(t.ExpiresAt),
		"user": map[string]any{
			"id": user.ID, "name": user.Name, "domain": s.domainRef(ctx, user.DomainID),
			"password_expires_at": passwordExpires,
		},
	}
	roles := t.Roles
	if roles == nil {
		roles = []auth.Role{}
	}
	switch {
	case t.ProjectID != "":
		p, err := s.getProject(ctx, s.db, t.ProjectID)
		if err != nil {
			return nil, err
		}
		name := ""
		if p != nil {
			name = p.Name
		}
		body["project"] = map[string]any{"id": t.ProjectID, "name": name, "domain": s.domainRef(ctx, t.ProjectDomainID)}
		if t.TrustID == "" { // upstream's trust-scoped tokens have no is_domain
			body["is_domain"] = false
		}
		body["roles"] = roles
	case t.DomainID != "":
		body["domain"] = s.domainRef(ctx, t.DomainID)
		body["roles"] = roles
	case t.System:
		body["system"] = map[string]any{"all": true}
		body["roles"] = roles
	}
	if t.TrustID != "" {
		body["OS-TRUST:trust"] = map[string]any{
			"id": t.TrustID, "trustor_user": map[string]any{"id": t.TrustorUserID},
			"trustee_user": map[string]any{"id": t.TrusteeUserID}, "impersonation": t.Impersonation,
		}
		if t.ProjectID == "" {
			body["roles"] = roles
		}
	}
	if t.AppCredID != "" {
		ac, err := s.getApplicationCredential(ctx, t.AppCredID)
		if err != nil {
			return nil, err
		}
		if ac != nil {
			j, err := s.appCredTokenJSON(ctx, ac)
			if err != nil {
				return nil, err
			}
			body["application_credential"] = j
		}
	}
	if t.OAuthAccessTokenID != "" {
		oa, err := s.oauth1TokenJSON(ctx, t.OAuthAccessTokenID)
		if err != nil {
			return nil, err
		}
		body["OS-OAUTH1"] = oa
	}
	if !nocatalog && (t.ProjectID != "" || t.DomainID != "" || t.System || t.TrustID != "") {
		cat, err := s.catalog(ctx, t.ProjectID)
		if err != nil {
			return nil, err
		}
		body["catalog"] = cat
	}
	return json.Marshal(map[string]any{"token": body})
}

// domainRef is the {"id","name"} object tokens embed.
func (s *Service) domainRef(ctx context.Context, id string) map[string]any {
	name := ""
	if d, err := s.getDomain(ctx, s.db, id); err == nil && d != nil {
		name = d.Name
	}
	return map[string]any{"id": id, "name": name}
}
