package identity

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Users: Keystone's /v3/users. Passwords are bcrypt-hashed and never rendered;
// disabling a user, changing its password and deleting it revoke its tokens.

func (s *Service) userRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/users", Policy: "identity:list_users", Target: domainScopedListTarget("target.domain_id"), Handler: s.listUsers,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: userIndexResponse})},
		{Method: "POST", Path: "/v3/users", Handler: s.createUser,
			Schemas: schemas(userCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: userResponse})}, // policy needs the body's domain
		{Method: "GET", Path: "/v3/users/{user_id}", Policy: "identity:get_user", Target: s.userTarget, Handler: s.showUser,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: userResponse})},
		{Method: "PATCH", Path: "/v3/users/{user_id}", Policy: "identity:update_user", Target: s.userTarget, Handler: s.updateUser,
			Schemas: schemas(userUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: userResponse})},
		{Method: "DELETE", Path: "/v3/users/{user_id}", Policy: "identity:delete_user", Target: s.userTarget, Handler: s.deleteUser, Schemas: noContent},
		// Unauthenticated as upstream: the original password proves who is asking, and
		// a user whose password expired has no token to present.
		{Method: "POST", Path: "/v3/users/{user_id}/password", Public: true, Handler: s.changeUserPassword, LateValidation: lazyValidation("user"),
			Schemas: schemas(passwordChangeRequest, map[int]jsonschema.Schema{http.StatusNoContent: nil})},
		{Method: "GET", Path: "/v3/users/{user_id}/groups", Policy: "identity:list_groups_for_user", Target: s.userTarget, Handler: s.listGroupsForUser,
			Schemas: okBody(groupIndexResponse)},
		{Method: "GET", Path: "/v3/users/{user_id}/projects", Policy: "identity:list_user_projects", Target: s.userTarget, Handler: s.listUserProjects,
			Schemas: okBody(projectIndexResponse)},
	}
}

// domainScopedListTarget is the target upstream's list APIs (users, projects,
// groups, domains, role assignments) give a domain-scoped caller, whose answer is
// then confined to its domain: {key: the token's domain}; other callers' list
// rules refer to no target. The domain_id filter of the query plays no part.
func domainScopedListTarget(key string) func(r *http.Request) (map[string]any, error) {
	return func(r *http.Request) (map[string]any, error) {
		if c := auth.FromContext(r.Context()); c != nil && c.DomainID != "" {
			return map[string]any{key: c.DomainID}, nil
		}
		return map[string]any{}, nil
	}
}

// userTarget exposes the path's user to policy; a missing user still gets a target
// (with its id only) so that non-admins learn nothing before the handler's 404.
func (s *Service) userTarget(r *http.Request) (map[string]any, error) {
	id := pathParam(r, "user_id")
	t := map[string]any{"target.user.id": id}
	if u, err := s.getUser(r.Context(), s.db, id); err == nil && u != nil {
		t["target.user.domain_id"] = u.DomainID
	}
	return t, nil
}

// passwordExpiryFormat is how upstream renders password_expires_at (oslo's
// PERFECT_TIME_FORMAT, no zone); gophercloud parses exactly that.
const passwordExpiryFormat = "2006-01-02T15:04:05.000000"

func (s *Service) userJSON(u *userRow) map[string]any {
	var expires any
	if u.PasswordExpiresAt.Valid {
		expires = timeFromMicro(u.PasswordExpiresAt.Int64).Format(passwordExpiryFormat)
	}
	j := map[string]any{
		"id": u.ID, "name": u.Name, "domain_id": u.DomainID, "enabled": u.Enabled,
		"password_expires_at": expires, "options": unmarshalObject(u.Options),
		"links": s.links("/v3/users/" + u.ID),
	}
	if u.DefaultProjectID.Valid && u.DefaultProjectID.String != "" {
		j["default_project_id"] = u.DefaultProjectID.String
	}
	return mergeExtra(j, u.Extra)
}

func (s *Service) loadUser(ctx context.Context, q db.Querier, id string) (*userRow, error) {
	u, err := s.getUser(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, notFound("user", id)
	}
	return u, nil
}

// scopeDomainFilter narrows a list to the domain of a domain-scoped token, as
// upstream does so that domain admins see nothing of other domains.
func scopeDomainFilter(ctx context.Context, where string, args []any) (string, []any) {
	if c := auth.FromContext(ctx); c != nil && c.DomainID != "" {
		where += " AND domain_id = ?"
		args = append(args, c.DomainID)
	}
	return where, args
}

// queryUsers loads the users matching where, ordered by name.
func (s *Service) queryUsers(ctx context.Context, where string, args ...any) ([]*userRow, error) {
	out, err := db.QueryAll(ctx, s.db, scanUser, `SELECT `+userColumns+` FROM users WHERE `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// userFilters turns the name, domain_id and enabled query filters into SQL.
func userFilters(r *http.Request, where string, args []any) (string, []any) {
	q := r.URL.Query()
	for _, col := range []string{"name", "domain_id"} {
		if v := q.Get(col); v != "" {
			where += " AND " + col + " = ?"
			args = append(args, v)
		}
	}
	if q.Has("enabled") {
		where += " AND enabled = ?"
		args = append(args, queryBool(q.Get("enabled")))
	}
	return scopeDomainFilter(r.Context(), where, args)
}

func (s *Service) usersResponse(r *http.Request, users []*userRow) httpapi.Response {
	out := make([]map[string]any, 0, len(users))
	q := r.URL.Query()
	for _, u := range users {
		if inexactFiltersMatch(q, map[string]string{"name": u.Name, "domain_id": u.DomainID}) {
			out = append(out, s.userJSON(u))
		}
	}
	return httpapi.OK(map[string]any{"users": out, "links": s.collectionLinks(r)})
}

func (s *Service) listUsers(r *http.Request) (httpapi.Response, error) {
	where, args := userFilters(r, "1 = 1", nil)
	users, err := s.queryUsers(r.Context(), where, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.usersResponse(r, users), nil
}

// userOptionNames are the options Keystone registers for users; any other name is
// rejected, as upstream's schema has additionalProperties false.
var userOptionNames = []string{
	"ignore_change_password_upon_first_use", "ignore_password_expiry", "ignore_lockout_failure_attempts",
	"lock_password", "ignore_user_inactivity", "multi_factor_auth_enabled", "multi_factor_auth_rules",
}

// applyUserOptions validates requested options and merges them into current: a
// null value removes an option, as upstream.
func applyUserOptions(current map[string]any, req map[string]any) (map[string]any, error) {
	if current == nil {
		current = map[string]any{}
	}
	names := make([]string, 0, len(req))
	for k := range req {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		v := req[name]
		if !slices.Contains(userOptionNames, name) {
			return nil, httpapi.BadRequest("Invalid input for field 'options': Additional properties are not allowed ('%s' was unexpected).", name)
		}
		if v == nil {
			delete(current, name)
			continue
		}
		if name == "multi_factor_auth_rules" {
			if !validMFARules(v) {
				return nil, httpapi.BadRequest("Invalid input for field 'options/multi_factor_auth_rules': expected a list of non-empty lists of unique strings, without duplicate lists.")
			}
		} else if _, ok := v.(bool); !ok {
			return nil, httpapi.BadRequest("Invalid input for field 'options/%s': expected a boolean.", name)
		}
		current[name] = v
	}
	return current, nil
}

func validMFARules(v any) bool {
	rules, ok := v.([]any)
	if !ok {
		return false
	}
	seen := map[string]bool{}
	for _, rule := range rules {
		methods, ok := rule.([]any)
		if !ok || len(methods) == 0 {
			return false
		}
		var key []string
		for _, m := range methods {
			s, ok := m.(string)
			if !ok || slices.Contains(key, s) {
				return false
			}
			key = append(key, s)
		}
		k := strings.Join(key, "\x00")
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// checkNullableString rejects a present attribute that is neither a string nor null,
// leaving it in place to be stored with the extra attributes.
func (f *fields) checkNullableString(name string) {
	if v, ok := f.m[name]; ok && v != nil {
		if _, isStr := v.(string); !isStr {
			f.fail(name, "a string or null")
		}
	}
}

// checkDefaultProject refuses a domain as a user's default project. A project that
// does not exist is accepted, as upstream (it is ignored at login).
func (s *Service) checkDefaultProject(ctx context.Context, id *string) error {
	if id == nil || *id == "" {
		return nil
	}
	d, err := s.getDomain(ctx, s.db, *id)
	if err != nil {
		return err
	}
	if d != nil {
		return httpapi.BadRequest("User's default project ID cannot be a domain ID: %s", *id)
	}
	return nil
}

func nullableID(p *string) sql.NullString {
	if p == nil || *p == "" {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// ownerDomainID picks the domain of a new user or group: the one asked for, else the
// token's domain (domain scope, then the project's domain), else the default.
func ownerDomainID(ctx context.Context, asked *string) string {
	if asked != nil && *asked != "" {
		return *asked
	}
	id := ""
	if c := auth.FromContext(ctx); c != nil {
		id = firstNonEmpty(c.DomainID, c.ProjectDomainID)
	}
	return firstNonEmpty(id, defaultDomain)
}

// requireDomain answers 404 unless the domain exists.
func (s *Service) requireDomain(ctx context.Context, q db.Querier, id string) error {
	d, err := s.getDomain(ctx, q, id)
	if err != nil {
		return err
	}
	if d == nil {
		return notFound("domain", id)
	}
	return nil
}

func (s *Service) createUser(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "user")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled")
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	domainID, _ := f.NullableString("domain_id")
	password, _ := f.NullableString("password")
	enabled, hasEnabled := f.Bool("enabled")
	defaultProject, _ := f.NullableString("default_project_id")
	reqOptions, _ := f.Object("options")
	f.checkNullableString("description")
	f.Drop("id", "links", "password_expires_at", "federated")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	options, err := applyUserOptions(nil, reqOptions)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !hasEnabled {
		enabled = true
	}
	dom := ownerDomainID(ctx, domainID)
	if err := httpapi.Enforce(r, s.policy, "identity:create_user", map[string]any{"target.user.domain_id": dom}); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkDefaultProject(ctx, defaultProject); err != nil {
		return httpapi.Response{}, err
	}
	now := s.now().UnixMicro()
	u := &userRow{ID: newID(), Name: strings.TrimSpace(name), DomainID: dom, Enabled: enabled,
		DefaultProjectID: nullableID(defaultProject), Extra: marshalJSON(f.Extra()), Options: marshalJSON(options),
		CreatedAt: now}
	if password != nil {
		hash, err := s.hashPassword(*password)
		if err != nil {
			return httpapi.Response{}, err
		}
		u.PasswordHash = sql.NullString{String: hash, Valid: true}
		u.PasswordCreatedAt = sql.NullInt64{Int64: now, Valid: true}
	}
	// The domain is read in the transaction that inserts: a user is never created
	// into a domain being deleted.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.requireDomain(ctx, tx, dom); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, domain_id, enabled, default_project_id, password_hash,
			password_created_at, extra, options, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			u.ID, u.Name, u.DomainID, u.Enabled, u.DefaultProjectID, u.PasswordHash, u.PasswordCreatedAt, u.Extra, u.Options,
			u.CreatedAt)
		if db.IsUniqueViolation(err) {
			return conflict("user", "name", u.Name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"user": s.userJSON(u)}), nil
}

func (s *Service) showUser(r *http.Request) (httpapi.Response, error) {
	u, err := s.loadUser(r.Context(), s.db, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"user": s.userJSON(u)}), nil
}

// updateUser applies the request to the user as stored when it writes, in one
// transaction: an update racing another (a disable, a password change) never
// writes back what it read before. The new password is hashed before, outside.
func (s *Service) updateUser(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	u, err := s.loadUser(ctx, s.db, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "user")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled")
	if err := requireSomeProperty(obj, "user"); err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.requireSameID(u.ID, "user")
	f.requireSameDomain(u.DomainID) // a user's domain never changes
	name, hasName := f.Name("name", false)
	enabled, hasEnabled := f.Bool("enabled")
	password, hasPassword := f.NullableString("password")
	defaultProject, hasDefaultProject := f.NullableString("default_project_id")
	reqOptions, hasOptions := f.Object("options")
	f.checkNullableString("description")
	f.Drop("links", "password_expires_at", "federated")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	if hasOptions { // validated now, merged into the stored options below
		if _, err := applyUserOptions(nil, reqOptions); err != nil {
			return httpapi.Response{}, err
		}
	}
	if hasDefaultProject {
		if err := s.checkDefaultProject(ctx, defaultProject); err != nil {
			return httpapi.Response{}, err
		}
	}
	var hash sql.NullString
	if password != nil {
		h, err := s.hashPassword(*password)
		if err != nil {
			return httpapi.Response{}, err
		}
		hash = sql.NullString{String: h, Valid: true}
	}
	extra, id := f.Extra(), u.ID
	var wasEnabled bool
	var updated *userRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		u, err := s.loadUser(ctx, tx, id)
		if err != nil {
			return err
		}
		wasEnabled = u.Enabled
		if hasName {
			u.Name = strings.TrimSpace(name)
		}
		if hasEnabled {
			u.Enabled = enabled
		}
		if hasOptions {
			options, err := applyUserOptions(unmarshalObject(u.Options), reqOptions)
			if err != nil {
				return err
			}
			u.Options = marshalJSON(options)
		}
		if hasDefaultProject {
			u.DefaultProjectID = nullableID(defaultProject)
		}
		if hasPassword {
			u.PasswordHash, u.PasswordCreatedAt, u.PasswordExpiresAt = hash, sql.NullInt64{}, sql.NullInt64{}
			if hash.Valid {
				u.PasswordCreatedAt = sql.NullInt64{Int64: s.now().UnixMicro(), Valid: true}
			}
		}
		u.Extra = extraMerged(u.Extra, extra)
		_, err = tx.ExecContext(ctx, `UPDATE users SET name = ?, enabled = ?, default_project_id = ?, password_hash = ?,
			password_created_at = ?, password_expires_at = ?, extra = ?, options = ? WHERE id = ?`,
			u.Name, u.Enabled, u.DefaultProjectID, u.PasswordHash, u.PasswordCreatedAt, u.PasswordExpiresAt, u.Extra,
			u.Options, u.ID)
		if db.IsUniqueViolation(err) {
			return conflict("user", "name", u.Name)
		}
		if err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		updated = u
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	u = updated
	s.changed()
	// As upstream: disabling the user or setting a new password ends its sessions.
	if (wasEnabled && !u.Enabled) || password != nil {
		if err := s.revoke(ctx, auth.RevocationEvent{UserID: u.ID}); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"user": s.userJSON(u)}), nil
}

func (s *Service) deleteUser(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "user_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadUser(ctx, tx, id); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM assignments WHERE actor_id = ?`,
			`DELETE FROM user_group_membership WHERE user_id = ?`,
			`DELETE FROM application_credentials WHERE user_id = ?`, // their roles cascade
			`DELETE FROM credentials WHERE user_id = ?`,
			`DELETE FROM users WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete user: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	// Revoked after the delete, so that no token issued in between survives it.
	if err := s.revoke(ctx, auth.RevocationEvent{UserID: id}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// passwordSelfServiceDisabled is upstream's answer when the lock_password option is set.
const passwordSelfServiceDisabled = "You cannot change your password at this time due to password policy disallowing " +
	"password changes. Please contact your administrator to reset your password."

func (s *Service) changeUserPassword(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "user")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	original, hasOriginal := f.String("original_password", 0)
	password, hasPassword := f.String("password", 0)
	switch {
	case f.err != nil:
		return httpapi.Response{}, f.err
	case !hasOriginal:
		return httpapi.Response{}, httpapi.BadRequest("'original_password' is a required property")
	case !hasPassword:
		return httpapi.Response{}, httpapi.BadRequest("'password' is a required property")
	case len(f.Extra()) > 0:
		extra := make([]string, 0, len(f.Extra()))
		for k := range f.Extra() {
			extra = append(extra, "'"+k+"'")
		}
		sort.Strings(extra)
		return httpapi.Response{}, httpapi.BadRequest("Additional properties are not allowed (%s unexpected).", strings.Join(extra, ", "))
	}
	u, err := s.getUser(ctx, s.db, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	// An unknown user fails exactly like a wrong password: nothing is disclosed.
	if err := s.checkPassword(ctx, u, original); err != nil {
		return httpapi.Response{}, err
	}
	if locked, _ := unmarshalObject(u.Options)["lock_password"].(bool); locked {
		return httpapi.Response{}, httpapi.BadRequest("%s", passwordSelfServiceDisabled)
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_created_at = ?,
		password_expires_at = NULL WHERE id = ?`, hash, s.now().UnixMicro(), u.ID); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revoke(ctx, auth.RevocationEvent{UserID: u.ID}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) listGroupsForUser(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	u, err := s.loadUser(ctx, s.db, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	where, args := "id IN (SELECT group_id FROM user_group_membership WHERE user_id = ?)", []any{u.ID}
	if v := r.URL.Query().Get("name"); v != "" {
		where += " AND name = ?"
		args = append(args, v)
	}
	where, args = scopeDomainFilter(ctx, where, args)
	groups, err := s.queryGroups(ctx, where, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(groups))
	for _, g := range groups {
		if !inexactFiltersMatch(r.URL.Query(), map[string]string{"name": g.Name}) {
			continue
		}
		j := s.groupJSON(g)
		j["membership_expires_at"] = nil
		out = append(out, j)
	}
	return httpapi.OK(map[string]any{"groups": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) listUserProjects(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	u, err := s.loadUser(ctx, s.db, pathParam(r, "user_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	ps, err := s.scopeTargets(ctx, u.ID, "Project")
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	out := make([]map[string]any, 0, len(ps))
	for _, p := range ps {
		if (q.Get("name") != "" && p.Name != q.Get("name")) || (q.Get("domain_id") != "" && p.DomainID != q.Get("domain_id")) ||
			(q.Has("enabled") && p.Enabled != queryBool(q.Get("enabled"))) ||
			!inexactFiltersMatch(q, map[string]string{"name": p.Name, "domain_id": p.DomainID}) {
			continue
		}
		out = append(out, s.projectJSON(ctx, p))
	}
	return httpapi.OK(map[string]any{"projects": out, "links": s.collectionLinks(r)}), nil
}
