package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
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
		{Method: "GET", Path: base, Policy: "identity:list_application_credentials", Target: target, Handler: s.listApplicationCredentials},
		{Method: "POST", Path: base, Policy: "identity:create_application_credential", Target: target, Handler: s.createApplicationCredential},
		{Method: "GET", Path: base + "/{application_credential_id}", Policy: "identity:get_application_credential", Target: target, Handler: s.showApplicationCredential},
		{Method: "DELETE", Path: base + "/{application_credential_id}", Policy: "identity:delete_application_credential", Target: target, Handler: s.deleteApplicationCredential},
	}
}

func (s *Service) appCredJSON(ctx context.Context, a *appCredRow) (map[string]any, error) {
	roles := []map[string]any{}
	for _, id := range a.RoleIDs {
		role, err := s.getRole(ctx, id)
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
		"roles": roles, "unrestricted": a.Unrestricted, "access_rules": []any{},
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

// requireUnrestrictedToken refuses tokens obtained with a restricted application
// credential: they may not manage application credentials.
func (s *Service) requireUnrestrictedToken(ctx context.Context, creds *auth.Credentials) error {
	if creds == nil || creds.AppCredID == "" {
		return nil
	}
	a, err := s.getApplicationCredential(ctx, creds.AppCredID)
	if err != nil {
		return err
	}
	if a == nil || !a.Unrestricted {
		return httpapi.Forbidden("You are not authorized to perform the requested action: Using method 'application_credential' is not allowed for managing additional application credentials.")
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
	userID := pathParam(r, "user_id")
	where, args := "user_id = ?", []any{userID}
	if q := r.URL.Query(); q.Has("name") {
		where, args = where+" AND name = ?", append(args, q.Get("name"))
	}
	ids, err := selectStrings(ctx, s.db, `SELECT id FROM application_credentials WHERE `+where+` ORDER BY name`, args...)
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
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.NullableString("description")
	secret, _ := f.NullableString("secret")
	expires, _ := f.NullableString("expires_at")
	unrestricted, _ := f.Bool("unrestricted")
	rawRoles, hasRoles := f.m["roles"]
	delete(f.m, "roles")
	rawRules := f.m["access_rules"]
	delete(f.m, "access_rules")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	// Access rules restrict what a credential may do; silently ignoring them would
	// grant more than asked, so they are refused until supported.
	if rules, ok := rawRules.([]any); rawRules != nil && (!ok || len(rules) > 0) {
		return httpapi.Response{}, httpapi.BadRequest("Invalid input for field 'access_rules': access rules are not supported.")
	}
	if err := s.requireUnrestrictedToken(ctx, creds); err != nil {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO application_credentials (`+appCredColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			a.ID, a.Name, a.SecretHash, a.Description, a.UserID, a.ProjectID, a.System, a.ExpiresAt, a.Unrestricted,
			a.CreatedAt); err != nil {
			return err
		}
		for _, roleID := range a.RoleIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO application_credential_roles (application_credential_id, role_id)
				VALUES (?, ?)`, a.ID, roleID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if db.IsUniqueViolation(err) {
			return httpapi.Response{}, conflict("application_credential", "name", name)
		}
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

// appCredRoles resolves the requested roles ([{"id":...} or {"name":...}]), which
// must all be on the caller's token; none requested means all the token's roles.
func (s *Service) appCredRoles(ctx context.Context, creds *auth.Credentials, raw any, present bool) ([]string, error) {
	onToken := func(id string) bool {
		return slices.ContainsFunc(creds.Roles, func(r auth.Role) bool { return r.ID == id })
	}
	var ids []string
	list, isList := raw.([]any)
	switch {
	case !present || raw == nil || (isList && len(list) == 0):
		for _, r := range creds.Roles {
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
				role, err := s.getRoleByName(ctx, name, nullDomainID)
				if err != nil {
					return nil, err
				}
				if role == nil {
					return nil, notFound("role", name)
				}
				id = role.ID
			}
			if !onToken(id) {
				return nil, appCredInvalid("Cannot create an application credential with unassigned role")
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
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
	if err := s.requireUnrestrictedToken(ctx, auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	a, err := s.loadUserAppCred(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.revoke(ctx, auth.RevocationEvent{AppCredID: a.ID}); err != nil {
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM application_credential_roles WHERE application_credential_id = ?`, a.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM application_credentials WHERE id = ?`, a.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}
