package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Application credentials: a user delegates (a subset of) its roles on the token's
// project to a secret that applications log in with. Secrets are bcrypt-hashed and
// shown only once, in the create answer.

func (s *Service) applicationCredentialRoutes() []httpapi.Route {
	// "owner" is user_id:%(user_id)s: only the user itself (or a system reader).
	target := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"user_id": pathParam(r, "user_id")}, nil
	}
	const base = "/v3/users/{user_id}/application_credentials"
	return []httpapi.Route{
		{Method: "GET", Path: base, Policy: "identity:list_application_credentials", Target: target, Handler: s.listApplicationCredentials,
			Schemas: okBody(appCredIndexResponse)},
		{Method: "POST", Path: base, Policy: "identity:create_application_credential", Target: target, Handler: s.createApplicationCredential,
			Schemas: schemas(appCredCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: appCredCreateResponse})},
		{Method: "GET", Path: base + "/{application_credential_id}", Policy: "identity:get_application_credential", Target: target, Handler: s.showApplicationCredential,
			Schemas: okBody(appCredResponse)},
		{Method: "DELETE", Path: base + "/{application_credential_id}", Policy: "identity:delete_application_credential", Target: target, Handler: s.deleteApplicationCredential, Schemas: noContent},
	}
}

// accessRuleRoutes are /v3/users/{user_id}/access_rules: the rules the user's
// application credentials were created with.
func (s *Service) accessRuleRoutes() []httpapi.Route {
	target := func(r *http.Request) (map[string]any, error) {
		id := pathParam(r, "user_id")
		return map[string]any{"user_id": id, "target.user.id": id}, nil
	}
	const base = "/v3/users/{user_id}/access_rules"
	return []httpapi.Route{
		{Method: "GET", Path: base, Policy: "identity:list_access_rules", Target: target, Handler: s.listAccessRules,
			Schemas: okBody(accessRuleIndexResponse)},
		{Method: "GET", Path: base + "/{access_rule_id}", Policy: "identity:get_access_rule", Target: target, Handler: s.showAccessRule,
			Schemas: okBody(accessRuleResponse)},
		{Method: "DELETE", Path: base + "/{access_rule_id}", Policy: "identity:delete_access_rule", Target: target, Handler: s.deleteAccessRule, Schemas: noContent},
	}
}

func (s *Service) appCredJSON(ctx context.Context, a *appCredRow) (map[string]any, error) {
	rules, err := s.appCredAccessRules(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	roles := []map[string]any{}
	for _, id := range a.RoleIDs {
		role, err := s.getRole(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		if role == nil {
			continue // deleted since; it no longer grants anything
		}
		roles = append(roles, map[string]any{"id": role.ID, "name": role.Name, "domain_id": nil})
	}
	slices.SortFunc(roles, func(x, y map[string]any) int { return strings.Compare(x["name"].(string), y["name"].(string)) })
	var expires, desc any
	if a.ExpiresAt.Valid {
		// Upstream renders this datetime without a zone (oslo's PERFECT_TIME_FORMAT),
		// and gophercloud parses exactly that: a trailing Z would break it.
		expires = timeFromMicro(a.ExpiresAt.Int64).Format(appCredTimeFormat)
	}
	if a.Description != "" {
		desc = a.Description
	}
	return map[string]any{
		"id": a.ID, "name": a.Name, "description": desc, "expires_at": expires,
		"project_id": nullStringJSON(a.ProjectID), "system": nullStringJSON(a.System),
		"roles": roles, "unrestricted": a.Unrestricted, "access_rules": accessRulesJSON(rules),
		"links": s.links("/v3/users/" + a.UserID + "/application_credentials/" + a.ID),
	}, nil
}

// loadUserAppCred loads an application credential of the path's user; another
// user's answers 404 as if it did not exist.
func (s *Service) loadUserAppCred(r *http.Request) (*appCredRow, error) {
	id := pathParam(r, "application_credential_id")
	a, err := s.getApplicationCredential(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if a == nil || a.UserID != pathParam(r, "user_id") {
		return nil, httpapi.NotFound("Could not find Application Credential: %s.", id)
	}
	return a, nil
}

// appCredsManaged is what requireUnrestrictedToken names when it refuses to let a
// restricted application credential manage application credentials.
const appCredsManaged = "additional application credentials"

// requireUnrestrictedToken refuses, as upstream, tokens obtained with a restricted
// application credential: they may not manage what (application credentials, trusts).
func (s *Service) requireUnrestrictedToken(ctx context.Context, creds *auth.Credentials, what string) error {
	if creds == nil || creds.AppCredID == "" {
		return nil
	}
	a, err := s.getApplicationCredential(ctx, creds.AppCredID)
	if err != nil {
		return err
	}
	if a == nil || !a.Unrestricted {
		return httpapi.Forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing %s.", what)
	}
	return nil
}

// appCredTimeFormat is how application credentials render expires_at (UTC, no Z).
const appCredTimeFormat = "2006-01-02T15:04:05.000000"

func appCredInvalid(detail string) error {
	return httpapi.BadRequest("Invalid application credential: %s", detail)
}

// newAppCredSecret is upstream's: 64 random bytes, url-safe base64 without padding.
func newAppCredSecret() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Service) listApplicationCredentials(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockDelegatedAppCredManagement(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	userID := pathParam(r, "user_id")
	where, args := "user_id = ?", []any{userID}
	if q := r.URL.Query(); q.Has("name") {
		where, args = where+" AND name = ?", append(args, q.Get("name"))
	}
	ids, err := db.QueryStrings(ctx, s.db, `SELECT id FROM application_credentials WHERE `+where+` ORDER BY name`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, id := range ids {
		full, err := s.getApplicationCredential(ctx, id)
		if err != nil {
			return httpapi.Response{}, err
		}
		if full == nil {
			continue
		}
		j, err := s.appCredJSON(ctx, full)
		if err != nil {
			return httpapi.Response{}, err
		}
		out = append(out, j)
	}
	return httpapi.OK(map[string]any{"application_credentials": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showApplicationCredential(r *http.Request) (httpapi.Response, error) {
	if err := blockDelegatedAppCredManagement(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	a, err := s.loadUserAppCred(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	j, err := s.appCredJSON(r.Context(), a)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"application_credential": j}), nil
}

func (s *Service) createApplicationCredential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	userID := pathParam(r, "user_id")
	obj, err := decodeEnvelope(r, "application_credential")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "unrestricted") // null, which the schema allows, is false
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.NullableString("description")
	secret, _ := f.NullableString("secret")
	expires, _ := f.NullableString("expires_at")
	unrestricted, _ := f.Bool("unrestricted")
	rawRoles, hasRoles := f.m["roles"]
	delete(f.m, "roles")
	rawRules, hasRules := f.m["access_rules"]
	delete(f.m, "access_rules")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	ruleReqs, err := parseAccessRules(rawRules, hasRules)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := blockDelegatedAppCredManagement(creds); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.requireUnrestrictedToken(ctx, creds, appCredsManaged); err != nil {
		return httpapi.Response{}, err
	}
	if creds.UserID != userID {
		return httpapi.Response{}, httpapi.Forbidden("You are not authorized to perform the requested action: Cannot create an application credential for another user.")
	}
	a := &appCredRow{ID: newID(), Name: name, UserID: userID, Unrestricted: unrestricted, CreatedAt: s.now().UnixMicro()}
	switch {
	case creds.ProjectID != "":
		a.ProjectID.String, a.ProjectID.Valid = creds.ProjectID, true
	case creds.System:
		a.System.String, a.System.Valid = "all", true
	default:
		return httpapi.Response{}, appCredInvalid("an application credential can only be created with a project-scoped or system-scoped token.")
	}
	if desc != nil {
		a.Description = *desc
	}
	if expires != nil && *expires != "" {
		t, err := parseTime(*expires)
		if err != nil {
			return httpapi.Response{}, httpapi.BadRequest("Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
		}
		if !t.After(s.now()) {
			return httpapi.Response{}, httpapi.BadRequest("The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
		}
		a.ExpiresAt.Int64, a.ExpiresAt.Valid = t.UnixMicro(), true
	}
	if a.RoleIDs, err = s.appCredRoles(ctx, creds, rawRoles, hasRoles); err != nil {
		return httpapi.Response{}, err
	}
	plain := newAppCredSecret()
	if secret != nil && *secret != "" {
		plain = *secret
	}
	if a.SecretHash, err = s.hashPassword(plain); err != nil {
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadUser(ctx, tx, userID); err != nil { // not deleted meanwhile
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO application_credentials (`+appCredColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			a.ID, a.Name, a.SecretHash, a.Description, a.UserID, a.ProjectID, a.System, a.ExpiresAt, a.Unrestricted,
			a.CreatedAt)
		if db.IsUniqueViolation(err) {
			return conflict("application_credential", "name", name)
		}
		if err != nil {
			return fmt.Errorf("create application credential: %w", err)
		}
		for _, roleID := range a.RoleIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO application_credential_roles (application_credential_id, role_id)
				VALUES (?, ?)`, a.ID, roleID); err != nil {
				return fmt.Errorf("create application credential roles: %w", err)
			}
		}
		return s.linkAccessRules(ctx, tx, a, ruleReqs)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	j, err := s.appCredJSON(ctx, a)
	if err != nil {
		return httpapi.Response{}, err
	}
	j["secret"] = plain
	return httpapi.Created(map[string]any{"application_credential": j}), nil
}

// tokenRolesNow are the roles the caller's token stands for as upstream computes
// them: Keystone rebuilds a token's roles from the assignments whenever it
// validates it, so a role granted after the token was issued is the token's too.
// A delegated token stands for its delegation's roles only, which it carries.
func (s *Service) tokenRolesNow(ctx context.Context, creds *auth.Credentials) ([]auth.Role, error) {
	if creds.Delegated() {
		return creds.Roles, nil
	}
	return s.effectiveRoles(ctx, creds.UserID, tokenScope{ProjectID: creds.ProjectID, DomainID: creds.DomainID, System: creds.System})
}

// appCredRoles resolves the requested roles ([{"id":...} or {"name":...}]) and the
// roles they imply, which must all be the token's (tokenRolesNow); none requested
// means all the token's roles.
func (s *Service) appCredRoles(ctx context.Context, creds *auth.Credentials, raw any, present bool) ([]string, error) {
	tokenRoles, err := s.tokenRolesNow(ctx, creds)
	if err != nil {
		return nil, err
	}
	onToken := func(id string) bool {
		return slices.ContainsFunc(tokenRoles, func(r auth.Role) bool { return r.ID == id })
	}
	var ids []string
	list, isList := raw.([]any)
	switch {
	case !present || raw == nil || (isList && len(list) == 0):
		for _, r := range tokenRoles {
			ids = append(ids, r.ID)
		}
	case !isList:
		return nil, httpapi.BadRequest("Invalid input for field 'roles': expected an array of objects.")
	default:
		for _, item := range list {
			ref, ok := item.(map[string]any)
			if !ok {
				return nil, httpapi.BadRequest("Invalid input for field 'roles': expected an array of objects.")
			}
			id, _ := ref["id"].(string)
			name, _ := ref["name"].(string)
			badRef := (id == "") == (name == "") // exactly one of them
			for k, v := range ref {
				switch {
				case k == "id" && id != "", k == "name" && name != "", k == "domain_id" && v == nil:
				default:
					badRef = true
				}
			}
			if badRef {
				return nil, httpapi.BadRequest("Invalid input for field 'roles': each role is {\"id\": ...} or {\"name\": ...}.")
			}
			if id == "" {
				role, err := s.getRoleByName(ctx, s.db, name, nullDomainID)
				if err != nil {
					return nil, err
				}
				if role == nil {
					return nil, notFound("role", name)
				}
				id = role.ID
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		// As upstream, the roles the named ones imply come along (member brings
		// reader), as they do with the token's roles; all must be on the token.
		all, err := s.impliedClosure(ctx, s.db, ids)
		if err != nil {
			return nil, err
		}
		ids = all
		for _, id := range ids {
			if !onToken(id) {
				return nil, appCredInvalid("Cannot create an application credential with unassigned role")
			}
		}
	}
	if len(ids) == 0 {
		return nil, appCredInvalid("the token carries no roles to delegate.")
	}
	return ids, nil
}

// deleteApplicationCredential deletes the credential and revokes every token issued
// with it.
func (s *Service) deleteApplicationCredential(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockDelegatedAppCredManagement(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.requireUnrestrictedToken(ctx, auth.FromContext(ctx), appCredsManaged); err != nil {
		return httpapi.Response{}, err
	}
	a, err := s.loadUserAppCred(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM application_credential_roles WHERE application_credential_id = ?`, a.ID); err != nil {
			return err
		}
		// The rules themselves stay, as upstream, until deleted through access_rules.
		if _, err := tx.ExecContext(ctx, `DELETE FROM application_credential_access_rules WHERE application_credential_id = ?`, a.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM application_credentials WHERE id = ?`, a.ID)
		if err != nil {
			return fmt.Errorf("delete application credential: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 { // deleted meanwhile
			return httpapi.NotFound("Could not find Application Credential: %s.", a.ID)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	// Revoked after the delete, so that no token issued in between survives it.
	if err := s.revoke(ctx, auth.RevocationEvent{AppCredID: a.ID}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// Access rules: an application credential may be limited to a list of (service,
// path, method) an application may call. Rules belong to the user and are shared
// by the credentials that name the same rule; other services do not enforce them
// yet (see docs/COMPATIBILITY.md).

type accessRuleRow struct {
	ID, UserID, Service, Path, Method string
}

// accessRuleRequest is one item of "access_rules" in a create request: an existing
// rule by id, or a rule by its attributes (found again when the user already has it).
type accessRuleRequest struct {
	ID, Service, Path, Method string
}

// accessRuleMethods are the request methods a rule may name, as upstream's schema.
var accessRuleMethods = []string{"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"}

// isIDString is upstream's id_string: 1-64 letters, digits and dashes.
func isIDString(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func accessRulesInvalid(detail string) error {
	return httpapi.BadRequest("Invalid input for field 'access_rules': %s", detail)
}

// parseAccessRules validates the "access_rules" of a create request against
// upstream's schema: an array of objects with only path (starting with "/", at most
// 225 characters), method (one of accessRuleMethods), service and id (id strings).
// A rule without an id needs all three attributes.
func parseAccessRules(raw any, present bool) ([]accessRuleRequest, error) {
	if !present || raw == nil {
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, accessRulesInvalid("expected an array of objects.")
	}
	out := make([]accessRuleRequest, 0, len(items))
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, accessRulesInvalid("expected an array of objects.")
		}
		var r accessRuleRequest
		for k, v := range m {
			str, isStr := v.(string)
			if !isStr {
				return nil, accessRulesInvalid(fmt.Sprintf("'%s' must be a string.", k))
			}
			switch k {
			case "id":
				if !isIDString(str) {
					return nil, accessRulesInvalid("'id' must be 1 to 64 letters, digits or dashes.")
				}
				r.ID = str
			case "service":
				if !isIDString(str) {
					return nil, accessRulesInvalid("'service' must be a service type: 1 to 64 letters, digits or dashes.")
				}
				r.Service = str
			case "path":
				if !strings.HasPrefix(str, "/") || len(str) > 225 {
					return nil, accessRulesInvalid("'path' must start with '/' and be at most 225 characters.")
				}
				r.Path = str
			case "method":
				if !slices.Contains(accessRuleMethods, str) {
					return nil, accessRulesInvalid(fmt.Sprintf("'method' must be one of %s.", strings.Join(accessRuleMethods, ", ")))
				}
				r.Method = str
			default:
				return nil, accessRulesInvalid(fmt.Sprintf("additional property '%s' is not allowed.", k))
			}
		}
		if r.ID == "" && (r.Service == "" || r.Path == "" || r.Method == "") {
			return nil, accessRulesInvalid("each rule needs an 'id', or a 'service', 'path' and 'method'.")
		}
		out = append(out, r)
	}
	return out, nil
}

// linkAccessRules resolves the requested rules for the credential's user (reusing the
// user's rule of the same id, or of the same service, path and method, and creating
// the others) and records them, in order, as the credential's rules.
func (s *Service) linkAccessRules(ctx context.Context, tx *db.Tx, a *appCredRow, reqs []accessRuleRequest) error {
	var linked []string
	now := s.now().UnixMicro()
	for i, req := range reqs {
		var rule *accessRuleRow
		var err error
		idTaken := false
		if req.ID != "" {
			rule, err = scanAccessRule(tx.QueryRowContext(ctx, `SELECT `+accessRuleColumns+` FROM access_rules WHERE id = ?`, req.ID))
			if err != nil {
				return err
			}
			if rule != nil && rule.UserID != a.UserID {
				rule, idTaken = nil, true // another user's: not usable, nor its id
			}
			if rule == nil && (req.Service == "" || req.Path == "" || req.Method == "") {
				return notFound("access rule", req.ID)
			}
		}
		if rule == nil {
			rule, err = scanAccessRule(tx.QueryRowContext(ctx, `SELECT `+accessRuleColumns+` FROM access_rules
				WHERE user_id = ? AND service = ? AND path = ? AND method = ?`, a.UserID, req.Service, req.Path, req.Method))
			if err != nil {
				return err
			}
		}
		if rule == nil {
			rule = &accessRuleRow{ID: req.ID, UserID: a.UserID, Service: req.Service, Path: req.Path, Method: req.Method}
			if rule.ID == "" || idTaken {
				rule.ID = newID()
			}
			// Distinct creation times keep the user's list in the order rules were given.
			// Another credential made at once may add the same rule first: it is
			// then this one's too (PostgreSQL runs the transaction again to see it).
			res, err := tx.ExecContext(ctx, `INSERT INTO access_rules (`+accessRuleColumns+`, created_at) VALUES (?,?,?,?,?,?)
				ON CONFLICT DO NOTHING`, rule.ID, rule.UserID, rule.Service, rule.Path, rule.Method, now+int64(i))
			if err != nil {
				return fmt.Errorf("create access rule: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if rule, err = scanAccessRule(tx.QueryRowContext(ctx, `SELECT `+accessRuleColumns+` FROM access_rules
					WHERE user_id = ? AND service = ? AND path = ? AND method = ?`, a.UserID, req.Service, req.Path, req.Method)); err != nil {
					return err
				}
				if rule == nil { // the id was taken, by another user's rule
					return conflict("access_rule", "id", req.ID)
				}
			}
		}
		if slices.Contains(linked, rule.ID) {
			continue // the same rule twice in one request
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO application_credential_access_rules
			(application_credential_id, access_rule_id, ordinal) VALUES (?, ?, ?)`, a.ID, rule.ID, len(linked)); err != nil {
			return err
		}
		linked = append(linked, rule.ID)
	}
	return nil
}

const accessRuleColumns = `id, user_id, service, path, method`

func scanAccessRule(row db.Scanner) (*accessRuleRow, error) {
	r := &accessRuleRow{}
	err := row.Scan(&r.ID, &r.UserID, &r.Service, &r.Path, &r.Method)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load access rule: %w", err)
	}
	return r, nil
}

func (s *Service) queryAccessRules(ctx context.Context, query string, args ...any) ([]*accessRuleRow, error) {
	out, err := db.QueryAll(ctx, s.db, scanAccessRule, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list access rules: %w", err)
	}
	return out, nil
}

// appCredAccessRules are the rules of an application credential, in request order.
func (s *Service) appCredAccessRules(ctx context.Context, appCredID string) ([]*accessRuleRow, error) {
	return s.queryAccessRules(ctx, `SELECT `+extPrefixColumns("r.", accessRuleColumns)+`
		FROM access_rules r JOIN application_credential_access_rules l ON l.access_rule_id = r.id
		WHERE l.application_credential_id = ? ORDER BY l.ordinal`, appCredID)
}

// accessRulesJSON renders rules as application credentials (and tokens) embed them.
func accessRulesJSON(rules []*accessRuleRow) []map[string]any {
	out := make([]map[string]any, 0, len(rules))
	for _, r := range rules {
		out = append(out, map[string]any{"id": r.ID, "service": r.Service, "path": r.Path, "method": r.Method})
	}
	return out
}

// appCredTokenJSON is the "application_credential" object of a token body, with the
// credential's access rules as upstream renders them.
func (s *Service) appCredTokenJSON(ctx context.Context, a *appCredRow) (map[string]any, error) {
	rules, err := s.appCredAccessRules(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	j := map[string]any{"id": a.ID, "name": a.Name, "restricted": !a.Unrestricted}
	if len(rules) > 0 {
		j["access_rules"] = accessRulesJSON(rules)
	}
	return j, nil
}

func (s *Service) accessRuleJSON(r *accessRuleRow) map[string]any {
	return map[string]any{
		"id": r.ID, "service": r.Service, "path": r.Path, "method": r.Method,
		"links": s.links("/v3/users/" + r.UserID + "/access_rules/" + r.ID),
	}
}

// loadUserAccessRule loads an access rule of the path's user; another user's
// answers 404 as if it did not exist.
func (s *Service) loadUserAccessRule(r *http.Request) (*accessRuleRow, error) {
	id := pathParam(r, "access_rule_id")
	rule, err := scanAccessRule(s.db.QueryRowContext(r.Context(), `SELECT `+accessRuleColumns+` FROM access_rules WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if rule == nil || rule.UserID != pathParam(r, "user_id") {
		return nil, notFound("access rule", id)
	}
	return rule, nil
}

// listAccessRules lists the user's rules, filtered by service, path and method as
// upstream.
func (s *Service) listAccessRules(r *http.Request) (httpapi.Response, error) {
	if err := blockDelegatedAppCredManagement(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	where, args := "user_id = ?", []any{pathParam(r, "user_id")}
	q := r.URL.Query()
	for _, attr := range []string{"service", "path", "method"} {
		if q.Has(attr) {
			where, args = where+" AND "+attr+" = ?", append(args, q.Get(attr))
		}
	}
	rules, err := s.queryAccessRules(r.Context(), `SELECT `+accessRuleColumns+` FROM access_rules WHERE `+where+
		` ORDER BY created_at, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(rules))
	for _, rule := range rules {
		out = append(out, s.accessRuleJSON(rule))
	}
	return httpapi.OK(map[string]any{"access_rules": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showAccessRule(r *http.Request) (httpapi.Response, error) {
	if err := blockDelegatedAppCredManagement(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	rule, err := s.loadUserAccessRule(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"access_rule": s.accessRuleJSON(rule)}), nil
}

// deleteAccessRule deletes a rule no application credential uses any more; one in
// use answers 403, as upstream.
func (s *Service) deleteAccessRule(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockDelegatedAppCredManagement(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.requireUnrestrictedToken(ctx, auth.FromContext(ctx), appCredsManaged); err != nil {
		return httpapi.Response{}, err
	}
	rule, err := s.loadUserAccessRule(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	inUse := false
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM application_credential_access_rules WHERE access_rule_id = ?`,
			rule.ID).Scan(&n); err != nil {
			return err
		}
		if inUse = n > 0; inUse {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM access_rules WHERE id = ?`, rule.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	if inUse {
		return httpapi.Response{}, httpapi.Forbidden("You are not authorized to perform the requested action: Cannot delete access rule %s because it is in use by an application credential.", rule.ID)
	}
	s.changed()
	return httpapi.NoContent(), nil
}
