package identity

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Trusts (OS-TRUST): a trustor delegates some of its roles on a project to a
// trustee, who logs in with the trust for a trust-scoped token (auth_trust.go)
// and may redelegate it with that token, within the depth the trust allows.

func (s *Service) trustRoutes() []httpapi.Route {
	t := "/v3/OS-TRUST/trusts/{trust_id}"
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/OS-TRUST/trusts", Handler: s.listTrusts, // policy depends on the filters
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: trustIndexResponse})},
		{Method: "POST", Path: "/v3/OS-TRUST/trusts", Handler: s.createTrust, // policy needs the body's trustor
			Schemas: schemas(trustCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: trustResponse})},
		{Method: "GET", Path: t, Policy: "identity:get_trust", Target: s.trustTarget, Handler: s.showTrust,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: trustResponse})},
		{Method: "DELETE", Path: t, Policy: "identity:delete_trust", Target: s.trustTarget, Handler: s.deleteTrust, Schemas: noContent},
		{Method: "GET", Path: t + "/roles", Policy: "identity:list_roles_for_trust", Target: s.trustTarget, Handler: s.listTrustRoles,
			Schemas: okBody(trustRoleIndexResponse)},
		{Method: "GET", Path: t + "/roles/{role_id}", Policy: "identity:get_role_for_trust", Target: s.trustTarget, Handler: s.showTrustRole,
			Schemas: okBody(trustRoleResponse)},
		{Method: "HEAD", Path: t + "/roles/{role_id}", Policy: "identity:get_role_for_trust", Target: s.trustTarget, Handler: s.showTrustRole,
			Schemas: okBody(nil)},
	}
}

// trustMaxRedelegation is upstream's [trust] max_redelegation_count default.
const trustMaxRedelegation = 3

type trustRow struct {
	ID, TrustorUserID, TrusteeUserID string
	ProjectID                        sql.NullString
	Impersonation                    bool
	ExpiresAt                        sql.NullInt64 // Unix microseconds
	RemainingUses                    sql.NullInt64
	RedelegationCount                int64
	RedelegatedTrustID               sql.NullString
	CreatedAt                        int64
}

const trustColumns = `id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses,
	redelegation_count, redelegated_trust_id, created_at`

func scanTrust(row db.Scanner) (*trustRow, error) {
	t := &trustRow{}
	err := row.Scan(&t.ID, &t.TrustorUserID, &t.TrusteeUserID, &t.ProjectID, &t.Impersonation, &t.ExpiresAt,
		&t.RemainingUses, &t.RedelegationCount, &t.RedelegatedTrustID, &t.CreatedAt)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load trust: %w", err)
	}
	return t, nil
}

// loadTrust returns a usable trust: as upstream, an expired or used-up trust is
// not found.
func (s *Service) loadTrust(ctx context.Context, id string) (*trustRow, error) {
	t, err := scanTrust(s.db.QueryRowContext(ctx, `SELECT `+trustColumns+` FROM trusts WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if t == nil || (t.ExpiresAt.Valid && t.ExpiresAt.Int64 <= s.now().UnixMicro()) ||
		(t.RemainingUses.Valid && t.RemainingUses.Int64 <= 0) {
		return nil, notFound("trust", id)
	}
	return t, nil
}

// trustTarget exposes the trust's parties to policy. As upstream (lp#1840288), a
// missing trust answers 404 before policy is enforced.
func (s *Service) trustTarget(r *http.Request) (map[string]any, error) {
	t, err := s.loadTrust(r.Context(), pathParam(r, "trust_id"))
	if err != nil {
		return nil, err
	}
	return trustPolicyTarget(t), nil
}

func trustPolicyTarget(t *trustRow) map[string]any {
	return map[string]any{"target.trust.trustor_user_id": t.TrustorUserID, "target.trust.trustee_user_id": t.TrusteeUserID}
}

func (s *Service) trustJSON(t *trustRow) map[string]any {
	var expires any
	if t.ExpiresAt.Valid {
		expires = formatTime(time.UnixMicro(t.ExpiresAt.Int64))
	}
	var remaining any
	if t.RemainingUses.Valid {
		remaining = t.RemainingUses.Int64
	}
	return map[string]any{
		"id": t.ID, "trustor_user_id": t.TrustorUserID, "trustee_user_id": t.TrusteeUserID,
		"project_id": nullStringJSON(t.ProjectID), "impersonation": t.Impersonation, "expires_at": expires,
		"remaining_uses": remaining, "redelegation_count": t.RedelegationCount,
		"redelegated_trust_id": nullStringJSON(t.RedelegatedTrustID), "deleted_at": nil,
		"links": s.links("/v3/OS-TRUST/trusts/" + t.ID),
	}
}

// trustRoles loads the trust's roles (deleted roles have left it).
func (s *Service) trustRoles(ctx context.Context, trustID string) ([]*roleRow, error) {
	out, err := db.QueryAll(ctx, s.db, scanRole, `SELECT `+extPrefixColumns("r.", roleColumns)+` FROM roles r
		JOIN trust_roles tr ON tr.role_id = r.id WHERE tr.trust_id = ? ORDER BY r.name, r.id`, trustID)
	if err != nil {
		return nil, fmt.Errorf("load trust roles: %w", err)
	}
	return out, nil
}

// loadTrustRoles loads the path's trust (404 if missing) and its roles.
func (s *Service) loadTrustRoles(r *http.Request) (*trustRow, []*roleRow, error) {
	if err := blockAppCredTrusts(auth.FromContext(r.Context())); err != nil {
		return nil, nil, err
	}
	t, err := s.loadTrust(r.Context(), pathParam(r, "trust_id"))
	if err != nil {
		return nil, nil, err
	}
	roles, err := s.trustRoles(r.Context(), t.ID)
	if err != nil {
		return nil, nil, err
	}
	return t, roles, nil
}

// trustRoleJSON renders a role as the roles API does.
func (s *Service) trustRoleJSON(r *roleRow) map[string]any {
	var domain any
	if r.DomainID != nullDomainID {
		domain = r.DomainID
	}
	return mergeExtra(map[string]any{
		"id": r.ID, "name": r.Name, "domain_id": domain, "description": r.Description,
		"options": unmarshalObject(r.Options), "links": s.links("/v3/roles/" + r.ID),
	}, r.Extra)
}

// trustWithRoles is a trust with its roles and roles_links, as get and create answer.
func (s *Service) trustWithRoles(ctx context.Context, t *trustRow) (map[string]any, error) {
	roles, err := s.trustRoles(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	j := s.trustJSON(t)
	list := make([]map[string]any, 0, len(roles))
	for _, r := range roles {
		list = append(list, s.trustRoleJSON(r))
	}
	j["roles"] = list
	j["roles_links"] = s.trustRolesLinks(t.ID)
	return j, nil
}

func (s *Service) trustRolesLinks(trustID string) map[string]any {
	return map[string]any{"self": s.selfURL("/v3/OS-TRUST/trusts/" + trustID + "/roles"), "previous": nil, "next": nil}
}

func (s *Service) listTrusts(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockAppCredTrusts(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	trustor, trustee := q.Get("trustor_user_id"), q.Get("trustee_user_id")
	if trustor != "" {
		if err := httpapi.Enforce(r, s.policy, "identity:list_trusts_for_trustor",
			map[string]any{"target.trust.trustor_user_id": trustor}); err != nil {
			return httpapi.Response{}, err
		}
	}
	if trustee != "" {
		if err := httpapi.Enforce(r, s.policy, "identity:list_trusts_for_trustee",
			map[string]any{"target.trust.trustee_user_id": trustee}); err != nil {
			return httpapi.Response{}, err
		}
	}
	where, args := "1 = 1", []any{}
	if trustor != "" {
		where += " AND trustor_user_id = ?"
		args = append(args, trustor)
	}
	if trustee != "" {
		where += " AND trustee_user_id = ?"
		args = append(args, trustee)
	}
	if trustor == "" && trustee == "" {
		if err := httpapi.Enforce(r, s.policy, "identity:list_trusts", nil); err != nil {
			return httpapi.Response{}, err
		}
	}
	trusts, err := db.QueryAll(ctx, s.db, scanTrust, `SELECT `+trustColumns+` FROM trusts WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, t := range trusts {
		out = append(out, s.trustJSON(t))
	}
	return httpapi.OK(map[string]any{"trusts": out, "links": s.collectionLinks(r)}), nil
}

// trustRoleRefs reads the requested roles: objects with exactly one of id and name.
func trustRoleRefs(f *fields) []map[string]string {
	raw, ok := f.m["roles"]
	if !ok {
		return nil
	}
	delete(f.m, "roles")
	list, isList := raw.([]any)
	if !isList {
		f.fail("roles", "an array of objects")
		return nil
	}
	out := make([]map[string]string, 0, len(list))
	for _, x := range list {
		o, isObj := x.(map[string]any)
		if !isObj || len(o) != 1 {
			f.fail("roles", `an array of objects each with exactly one of "id" and "name"`)
			return nil
		}
		for k, v := range o {
			str, isStr := v.(string)
			if (k != "id" && k != "name") || !isStr || str == "" {
				f.fail("roles", `an array of objects each with exactly one of "id" and "name"`)
				return nil
			}
			out = append(out, map[string]string{k: str})
		}
	}
	return out
}

// trustRequest is a decoded trust creation body.
type trustRequest struct {
	row               trustRow
	roles             []map[string]string
	allowRedelegation bool
	redelegationCount *int64
	expiresAt         *string
}

func decodeTrust(r *http.Request) (*trustRequest, error) {
	obj, err := decodeEnvelope(r, "trust")
	if err != nil {
		return nil, err
	}
	f := &fields{m: obj}
	extRequire(f, "trustor_user_id", "trustee_user_id", "impersonation")
	req := &trustRequest{}
	req.row.TrustorUserID, _ = f.String("trustor_user_id", 255)
	req.row.TrusteeUserID, _ = f.String("trustee_user_id", 255)
	req.row.Impersonation, _ = f.Bool("impersonation")
	nullableStringField(f, "project_id", &req.row.ProjectID)
	if req.row.ProjectID.Valid && req.row.ProjectID.String == "" {
		req.row.ProjectID.Valid = false
	}
	if v, ok := extInt(f, "remaining_uses", 1, math.MaxInt32, true); ok && v != nil {
		req.row.RemainingUses = sql.NullInt64{Int64: *v, Valid: true}
	}
	req.expiresAt, _ = f.NullableString("expires_at")
	if raw, ok := f.m["allow_redelegation"]; ok && raw != nil {
		req.allowRedelegation, _ = f.Bool("allow_redelegation")
	}
	req.redelegationCount, _ = extInt(f, "redelegation_count", 0, math.MaxInt32, true)
	req.roles = trustRoleRefs(f)
	if f.err != nil {
		return nil, f.err
	}
	return req, nil
}

func (s *Service) createTrust(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	req, err := decodeTrust(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	t := &req.row
	if err := httpapi.Enforce(r, s.policy, "identity:create_trust",
		map[string]any{"target.trust.trustor_user_id": t.TrustorUserID}); err != nil {
		return httpapi.Response{}, err
	}
	creds := auth.FromContext(ctx)
	if err := blockAppCredTrusts(creds); err != nil {
		return httpapi.Response{}, err
	}
	if creds.OAuthAccessTokenID != "" { // upstream redelegates trusts only
		return httpapi.Response{}, forbiddenAction("Redelegation allowed for delegated by trust only")
	}
	if t.ProjectID.Valid && len(req.roles) == 0 {
		return httpapi.Response{}, httpapi.Forbidden("You are not authorized to perform the requested action: At least one role should be specified.")
	}
	if creds.UserID != t.TrustorUserID {
		return httpapi.Response{}, httpapi.Forbidden("You are not authorized to perform the requested action: The authenticated user should match the trustor.")
	}
	if u, err := s.getUser(ctx, s.db, t.TrusteeUserID); err != nil {
		return httpapi.Response{}, err
	} else if u == nil {
		return httpapi.Response{}, notFound("user", t.TrusteeUserID)
	}
	roleIDs, err := s.resolveTrustRoles(ctx, req.roles)
	if err != nil {
		return httpapi.Response{}, err
	}
	// A trust made with a trust-scoped token redelegates that trust: the roles
	// are those the chain's original trustor holds.
	var pedigree []*trustRow
	roleHolder := t
	if creds.TrustID != "" {
		if pedigree, err = s.trustPedigree(ctx, creds.TrustID); err != nil {
			return httpapi.Response{}, err
		}
		roleHolder = pedigree[len(pedigree)-1]
	}
	if err := s.requireTrustorRoles(ctx, s.db, roleHolder, roleIDs); err != nil {
		return httpapi.Response{}, err
	}
	if req.expiresAt != nil {
		exp, err := parseTime(*req.expiresAt)
		if err != nil {
			return httpapi.Response{}, httpapi.BadRequest("Invalid input for field 'expires_at': %q is not an ISO 8601 time.", *req.expiresAt)
		}
		if !exp.After(s.now()) {
			return httpapi.Response{}, httpapi.BadRequest("The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
		}
		t.ExpiresAt = sql.NullInt64{Int64: exp.UnixMicro(), Valid: true}
	}
	// Upstream's redelegation rules for a trust issued by its trustor.
	redelegatable := req.allowRedelegation && (req.redelegationCount == nil || *req.redelegationCount != 0)
	switch {
	case !redelegatable:
		t.RedelegationCount = 0
	case t.RemainingUses.Valid:
		return httpapi.Response{}, httpapi.BadRequest("remaining_uses must not be set if redelegation is allowed")
	case req.redelegationCount != nil && *req.redelegationCount > trustMaxRedelegation:
		return httpapi.Response{}, httpapi.Forbidden("Requested redelegation depth of %d is greater than allowed %d",
			*req.redelegationCount, trustMaxRedelegation)
	case req.redelegationCount != nil:
		t.RedelegationCount = *req.redelegationCount
	default:
		t.RedelegationCount = trustMaxRedelegation
	}
	if pedigree != nil {
		if err := s.redelegate(ctx, t, req, redelegatable, roleIDs, pedigree); err != nil {
			return httpapi.Response{}, err
		}
	}
	t.ID, t.CreatedAt = newID(), s.now().UnixMicro()
	// The trustee and the trustor's roles are checked again in the transaction that
	// inserts: no trust outlives its trustee, nor delegates a role its trustor
	// lost meanwhile.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if u, err := s.getUser(ctx, tx, t.TrusteeUserID); err != nil {
			return err
		} else if u == nil {
			return notFound("user", t.TrusteeUserID)
		}
		if err := s.requireTrustorRoles(ctx, tx, roleHolder, roleIDs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO trusts (`+trustColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
			t.ID, t.TrustorUserID, t.TrusteeUserID, t.ProjectID, t.Impersonation, t.ExpiresAt, t.RemainingUses,
			t.RedelegationCount, t.RedelegatedTrustID, t.CreatedAt); err != nil {
			return fmt.Errorf("create trust: %w", err)
		}
		for _, id := range roleIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO trust_roles (trust_id, role_id) VALUES (?, ?)`, t.ID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	j, err := s.trustWithRoles(ctx, t)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"trust": j}), nil
}

// resolveTrustRoles turns role references into ids: by id, or by the name of a
// global role (404 when there is none).
func (s *Service) resolveTrustRoles(ctx context.Context, refs []map[string]string) ([]string, error) {
	var ids []string
	for _, ref := range refs {
		var role *roleRow
		var err error
		if id, ok := ref["id"]; ok {
			role, err = s.getRole(ctx, s.db, id)
			if err == nil && role == nil {
				err = notFound("role", id)
			}
		} else {
			role, err = s.getRoleByName(ctx, s.db, ref["name"], nullDomainID)
			if err == nil && role == nil {
				err = notFound("role", ref["name"])
			}
		}
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, role.ID) {
			ids = append(ids, role.ID)
		}
	}
	return ids, nil
}

// requireTrustorRoles checks that the trustor holds every delegated role on the
// trust's project (directly, through groups, inheritance or implication).
func (s *Service) requireTrustorRoles(ctx context.Context, q db.Querier, t *trustRow, roleIDs []string) error {
	var held []string
	if t.ProjectID.Valid {
		p, err := s.getProject(ctx, q, t.ProjectID.String)
		if err != nil {
			return err
		}
		if p == nil {
			return notFound("project", t.ProjectID.String)
		}
		direct, err := s.directRoleIDs(ctx, q, t.TrustorUserID, tokenScope{ProjectID: p.ID})
		if err != nil {
			return err
		}
		if held, err = s.impliedClosure(ctx, q, direct); err != nil {
			return err
		}
	}
	for _, id := range roleIDs {
		if !slices.Contains(held, id) {
			return httpapi.Forbidden("You are not authorized to perform the requested action: The trustor does not hold role %s on the trust's project.", id)
		}
	}
	return nil
}

func (s *Service) showTrust(r *http.Request) (httpapi.Response, error) {
	if err := blockAppCredTrusts(auth.FromContext(r.Context())); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.loadTrust(r.Context(), pathParam(r, "trust_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	j, err := s.trustWithRoles(r.Context(), t)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"trust": j}), nil
}

func (s *Service) deleteTrust(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := blockAppCredTrusts(auth.FromContext(ctx)); err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.loadTrust(ctx, pathParam(r, "trust_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	// Trusts redelegated from this one go with it, down the chain, as upstream;
	// then the tokens of them all.
	var gone []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if gone, err = trustSubtree(ctx, tx, t.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM trusts WHERE id IN (`+placeholders(len(gone))+`)`, anySlice(gone)...)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revoke(ctx, trustRevocationEvents(gone)...); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) listTrustRoles(r *http.Request) (httpapi.Response, error) {
	t, roles, err := s.loadTrustRoles(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]map[string]any, 0, len(roles))
	for _, role := range roles {
		list = append(list, s.trustRoleJSON(role))
	}
	return httpapi.OK(map[string]any{"roles": list, "links": s.trustRolesLinks(t.ID)}), nil
}

func (s *Service) showTrustRole(r *http.Request) (httpapi.Response, error) {
	_, roles, err := s.loadTrustRoles(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	roleID := pathParam(r, "role_id")
	for _, role := range roles {
		if role.ID == roleID {
			return httpapi.OK(map[string]any{"role": s.trustRoleJSON(role)}), nil
		}
	}
	return httpapi.Response{}, notFound("role", roleID)
}

// trustPedigree is a trust and the trusts it was redelegated from, up to the
// original one (404 when one of them is gone).
func (s *Service) trustPedigree(ctx context.Context, id string) ([]*trustRow, error) {
	var chain []*trustRow
	for len(chain) <= trustPedigreeLimit {
		t, err := s.loadTrust(ctx, id)
		if err != nil {
			return nil, err
		}
		chain = append(chain, t)
		if !t.RedelegatedTrustID.Valid {
			return chain, nil
		}
		id = t.RedelegatedTrustID.String
	}
	return nil, notFound("trust", id)
}

// redelegate makes t a redelegation of pedigree[0] (the caller's trust), as
// upstream's create_trust and _validate_redelegation (keystone/trust/core.py):
// each trust up the chain must have depth left, and t may ask for no more uses,
// time, roles or impersonation than any of them grants.
func (s *Service) redelegate(ctx context.Context, t *trustRow, req *trustRequest, redelegatable bool, roleIDs []string, pedigree []*trustRow) error {
	parent := pedigree[0]
	t.RedelegatedTrustID = sql.NullString{String: parent.ID, Valid: true}
	remaining := parent.RedelegationCount - 1
	if redelegatable && req.redelegationCount != nil && *req.redelegationCount != 0 && *req.redelegationCount != remaining {
		return httpapi.Forbidden(`Modifying "redelegation_count" upon redelegation is forbidden. Omitting this parameter is advised.`)
	}
	if redelegatable && req.redelegationCount == nil {
		t.RedelegationCount = remaining
	}
	for _, up := range pedigree {
		if up.RedelegationCount <= 0 || up.RedelegationCount > trustMaxRedelegation {
			return httpapi.Forbidden("Remaining redelegation depth of %d out of allowed range of [0..%d]", up.RedelegationCount, trustMaxRedelegation)
		}
		if t.RemainingUses.Valid {
			return httpapi.Forbidden(`Field "remaining_uses" is set to %d while it must not be set in order to redelegate a trust`, t.RemainingUses.Int64)
		}
		if up.ExpiresAt.Valid {
			switch {
			case !t.ExpiresAt.Valid:
				t.ExpiresAt = up.ExpiresAt
			case up.ExpiresAt.Int64 < t.ExpiresAt.Int64:
				return httpapi.Forbidden("Requested expiration time is more than redelegated trust can provide")
			}
		}
		upRoles, err := db.QueryStrings(ctx, s.db, `SELECT role_id FROM trust_roles WHERE trust_id = ?`, up.ID)
		if err != nil {
			return fmt.Errorf("load trust roles: %w", err)
		}
		for _, id := range roleIDs {
			if !slices.Contains(upRoles, id) {
				return httpapi.Forbidden("Some of requested roles are not in redelegated trust")
			}
		}
		if !up.Impersonation && t.Impersonation {
			return httpapi.Forbidden("Impersonation is not allowed because redelegated trust does not specify impersonation. Redelegated trust id: %s", up.ID)
		}
	}
	return nil
}
