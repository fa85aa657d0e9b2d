package identity

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// prohibitedImpliedRoles is upstream's [assignment] prohibited_implied_role default:
// no role may imply admin.
var prohibitedImpliedRoles = []string{"admin"}

func (s *Service) roleRoutes() []httpapi.Route {
	return []httpapi.Route{
		// The CRUD routes pick identity:*_role or identity:*_domain_role in the handler,
		// since the choice depends on the role (or body) loaded.
		{Method: "GET", Path: "/v3/roles", Handler: s.listRoles,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: roleIndexResponse})},
		{Method: "POST", Path: "/v3/roles", Handler: s.createRole,
			Schemas: schemas(roleCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: roleResponse})},
		{Method: "GET", Path: "/v3/roles/{role_id}", Handler: s.showRole,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: roleResponse})},
		{Method: "PATCH", Path: "/v3/roles/{role_id}", Handler: s.updateRole,
			Schemas: schemas(roleUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: roleResponse})},
		{Method: "DELETE", Path: "/v3/roles/{role_id}", Handler: s.deleteRole, Schemas: noContent},

		{Method: "GET", Path: "/v3/roles/{prior_role_id}/implies", Policy: "identity:list_implied_roles", Target: s.impliedRoleTarget, Handler: s.listImpliedRoles,
			Schemas: okBody(roleInferenceResponse)},
		{Method: "PUT", Path: "/v3/roles/{prior_role_id}/implies/{implied_role_id}", Policy: "identity:create_implied_role", Target: s.impliedRoleTarget, Handler: s.createImpliedRole,
			Schemas: answering(http.StatusCreated, impliedRoleResponse)},
		{Method: "GET", Path: "/v3/roles/{prior_role_id}/implies/{implied_role_id}", Policy: "identity:get_implied_role", Target: s.impliedRoleTarget, Handler: s.showImpliedRole,
			Schemas: okBody(impliedRoleResponse)},
		{Method: "HEAD", Path: "/v3/roles/{prior_role_id}/implies/{implied_role_id}", Policy: "identity:check_implied_role", Target: s.impliedRoleTarget, Handler: s.checkImpliedRole, Schemas: noContent},
		{Method: "DELETE", Path: "/v3/roles/{prior_role_id}/implies/{implied_role_id}", Policy: "identity:delete_implied_role", Target: s.impliedRoleTarget, Handler: s.deleteImpliedRole, Schemas: noContent},
		{Method: "GET", Path: "/v3/role_inferences", Policy: "identity:list_role_inference_rules", Handler: s.listRoleInferences,
			Schemas: okBody(roleInferenceIndexResponse)},
	}
}

// roleDomainID is the API's domain_id of a role: null for global roles.
func roleDomainID(r *roleRow) any {
	if r.DomainID == nullDomainID {
		return nil
	}
	return r.DomainID
}

func (s *Service) roleJSON(r *roleRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": r.ID, "name": r.Name, "domain_id": roleDomainID(r), "description": r.Description,
		"options": unmarshalObject(r.Options), "links": s.links("/v3/roles/" + r.ID),
	}, r.Extra)
}

// roleRef is the short form implied-role answers use: id, name and link, as
// keystone/api/_shared/implied_roles.py builds them (no description).
func (s *Service) roleRef(r *roleRow) map[string]any {
	return map[string]any{"id": r.ID, "name": r.Name, "links": s.links("/v3/roles/" + r.ID)}
}

// requireRole loads a role or fails with Keystone's RoleNotFound.
// impliedRoleTarget loads the prior role and the implied one before the policy,
// as upstream (keystone/api/roles.py _build_enforcement_target_ref): a missing
// one answers 404.
func (s *Service) impliedRoleTarget(r *http.Request) (map[string]any, error) {
	t := map[string]any{}
	prior, err := s.requireRole(r.Context(), s.db, pathParam(r, "prior_role_id"))
	if err != nil {
		return nil, err
	}
	t["target.prior_role.id"] = prior.ID
	if id := pathParam(r, "implied_role_id"); id != "" {
		implied, err := s.requireRole(r.Context(), s.db, id)
		if err != nil {
			return nil, err
		}
		t["target.implied_role.id"] = implied.ID
	}
	return t, nil
}

func (s *Service) requireRole(ctx context.Context, q db.Querier, id string) (*roleRow, error) {
	r, err := s.getRole(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, notFound("role", id)
	}
	return r, nil
}

// enforceRole checks the global or the domain-role flavour of a rule, as upstream
// does depending on whether the role is domain-specific. A missing role (nil) is
// checked against the global rule so that callers learn nothing before the 404.
func (s *Service) enforceRole(r *http.Request, action string, role *roleRow, domainID string) error {
	suffix := "_role"
	if action == "list" {
		suffix = "_roles"
	}
	rule := "identity:" + action + suffix
	if role != nil && role.DomainID != nullDomainID {
		domainID = role.DomainID
	}
	target := map[string]any{}
	if domainID != "" && domainID != nullDomainID {
		rule = "identity:" + action + "_domain" + suffix
		target["target.role.domain_id"] = domainID
	}
	if role != nil {
		target["target.role.id"] = role.ID
		target["target.role.name"] = role.Name
	}
	return httpapi.Enforce(r, s.policy, rule, target)
}

func roleImmutable(r *roleRow) bool {
	v, _ := unmarshalObject(r.Options)["immutable"].(bool)
	return v
}

// roleOptions validates the options object: upstream knows only "immutable"; a null
// value unsets an option.
func roleOptions(current map[string]any, req map[string]any) (map[string]any, error) {
	if current == nil {
		current = map[string]any{}
	}
	for k, v := range req {
		if k != "immutable" {
			return nil, httpapi.BadRequest("Invalid input for field 'options': additional property '%s' is not allowed.", k)
		}
		switch v := v.(type) {
		case nil:
			delete(current, k)
		case bool:
			current[k] = v
		default:
			return nil, httpapi.BadRequest("Invalid input for field 'options/immutable': expected a boolean or null.")
		}
	}
	return current, nil
}

func (s *Service) listRoles(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	q := r.URL.Query()
	domainID := q.Get("domain_id")
	if err := s.enforceRole(r, "list", nil, domainID); err != nil {
		return httpapi.Response{}, err
	}
	where, args := "domain_id = ?", []any{firstNonEmpty(domainID, nullDomainID)}
	if v := q.Get("name"); v != "" {
		where += " AND name = ?"
		args = append(args, v)
	}
	roles, err := s.queryRoles(ctx, where, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(roles))
	for _, role := range roles {
		if inexactFiltersMatch(q, map[string]string{"name": role.Name}) {
			out = append(out, s.roleJSON(role))
		}
	}
	return httpapi.OK(map[string]any{"roles": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) queryRoles(ctx context.Context, where string, args ...any) ([]*roleRow, error) {
	out, err := db.QueryAll(ctx, s.db, scanRole, `SELECT `+roleColumns+` FROM roles WHERE `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return out, nil
}

func (s *Service) createRole(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "role")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.NullableString("description")
	domainID, _ := f.NullableString("domain_id")
	options, _ := f.Object("options")
	f.Drop("id", "links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	role := &roleRow{ID: newID(), Name: name, DomainID: nullDomainID, Extra: marshalJSON(f.Extra())}
	if desc != nil {
		role.Description = *desc
	}
	if domainID != nil && *domainID != "" {
		role.DomainID = *domainID
	}
	if err := s.enforceRole(r, "create", nil, role.DomainID); err != nil {
		return httpapi.Response{}, err
	}
	opts, err := roleOptions(nil, options)
	if err != nil {
		return httpapi.Response{}, err
	}
	role.Options = marshalJSON(opts)
	// A domain role's domain is read in the transaction that inserts: no role is
	// created into a domain being deleted.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if role.DomainID != nullDomainID {
			if err := s.requireDomain(ctx, tx, role.DomainID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (`+roleColumns+`) VALUES (?,?,?,?,?,?)`,
			role.ID, role.Name, role.DomainID, role.Description, role.Extra, role.Options)
		if db.IsUniqueViolation(err) {
			return conflict("role", "name", name)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"role": s.roleJSON(role)}), nil
}

// roleForRequest loads the path's role and enforces action on it; a missing role
// yields 404 only after the (global) policy check.
func (s *Service) roleForRequest(r *http.Request, action string) (*roleRow, error) {
	id := pathParam(r, "role_id")
	role, err := s.getRole(r.Context(), s.db, id)
	if err != nil {
		return nil, err
	}
	if err := s.enforceRole(r, action, role, ""); err != nil {
		return nil, err
	}
	if role == nil {
		return nil, notFound("role", id)
	}
	return role, nil
}

func (s *Service) showRole(r *http.Request) (httpapi.Response, error) {
	role, err := s.roleForRequest(r, "get")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"role": s.roleJSON(role)}), nil
}

// updateRole applies the request to the role as stored when it writes: an update
// racing another (making the role immutable) never writes back what it read.
func (s *Service) updateRole(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	role, err := s.roleForRequest(r, "update")
	if err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "role")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	name, hasName := f.Name("name", false)
	desc, hasDesc := f.NullableString("description")
	if d, ok := f.NullableString("domain_id"); ok { // a role's domain never changes
		want := nullDomainID
		if d != nil && *d != "" {
			want = *d
		}
		if want != role.DomainID {
			return httpapi.Response{}, httpapi.BadRequest("Update of `domain_id` is not allowed.")
		}
	}
	options, hasOptions := f.Object("options")
	f.Drop("id", "links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	extra, id := f.Extra(), role.ID
	var oldName string
	var updated *roleRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		role, err := s.requireRole(ctx, tx, id)
		if err != nil {
			return err
		}
		oldName = role.Name
		// An immutable role may only be changed to drop its immutability.
		if roleImmutable(role) {
			if v, set := options["immutable"]; !hasOptions || !set || v == true {
				return httpapi.Forbidden("Unable to update immutable role resource: `%s. Set resource option \"immutable\" to false first.", role.ID)
			}
		}
		if hasName {
			role.Name = name
		}
		if hasDesc {
			role.Description = ""
			if desc != nil {
				role.Description = *desc
			}
		}
		if hasOptions {
			opts, err := roleOptions(unmarshalObject(role.Options), options)
			if err != nil {
				return err
			}
			role.Options = marshalJSON(opts)
		}
		role.Extra = extraMerged(role.Extra, extra)
		_, err = tx.ExecContext(ctx, `UPDATE roles SET name = ?, description = ?, extra = ?, options = ? WHERE id = ?`,
			role.Name, role.Description, role.Extra, role.Options, role.ID)
		if db.IsUniqueViolation(err) {
			return conflict("role", "name", role.Name)
		}
		if err != nil {
			return fmt.Errorf("update role: %w", err)
		}
		updated = role
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	role = updated
	s.changed()
	// Tokens carry global roles by name: a renamed role must not linger in them.
	if role.Name != oldName && role.DomainID == nullDomainID {
		if err := s.revoke(ctx, auth.RevocationEvent{RoleID: role.ID}); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"role": s.roleJSON(role)}), nil
}

// deleteRole deletes a role that is not immutable, deciding on the role as stored
// when it deletes, and then revokes the tokens it fed: worked out, before its
// assignments and rules go, in the same transaction.
func (s *Service) deleteRole(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	role, err := s.roleForRequest(r, "delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	var events []auth.RevocationEvent
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		role, err := s.requireRole(ctx, tx, role.ID)
		if err != nil {
			return err
		}
		if roleImmutable(role) {
			return httpapi.Forbidden("Unable to delete immutable role resource: `%s. Set resource option \"immutable\" to false first.", role.ID)
		}
		if events, err = s.roleRevocationEvents(ctx, tx, role.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM assignments WHERE role_id = ?`, role.ID); err != nil {
			return fmt.Errorf("delete role assignments: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? OR implied_role_id = ?`,
			role.ID, role.ID); err != nil {
			return fmt.Errorf("delete role inferences: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE id = ?`, role.ID); err != nil {
			return fmt.Errorf("delete role: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revoke(ctx, events...); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// roleRevocationEvents are the events that revoke every token a role contributed
// to, directly or by implying others: tokens carrying it, or (for domain-specific
// roles, which tokens never carry) those of every actor assigned it; the same for
// each role that implies it.
func (s *Service) roleRevocationEvents(ctx context.Context, q db.Querier, roleID string) ([]auth.RevocationEvent, error) {
	priors, err := s.rolesImplying(ctx, q, roleID)
	if err != nil {
		return nil, err
	}
	var events []auth.RevocationEvent
	for _, id := range priors {
		role, err := s.getRole(ctx, q, id)
		if err != nil {
			return nil, err
		}
		if role == nil {
			continue
		}
		if role.DomainID == nullDomainID {
			events = append(events, auth.RevocationEvent{RoleID: id})
			continue
		}
		as, err := s.queryAssignments(ctx, q, `role_id = ?`, id)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			ev, err := s.assignmentRevocationEvents(ctx, q, a)
			if err != nil {
				return nil, err
			}
			events = append(events, ev...)
		}
	}
	return dedupEvents(events), nil
}

func dedupEvents(events []auth.RevocationEvent) []auth.RevocationEvent {
	var out []auth.RevocationEvent
	for _, e := range events {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// rolesImplying returns id and every role that implies it, directly or through a chain.
func (s *Service) rolesImplying(ctx context.Context, q db.Querier, id string) ([]string, error) {
	rules, err := s.impliedRules(ctx, q)
	if err != nil {
		return nil, err
	}
	priorsOf := map[string][]string{}
	for _, rule := range rules {
		priorsOf[rule[1]] = append(priorsOf[rule[1]], rule[0])
	}
	seen := map[string]bool{}
	queue := []string{id}
	var out []string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if seen[cur] {
			continue
		}
		seen[cur] = true
		out = append(out, cur)
		queue = append(queue, priorsOf[cur]...)
	}
	return out, nil
}

// impliedRules lists every (prior, implied) pair.
func (s *Service) impliedRules(ctx context.Context, q db.Querier) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id`)
	if err != nil {
		return nil, fmt.Errorf("load implied roles: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// impliedPair loads both roles of an inference rule from the path.
func (s *Service) impliedPair(r *http.Request, q db.Querier) (prior, implied *roleRow, err error) {
	ctx := r.Context()
	if prior, err = s.requireRole(ctx, q, pathParam(r, "prior_role_id")); err != nil {
		return nil, nil, err
	}
	if implied, err = s.requireRole(ctx, q, pathParam(r, "implied_role_id")); err != nil {
		return nil, nil, err
	}
	return prior, implied, nil
}

func (s *Service) impliedRuleExists(ctx context.Context, q db.Querier, prior, implied string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?`,
		prior, implied).Scan(&n)
	return n > 0, err
}

// loadImpliedRule loads both roles and fails with ImpliedRoleNotFound when the rule
// does not exist.
func (s *Service) loadImpliedRule(r *http.Request, q db.Querier) (prior, implied *roleRow, err error) {
	prior, implied, err = s.impliedPair(r, q)
	if err != nil {
		return nil, nil, err
	}
	ok, err := s.impliedRuleExists(r.Context(), q, prior.ID, implied.ID)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, httpapi.NotFound("%s does not imply %s.", prior.ID, implied.ID)
	}
	return prior, implied, nil
}

func (s *Service) impliedRuleJSON(prior, implied *roleRow) map[string]any {
	return map[string]any{
		"role_inference": map[string]any{"prior_role": s.roleRef(prior), "implies": s.roleRef(implied)},
		"links":          s.links("/v3/roles/" + prior.ID + "/implies/" + implied.ID),
	}
}

// createImpliedRole adds an inference rule, looking for the cycle it would make in
// the transaction that inserts it: "a implies b" and "b implies a" asked at once
// never both hold.
func (s *Service) createImpliedRole(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	prior, implied, err := s.impliedPair(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	if prior.ID == implied.ID {
		return httpapi.Response{}, httpapi.BadRequest("Role %s cannot imply itself.", prior.ID)
	}
	if slices.Contains(prohibitedImpliedRoles, implied.Name) && implied.DomainID == nullDomainID {
		return httpapi.Response{}, httpapi.Forbidden("%s cannot be an implied roles.", implied.ID)
	}
	if prior.DomainID == nullDomainID && implied.DomainID != nullDomainID {
		return httpapi.Response{}, httpapi.Forbidden("Global role cannot imply a domain-specific role")
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if prior, implied, err = s.impliedPair(r, tx); err != nil {
			return err
		}
		// A cycle would make every role in it imply all the others; refuse it.
		priors, err := s.rolesImplying(ctx, tx, prior.ID)
		if err != nil {
			return err
		}
		if slices.Contains(priors, implied.ID) {
			return httpapi.BadRequest("Role %s already implies %s: the rule would create a cycle.", implied.ID, prior.ID)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, prior.ID, implied.ID); err != nil {
			return fmt.Errorf("create implied role: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(s.impliedRuleJSON(prior, implied)), nil
}

func (s *Service) showImpliedRole(r *http.Request) (httpapi.Response, error) {
	prior, implied, err := s.loadImpliedRule(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(s.impliedRuleJSON(prior, implied)), nil
}

func (s *Service) checkImpliedRole(r *http.Request) (httpapi.Response, error) {
	if _, _, err := s.loadImpliedRule(r, s.db); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// deleteImpliedRole removes an inference rule and revokes the tokens that carried
// the roles it implied, worked out in the transaction that deletes it.
func (s *Service) deleteImpliedRole(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var events []auth.RevocationEvent
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		prior, implied, err := s.loadImpliedRule(r, tx)
		if err != nil {
			return err
		}
		if events, err = s.roleRevocationEvents(ctx, tx, prior.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?`,
			prior.ID, implied.ID); err != nil {
			return fmt.Errorf("delete implied role: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revoke(ctx, events...); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// rolesByID loads the given roles into a map.
func (s *Service) rolesByID(ctx context.Context, ids []string) (map[string]*roleRow, error) {
	out := map[string]*roleRow{}
	if len(ids) == 0 {
		return out, nil
	}
	roles, err := s.queryRoles(ctx, `id IN (`+placeholders(len(ids))+`)`, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	for _, role := range roles {
		out[role.ID] = role
	}
	return out, nil
}

func (s *Service) listImpliedRoles(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	prior, err := s.requireRole(ctx, s.db, pathParam(r, "prior_role_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	rules, err := s.impliedRules(ctx, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var ids []string
	for _, rule := range rules {
		if rule[0] == prior.ID {
			ids = append(ids, rule[1])
		}
	}
	roles, err := s.rolesByID(ctx, ids)
	if err != nil {
		return httpapi.Response{}, err
	}
	implies := []map[string]any{}
	for _, id := range ids {
		if role := roles[id]; role != nil {
			implies = append(implies, s.roleRef(role))
		}
	}
	return httpapi.OK(map[string]any{
		"role_inference": map[string]any{"prior_role": s.roleRef(prior), "implies": implies},
		"links":          s.links("/v3/roles/" + prior.ID + "/implies"),
	}), nil
}

func (s *Service) listRoleInferences(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	rules, err := s.impliedRules(ctx, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var ids, priors []string
	impliesOf := map[string][]string{}
	for _, rule := range rules {
		if _, seen := impliesOf[rule[0]]; !seen {
			priors = append(priors, rule[0])
		}
		impliesOf[rule[0]] = append(impliesOf[rule[0]], rule[1])
		ids = append(ids, rule[0], rule[1])
	}
	slices.Sort(ids)
	roles, err := s.rolesByID(ctx, slices.Compact(ids))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, p := range priors {
		prior := roles[p]
		if prior == nil {
			continue
		}
		implies := []map[string]any{}
		for _, id := range impliesOf[p] {
			if role := roles[id]; role != nil {
				implies = append(implies, s.roleRef(role))
			}
		}
		out = append(out, map[string]any{"prior_role": s.roleRef(prior), "implies": implies})
	}
	return httpapi.OK(map[string]any{"role_inferences": out, "links": s.links("/v3/role_inferences")}), nil
}
