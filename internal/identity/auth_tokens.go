package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func (s *Service) authRoutes() []httpapi.Route {
	subjectTarget := func(r *http.Request) (map[string]any, error) {
		subject := r.Header.Get("X-Subject-Token")
		if subject == "" {
			return nil, httpapi.BadRequest("Expecting to find X-Subject-Token in request headers.")
		}
		t, err := s.valid.Token(subject)
		if err != nil {
			return nil, httpapi.NotFound("Could not find token: %s.", "X-Subject-Token")
		}
		return map[string]any{"target.token.user_id": t.UserID}, nil
	}
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/auth/tokens", Public: true, Handler: s.issueToken, LateValidation: lazyValidation("auth"),
			Schemas: schemas(tokenIssueRequest, map[int]jsonschema.Schema{http.StatusCreated: tokenResponse})},
		{Method: "GET", Path: "/v3/auth/tokens", Policy: "identity:validate_token", Target: subjectTarget, Handler: s.validateToken,
			Schemas: okBody(tokenResponse)},
		{Method: "HEAD", Path: "/v3/auth/tokens", Policy: "identity:check_token", Target: subjectTarget, Handler: s.validateToken,
			Schemas: okBody(nil)},
		{Method: "DELETE", Path: "/v3/auth/tokens", Policy: "identity:revoke_token", Target: subjectTarget, Handler: s.revokeToken, Schemas: noContent},
		{Method: "GET", Path: "/v3/auth/catalog", Policy: "identity:get_auth_catalog", Handler: s.authCatalog,
			Schemas: okBody(authCatalogResponse)},
		{Method: "GET", Path: "/v3/auth/projects", Policy: "identity:get_auth_projects", Handler: s.authProjects,
			Schemas: okBody(projectIndexResponse)},
		{Method: "GET", Path: "/v3/auth/domains", Policy: "identity:get_auth_domains", Handler: s.authDomains,
			Schemas: okBody(domainIndexResponse)},
		{Method: "GET", Path: "/v3/auth/system", Policy: "identity:get_auth_system", Handler: s.authSystem,
			Schemas: okBody(authSystemResponse)},
		// Keystone v2-era clients still ask these; they are the same as /v3/auth/*.
		{Method: "GET", Path: "/v3/OS-FEDERATION/projects", Policy: "identity:get_auth_projects", Handler: s.authProjects,
			Schemas: okBody(projectIndexResponse)},
		{Method: "GET", Path: "/v3/OS-FEDERATION/domains", Policy: "identity:get_auth_domains", Handler: s.authDomains,
			Schemas: okBody(domainIndexResponse)},
	}
}

// ref names a user, project or domain by id, or by name within a domain.
type ref struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Domain   *ref   `json:"domain"`
}

type authRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *ref `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			ApplicationCredential *struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Secret string `json:"secret"`
				User   *ref   `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type scopeRequest struct {
	Project *ref `json:"project"`
	Domain  *ref `json:"domain"`
	System  *struct {
		All bool `json:"all"`
	} `json:"system"`
	Trust json.RawMessage `json:"OS-TRUST:trust"`
}

// authResult is who authenticated and what limits the methods impose.
type authResult struct {
	userID     string
	methods    []string
	expiresCap time.Time       // a re-scoped token never outlives the original
	chain      string          // audit id of the original token when re-scoping
	appCred    *appCredRow     // set for application_credential logins
	oauth1     *accessTokenRow // set for oauth1 logins
	rescoped   *auth.Token
	trust      *trustGrant // set for an OS-TRUST:trust scope
	// issuedAt is when the login began, before anything the token carries was
	// read: a revocation recorded after a change commits (issued_before = then)
	// thus catches every token built from what the change replaced.
	issuedAt time.Time
}

func (s *Service) issueToken(r *http.Request) (httpapi.Response, error) {
	var req authRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Auth == nil || req.Auth.Identity == nil {
		return httpapi.Response{}, httpapi.BadRequest("'identity' is a required property")
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		return httpapi.Response{}, httpapi.BadRequest("'methods' is a required property")
	}
	scope, err := parseScope(req.Auth.Scope)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	res := authResult{issuedAt: s.now()}
	for _, m := range id.Methods {
		if slices.Contains(res.methods, m) {
			continue
		}
		var userID string
		var err error
		switch m {
		case "password":
			if id.Password == nil || id.Password.User == nil {
				return httpapi.Response{}, httpapi.BadRequest("Expecting to find user in password. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
			}
			userID, err = s.authPassword(ctx, id.Password.User)
		case "token":
			if id.Token == nil || id.Token.ID == "" {
				return httpapi.Response{}, httpapi.BadRequest("Expecting to find id in token. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
			}
			var t *auth.Token
			t, err = s.valid.Token(id.Token.ID)
			if err != nil {
				return httpapi.Response{}, httpapi.NotFound("Failed to validate token")
			}
			if t.AppCredID != "" {
				return httpapi.Response{}, httpapi.Forbidden("Using a token issued by an application credential to obtain another token is not allowed.")
			}
			if t.OAuthAccessTokenID != "" {
				return httpapi.Response{}, httpapi.Forbidden("Using OAuth-scoped token to create another token. Create a new OAuth-scoped token instead")
			}
			if t.TrustID != "" { // upstream's token plugin, whatever the scope asked
				return httpapi.Response{}, forbiddenAction("Using trust-scoped token to create another token. Create a new trust-scoped token instead")
			}
			if (t.ProjectID != "" || t.DomainID != "" || t.System) && !s.cfg.AllowRescopeScopedToken {
				return httpapi.Response{}, httpapi.Forbidden("Re-scoping a scoped token is not allowed.")
			}
			userID = t.UserID
			res.expiresCap = t.ExpiresAt
			res.chain = t.AuditIDs[len(t.AuditIDs)-1]
			res.rescoped = t
			for _, om := range t.Methods {
				if !slices.Contains(res.methods, om) {
					res.methods = append(res.methods, om)
				}
			}
		case "application_credential":
			if id.ApplicationCredential == nil {
				return httpapi.Response{}, httpapi.BadRequest("Expecting to find application_credential in identity.")
			}
			ac := id.ApplicationCredential
			res.appCred, err = s.authApplicationCredential(ctx, ac.ID, ac.Name, ac.Secret, ac.User)
			if err == nil {
				userID = res.appCred.UserID
			}
		case "oauth1":
			res.oauth1, err = s.authOAuth1(r)
			if err == nil {
				userID = res.oauth1.AuthorizingUserID
			}
		default:
			return httpapi.Response{}, httpapi.Unauthorized("Attempted to authenticate with an unsupported method.")
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		if res.userID != "" && res.userID != userID {
			return httpapi.Response{}, errAuthFailed
		}
		res.userID = userID
		if !slices.Contains(res.methods, m) {
			res.methods = append(res.methods, m)
		}
	}
	user, err := s.getUser(ctx, s.db, res.userID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.requireUserEnabled(ctx, user); err != nil {
		return httpapi.Response{}, err
	}
	sc, err := s.resolveScope(ctx, scope, user, &res)
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.buildToken(ctx, user, sc, &res)
	if err != nil {
		return httpapi.Response{}, err
	}
	if res.trust != nil { // only once the token is sure to be issued, as upstream
		if err := s.consumeTrustUse(ctx, res.trust.trust); err != nil {
			return httpapi.Response{}, err
		}
	}
	token, err := s.codec.Seal(t)
	if err != nil {
		return httpapi.Response{}, err
	}
	body, err := s.renderToken(ctx, t, r.URL.Query().Has("nocatalog"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusCreated, Body: body}.
		WithHeader("X-Subject-Token", token).WithHeader("Content-Type", "application/json"), nil
}

// requireUserEnabled refuses a login of a user that is disabled or whose domain
// is, whichever method authenticated it and however it was named (a user id
// names no domain): upstream's identity_api.assert_user_enabled.
func (s *Service) requireUserEnabled(ctx context.Context, u *userRow) error {
	if u == nil || !u.Enabled {
		return errAuthFailed
	}
	d, err := s.getDomain(ctx, s.db, u.DomainID)
	if err != nil {
		return err
	}
	if d == nil || !d.Enabled {
		return errAuthFailed
	}
	return nil
}

// authPassword authenticates a password login and returns the user id.
func (s *Service) authPassword(ctx context.Context, ur *ref) (string, error) {
	u, err := s.lookupUser(ctx, ur)
	if err != nil && !isAuthFailure(err) {
		return "", err
	}
	if err := s.checkPassword(ctx, u, ur.Password); err != nil {
		return "", err
	}
	return u.ID, nil
}

// lookupUser finds a user named by a login request; nil when there is none.
func (s *Service) lookupUser(ctx context.Context, ur *ref) (*userRow, error) {
	if ur.ID != "" {
		return s.getUser(ctx, s.db, ur.ID)
	}
	if ur.Name == "" || ur.Domain == nil {
		return nil, httpapi.BadRequest("Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	domainID, err := s.lookupDomainID(ctx, ur.Domain)
	if err != nil || domainID == "" {
		return nil, err
	}
	return s.getUserByName(ctx, s.db, ur.Name, domainID)
}

// lookupDomainID resolves a domain reference; "" when it does not exist.
func (s *Service) lookupDomainID(ctx context.Context, d *ref) (string, error) {
	var dom *projectRow
	var err error
	switch {
	case d.ID != "":
		dom, err = s.getDomain(ctx, s.db, d.ID)
	case d.Name != "":
		dom, err = s.getDomainByName(ctx, s.db, d.Name)
	default:
		return "", httpapi.BadRequest("Expecting to find id or name in domain.")
	}
	if err != nil || dom == nil {
		return "", err
	}
	if !dom.Enabled {
		return "", errAuthFailed
	}
	return dom.ID, nil
}

// resolveScope turns the request's scope (or the user's default project) into a scope.
// requestedScope is the scope of a token request, checked for shape before any
// credential is, so malformed requests answer 400 whatever the password.
type requestedScope struct {
	explicit bool // a scope (or "unscoped") was given
	unscoped bool
	req      scopeRequest
}

func parseScope(raw json.RawMessage) (requestedScope, error) {
	var rs requestedScope
	if len(raw) == 0 || string(raw) == "null" {
		return rs, nil
	}
	rs.explicit = true
	var unscoped string
	if json.Unmarshal(raw, &unscoped) == nil {
		if unscoped != "unscoped" {
			return rs, httpapi.BadRequest("Invalid input for field 'scope': expected an object or \"unscoped\".")
		}
		rs.unscoped = true
		return rs, nil
	}
	if err := httpapi.DecodeJSONBytes(raw, &rs.req); err != nil {
		return rs, err
	}
	req := &rs.req
	n := 0
	for _, set := range []bool{req.Project != nil, req.Domain != nil, req.System != nil, len(req.Trust) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return rs, httpapi.BadRequest("Specify a domain, project or system, but not more than one.")
	}
	if req.System != nil && !req.System.All {
		return rs, httpapi.BadRequest("Invalid input for field 'system': expected {\"all\": true}.")
	}
	return rs, nil
}

func (s *Service) resolveScope(ctx context.Context, rs requestedScope, u *userRow, res *authResult) (tokenScope, error) {
	var sc tokenScope
	explicit := rs.explicit
	if explicit && !rs.unscoped {
		req := &rs.req
		switch {
		case len(req.Trust) > 0:
			g, err := s.trustForScope(ctx, req.Trust)
			if err != nil {
				return sc, err
			}
			if g.trust.ProjectID.Valid {
				p, err := s.lookupScopeProject(ctx, &ref{ID: g.trust.ProjectID.String})
				if err != nil {
					return sc, err
				}
				sc.ProjectID = p.ID
			}
			res.trust = g
		case req.Project != nil:
			p, err := s.lookupScopeProject(ctx, req.Project)
			if err != nil {
				return sc, err
			}
			sc.ProjectID = p.ID
		case req.Domain != nil:
			id, err := s.lookupDomainID(ctx, req.Domain)
			if err != nil {
				return sc, err
			}
			if id == "" {
				return sc, httpapi.Unauthorized("Could not find domain: %s.", firstNonEmpty(req.Domain.ID, req.Domain.Name))
			}
			sc.DomainID = id
		case req.System != nil:
			sc.System = true
		}
	}
	if ac := res.appCred; ac != nil {
		// An application credential is bound to one scope; asking for another fails.
		want := tokenScope{ProjectID: ac.ProjectID.String, System: ac.System.String != ""}
		if explicit && sc != want {
			return sc, httpapi.Unauthorized("Application credentials cannot request a scope.")
		}
		return want, nil
	}
	if at := res.oauth1; at != nil {
		return oauth1Scope(explicit, sc, at)
	}
	if !explicit && u.DefaultProjectID.Valid && u.DefaultProjectID.String != "" {
		// As upstream: no scope given means the default project, when it is usable.
		if p, err := s.getProject(ctx, s.db, u.DefaultProjectID.String); err == nil && p != nil && p.Enabled {
			if roles, err := s.effectiveRoles(ctx, u.ID, tokenScope{ProjectID: p.ID}); err == nil && len(roles) > 0 {
				sc.ProjectID = p.ID
			}
		}
	}
	return sc, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (s *Service) lookupScopeProject(ctx context.Context, pr *ref) (*projectRow, error) {
	var p *projectRow
	var err error
	switch {
	case pr.ID != "":
		p, err = s.getProject(ctx, s.db, pr.ID)
	case pr.Name != "" && pr.Domain != nil:
		var domainID string
		domainID, err = s.lookupDomainID(ctx, pr.Domain)
		if err == nil && domainID != "" {
			p, err = s.getProjectByName(ctx, s.db, pr.Name, domainID)
		}
	default:
		return nil, httpapi.BadRequest("Expecting to find domain in project. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, httpapi.Unauthorized("Could not find project: %s.", firstNonEmpty(pr.ID, pr.Name))
	}
	if !p.Enabled {
		return nil, httpapi.Unauthorized("Project %s is disabled.", p.ID)
	}
	if dom, err := s.getDomain(ctx, s.db, p.DomainID); err != nil || dom == nil || !dom.Enabled {
		return nil, errAuthFailed
	}
	return p, nil
}

// buildToken computes the roles for the scope and assembles the token payload.
func (s *Service) buildToken(ctx context.Context, u *userRow, sc tokenScope, res *authResult) (*auth.Token, error) {
	now := res.issuedAt.UTC().Truncate(time.Microsecond)
	t := &auth.Token{
		UserID: u.ID, UserDomainID: u.DomainID, Methods: res.methods,
		ProjectID: sc.ProjectID, DomainID: sc.DomainID, System: sc.System,
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.TokenExpiration.Duration),
		AuditIDs: []string{newAuditID()},
	}
	if !res.expiresCap.IsZero() && res.expiresCap.Before(t.ExpiresAt) {
		t.ExpiresAt = res.expiresCap
	}
	if res.chain != "" {
		t.AuditIDs = append(t.AuditIDs, res.chain)
	}
	if sc.ProjectID != "" {
		p, err := s.getProject(ctx, s.db, sc.ProjectID)
		if err != nil || p == nil {
			return nil, errAuthFailed
		}
		t.ProjectDomainID = p.DomainID
	}
	if res.trust != nil {
		if err := s.applyTrust(ctx, t, u, res.trust); err != nil {
			return nil, err
		}
	}
	if sc != (tokenScope{}) {
		roles := t.Roles // a trust's, when scoped to one
		if res.trust == nil {
			var err error
			if roles, err = s.effectiveRoles(ctx, u.ID, sc); err != nil {
				return nil, err
			}
		}
		if ac := res.appCred; ac != nil {
			t.AppCredID = ac.ID
			if ac.ExpiresAt.Valid && time.UnixMicro(ac.ExpiresAt.Int64).Before(t.ExpiresAt) {
				t.ExpiresAt = time.UnixMicro(ac.ExpiresAt.Int64).UTC()
			}
			roles = slices.DeleteFunc(roles, func(r auth.Role) bool { return !slices.Contains(ac.RoleIDs, r.ID) })
			// The rules travel in the token, so that every service enforces them
			// without asking identity (a credential's rules never change).
			rules, err := s.appCredAccessRules(ctx, ac.ID)
			if err != nil {
				return nil, err
			}
			for _, r := range rules {
				t.AccessRules = append(t.AccessRules, auth.AccessRule{Service: r.Service, Method: r.Method, Path: r.Path})
			}
		}
		if at := res.oauth1; at != nil {
			roles = applyOAuth1(t, at, roles)
		}
		if len(roles) == 0 {
			switch {
			case sc.ProjectID != "":
				return nil, httpapi.Unauthorized("User %s has no access to project %s", u.ID, sc.ProjectID)
			case sc.DomainID != "":
				return nil, httpapi.Unauthorized("User %s has no access to domain %s", u.ID, sc.DomainID)
			default:
				return nil, httpapi.Unauthorized("User %s has no access to the system", u.ID)
			}
		}
		t.Roles = roles
	}
	return t, nil
}

// newAuditID is 16 random bytes, url-safe base64 without padding (22 characters).
func newAuditID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Service) validateToken(r *http.Request) (httpapi.Response, error) {
	subject := r.Header.Get("X-Subject-Token")
	t, err := s.valid.Token(subject)
	if err != nil {
		return httpapi.Response{}, httpapi.NotFound("Could not find token: %s.", truncate(subject, 16))
	}
	body, err := s.renderToken(r.Context(), t, r.URL.Query().Has("nocatalog"))
	if err != nil {
		return httpapi.Response{}, err
	}
	resp := httpapi.OK(body).WithHeader("X-Subject-Token", subject).WithHeader("Content-Type", "application/json")
	if r.Method == http.MethodHead {
		resp.Body = nil
		resp.Status = http.StatusOK
	}
	return resp, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func (s *Service) revokeToken(r *http.Request) (httpapi.Response, error) {
	subject := r.Header.Get("X-Subject-Token")
	t, err := s.valid.Token(subject)
	if err != nil {
		return httpapi.Response{}, httpapi.NotFound("Could not find token: %s.", truncate(subject, 16))
	}
	if err := s.revoke(r.Context(), auth.RevocationEvent{AuditID: t.AuditIDs[0], IssuedBefore: t.IssuedAt}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) authCatalog(r *http.Request) (httpapi.Response, error) {
	creds := auth.FromContext(r.Context())
	if creds.ProjectID == "" { // as upstream, domain and system tokens too
		return httpapi.Response{}, httpapi.Forbidden("A project-scoped token is required to produce a service catalog.")
	}
	cat, err := s.catalog(r.Context(), creds.ProjectID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"catalog": cat, "links": s.collectionLinks(r)}), nil
}

// scopeTargets lists the projects or domains on which the caller has any role.
func (s *Service) scopeTargets(ctx context.Context, userID, kind string) ([]*projectRow, error) {
	groups, err := s.groupIDsOfUser(ctx, s.db, userID)
	if err != nil {
		return nil, err
	}
	actors := append([]string{userID}, groups...)
	ids, err := db.QueryStrings(ctx, s.db, `SELECT DISTINCT target_id FROM assignments WHERE actor_id IN (`+
		placeholders(len(actors))+`) AND type IN (?, ?)`,
		append(anySlice(actors), "User"+kind, "Group"+kind)...)
	if err != nil {
		return nil, fmt.Errorf("list scopes: %w", err)
	}
	var out []*projectRow
	for _, id := range ids {
		var p *projectRow
		if kind == "Domain" {
			p, err = s.getDomain(ctx, s.db, id)
		} else {
			p, err = s.getProject(ctx, s.db, id)
		}
		if err != nil {
			return nil, err
		}
		if p == nil || !p.Enabled {
			continue
		}
		roles, err := s.effectiveRoles(ctx, userID, map[bool]tokenScope{true: {DomainID: id}, false: {ProjectID: id}}[kind == "Domain"])
		if err != nil {
			return nil, err
		}
		if len(roles) > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *projectRow) int { return compareStrings(a.Name, b.Name) })
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Service) authProjects(r *http.Request) (httpapi.Response, error) {
	creds := auth.FromContext(r.Context())
	ps, err := s.scopeTargets(r.Context(), creds.UserID, "Project")
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		list = append(list, s.projectJSON(r.Context(), p))
	}
	return httpapi.OK(map[string]any{"projects": list, "links": s.collectionLinks(r)}), nil
}

func (s *Service) authDomains(r *http.Request) (httpapi.Response, error) {
	creds := auth.FromContext(r.Context())
	ds, err := s.scopeTargets(r.Context(), creds.UserID, "Domain")
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		list = append(list, s.domainJSON(d))
	}
	return httpapi.OK(map[string]any{"domains": list, "links": s.collectionLinks(r)}), nil
}

func (s *Service) authSystem(r *http.Request) (httpapi.Response, error) {
	creds := auth.FromContext(r.Context())
	roles, err := s.effectiveRoles(r.Context(), creds.UserID, tokenScope{System: true})
	if err != nil {
		return httpapi.Response{}, err
	}
	system := []map[string]any{}
	if len(roles) > 0 {
		system = append(system, map[string]any{"all": true})
	}
	return httpapi.OK(map[string]any{"system": system, "links": s.collectionLinks(r)}), nil
}
