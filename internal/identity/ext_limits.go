package identity

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Unified limits: registered limits are a service's defaults for a resource
// (optionally per region); limits override them for one project or domain. The
// enforcement model is "flat": the project hierarchy is not considered.

func (s *Service) limitRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/registered_limits", Policy: "identity:list_registered_limits", Handler: s.listRegisteredLimits,
			Schemas: okBody(registeredLimitIndexResponse)},
		{Method: "POST", Path: "/v3/registered_limits", Policy: "identity:create_registered_limits", Handler: s.createRegisteredLimits,
			Schemas: schemas(registeredLimitCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: registeredLimitCreateResponse})},
		{Method: "GET", Path: "/v3/registered_limits/{registered_limit_id}", Policy: "identity:get_registered_limit", Handler: s.showRegisteredLimit,
			Schemas: okBody(registeredLimitResponse)},
		{Method: "PATCH", Path: "/v3/registered_limits/{registered_limit_id}", Policy: "identity:update_registered_limit", Handler: s.updateRegisteredLimit,
			Schemas: schemas(registeredLimitUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: registeredLimitResponse})},
		{Method: "DELETE", Path: "/v3/registered_limits/{registered_limit_id}", Policy: "identity:delete_registered_limit", Handler: s.deleteRegisteredLimit, Schemas: noContent},

		{Method: "GET", Path: "/v3/limits/model", Policy: "identity:get_limit_model", Handler: s.showLimitModel,
			Schemas: okBody(limitModelResponse)},
		{Method: "GET", Path: "/v3/limits", Policy: "identity:list_limits", Handler: s.listLimits,
			Schemas: okBody(limitIndexResponse)}, // filtered per limit
		{Method: "POST", Path: "/v3/limits", Policy: "identity:create_limits", Handler: s.createLimits,
			Schemas: schemas(limitCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: limitCreateResponse})},
		{Method: "GET", Path: "/v3/limits/{limit_id}", Policy: "identity:get_limit", Target: s.limitTarget, Handler: s.showLimit,
			Schemas: okBody(limitResponse)},
		{Method: "PATCH", Path: "/v3/limits/{limit_id}", Policy: "identity:update_limit", Handler: s.updateLimit,
			Schemas: schemas(limitUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: limitResponse})},
		{Method: "DELETE", Path: "/v3/limits/{limit_id}", Policy: "identity:delete_limit", Handler: s.deleteLimit, Schemas: noContent},
	}
}

const limitMax = math.MaxInt32 // upstream stores limits as a signed INT

// --- Registered limits --------------------------------------------------------

type registeredLimitRow struct {
	ID, ServiceID, ResourceName string
	RegionID, Description       sql.NullString
	DefaultLimit                int64
}

const registeredLimitColumns = `id, service_id, region_id, resource_name, default_limit, description`

func scanRegisteredLimit(row db.Scanner) (*registeredLimitRow, error) {
	l := &registeredLimitRow{}
	err := row.Scan(&l.ID, &l.ServiceID, &l.RegionID, &l.ResourceName, &l.DefaultLimit, &l.Description)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load registered limit: %w", err)
	}
	return l, nil
}

func (s *Service) loadRegisteredLimit(ctx context.Context, q db.Querier, id string) (*registeredLimitRow, error) {
	l, err := scanRegisteredLimit(q.QueryRowContext(ctx,
		`SELECT `+registeredLimitColumns+` FROM registered_limits WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, notFound("registered limit", id)
	}
	return l, nil
}

func (s *Service) registeredLimitJSON(l *registeredLimitRow) map[string]any {
	return map[string]any{
		"id": l.ID, "service_id": l.ServiceID, "region_id": nullStringJSON(l.RegionID),
		"resource_name": l.ResourceName, "default_limit": l.DefaultLimit, "description": nullStringJSON(l.Description),
		"links": s.links("/v3/registered_limits/" + l.ID),
	}
}

// nullableStringField reads a string-or-null attribute into an sql.NullString.
func nullableStringField(f *fields, name string, dst *sql.NullString) bool {
	v, ok := f.NullableString(name)
	if ok {
		*dst = sql.NullString{}
		if v != nil {
			*dst = sql.NullString{String: *v, Valid: true}
		}
	}
	return ok
}

// registeredLimitFields reads a registered limit's attributes (additionalProperties
// false, as upstream's schema).
func registeredLimitFields(f *fields, l *registeredLimitRow, create bool) {
	if create {
		extRequire(f, "service_id", "resource_name", "default_limit")
	}
	if v, ok := f.String("service_id", 255); ok {
		l.ServiceID = v
	}
	nullableStringField(f, "region_id", &l.RegionID)
	if v, ok := f.Name("resource_name", false); ok {
		l.ResourceName = v
	}
	if v, ok := extInt(f, "default_limit", -1, limitMax, false); ok && v != nil {
		l.DefaultLimit = *v
	}
	nullableStringField(f, "description", &l.Description)
	extRejectUnknown(f)
}

// checkLimitRefs answers 400 when a limit names a service, region, project or domain
// that does not exist, as upstream's _assert_resource_exist.
func (s *Service) checkLimitRefs(ctx context.Context, q db.Querier, kind, serviceID string, regionID sql.NullString) error {
	if svc, err := s.getService(ctx, q, serviceID); err != nil {
		return err
	} else if svc == nil {
		return httpapi.BadRequest("Invalid input for field 'service_id': service %s of the %s does not exist.", serviceID, kind)
	}
	if regionID.Valid {
		if reg, err := s.getRegion(ctx, q, regionID.String); err != nil {
			return err
		} else if reg == nil {
			return httpapi.BadRequest("Invalid input for field 'region_id': region %s of the %s does not exist.", regionID.String, kind)
		}
	}
	return nil
}

// findRegisteredLimit returns the registered limit for (service, region, resource).
func findRegisteredLimit(ctx context.Context, q db.Querier, serviceID string, regionID sql.NullString, resource string) (*registeredLimitRow, error) {
	return scanRegisteredLimit(q.QueryRowContext(ctx, `SELECT `+registeredLimitColumns+` FROM registered_limits
		WHERE service_id = ? AND COALESCE(region_id, '') = ? AND resource_name = ?`,
		serviceID, regionID.String, resource))
}

func (s *Service) listRegisteredLimits(r *http.Request) (httpapi.Response, error) {
	limits, err := db.QueryAll(r.Context(), s.db, scanRegisteredLimit, `SELECT `+registeredLimitColumns+` FROM registered_limits
		ORDER BY service_id, resource_name, id`)
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, l := range limits {
		match := extMatchQuery(q, []string{"service_id", "region_id", "resource_name"}, func(attr string) string {
			switch attr {
			case "service_id":
				return l.ServiceID
			case "region_id":
				return l.RegionID.String
			}
			return l.ResourceName
		})
		if match {
			out = append(out, s.registeredLimitJSON(l))
		}
	}
	return httpapi.OK(map[string]any{"registered_limits": out, "links": s.collectionLinks(r)}), nil
}

// decodeLimitList reads {"<key>": [ {...}, ... ]} with at least one object.
func decodeLimitList(r *http.Request, key string) ([]map[string]any, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, httpapi.BadRequest("'%s' is a required property", key)
	}
	list, isList := raw.([]any)
	if !isList || len(list) == 0 {
		return nil, httpapi.BadRequest("Invalid input for field '%s': expected a non-empty array of objects.", key)
	}
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		o, isObj := x.(map[string]any)
		if !isObj {
			return nil, httpapi.BadRequest("Invalid input for field '%s': expected a non-empty array of objects.", key)
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *Service) createRegisteredLimits(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	objs, err := decodeLimitList(r, "registered_limits")
	if err != nil {
		return httpapi.Response{}, err
	}
	var created []*registeredLimitRow
	for _, o := range objs {
		l := &registeredLimitRow{ID: newID()}
		f := &fields{m: o}
		registeredLimitFields(f, l, true)
		if f.err != nil {
			return httpapi.Response{}, f.err
		}
		created = append(created, l)
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, l := range created {
			if err := s.checkLimitRefs(ctx, tx, "registered_limit", l.ServiceID, l.RegionID); err != nil {
				return err
			}
			if dup, err := findRegisteredLimit(ctx, tx, l.ServiceID, l.RegionID, l.ResourceName); err != nil {
				return err
			} else if dup != nil {
				return registeredLimitConflict()
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO registered_limits (`+registeredLimitColumns+`) VALUES (?,?,?,?,?,?)`,
				l.ID, l.ServiceID, l.RegionID, l.ResourceName, l.DefaultLimit, l.Description); err != nil {
				return err
			}
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		err = registeredLimitConflict()
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	out := make([]map[string]any, 0, len(created))
	for _, l := range created {
		out = append(out, s.registeredLimitJSON(l))
	}
	return httpapi.Created(map[string]any{"registered_limits": out}), nil
}

func registeredLimitConflict() error {
	return httpapi.Conflict("Conflict occurred attempting to store registered_limit - Duplicate entry.")
}

func (s *Service) showRegisteredLimit(r *http.Request) (httpapi.Response, error) {
	l, err := s.loadRegisteredLimit(r.Context(), s.db, pathParam(r, "registered_limit_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"registered_limit": s.registeredLimitJSON(l)}), nil
}

// registeredLimitInUse is upstream's RegisteredLimitError: a registered limit that
// limits refer to can be neither updated nor deleted.
func registeredLimitInUse(ctx context.Context, q db.Querier, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM limits WHERE registered_limit_id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return httpapi.Forbidden("Unable to update or delete registered limit %s because there are project limits associated with it.", id)
	}
	return nil
}

func (s *Service) updateRegisteredLimit(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "registered_limit_id")
	obj, err := decodeEnvelope(r, "registered_limit")
	if err != nil {
		return httpapi.Response{}, err
	}
	var l *registeredLimitRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if l, err = s.loadRegisteredLimit(ctx, tx, id); err != nil {
			return err
		}
		f := &fields{m: maps.Clone(obj)} // fields consume the map: a run again needs it whole
		f.requireSameID(l.ID, "registered limit")
		registeredLimitFields(f, l, false)
		if f.err != nil {
			return f.err
		}
		if err := registeredLimitInUse(ctx, tx, l.ID); err != nil {
			return err
		}
		if err := s.checkLimitRefs(ctx, tx, "registered_limit", l.ServiceID, l.RegionID); err != nil {
			return err
		}
		if dup, err := findRegisteredLimit(ctx, tx, l.ServiceID, l.RegionID, l.ResourceName); err != nil {
			return err
		} else if dup != nil && dup.ID != l.ID {
			return registeredLimitConflict()
		}
		_, err = tx.ExecContext(ctx, `UPDATE registered_limits SET service_id = ?, region_id = ?, resource_name = ?,
			default_limit = ?, description = ? WHERE id = ?`,
			l.ServiceID, l.RegionID, l.ResourceName, l.DefaultLimit, l.Description, l.ID)
		return err
	})
	if db.IsUniqueViolation(err) {
		err = registeredLimitConflict()
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"registered_limit": s.registeredLimitJSON(l)}), nil
}

func (s *Service) deleteRegisteredLimit(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "registered_limit_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadRegisteredLimit(ctx, tx, id); err != nil {
			return err
		}
		if err := registeredLimitInUse(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM registered_limits WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// --- Limits -------------------------------------------------------------------

func (s *Service) showLimitModel(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"model": map[string]any{
		"name":        "flat",
		"description": "Limit enforcement and validation does not take project hierarchy into consideration.",
	}}), nil
}

// limitRow is a limit joined with its registered limit's service, region and resource.
type limitRow struct {
	ID, RegisteredLimitID   string
	ProjectID, DomainID     sql.NullString
	ResourceLimit           int64
	Description             sql.NullString
	ServiceID, ResourceName string
	RegionID                sql.NullString
}

const limitSelect = `SELECT l.id, l.registered_limit_id, l.project_id, l.domain_id, l.resource_limit, l.description,
	r.service_id, r.resource_name, r.region_id
	FROM limits l JOIN registered_limits r ON r.id = l.registered_limit_id`

func scanLimit(row db.Scanner) (*limitRow, error) {
	l := &limitRow{}
	err := row.Scan(&l.ID, &l.RegisteredLimitID, &l.ProjectID, &l.DomainID, &l.ResourceLimit, &l.Description,
		&l.ServiceID, &l.ResourceName, &l.RegionID)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load limit: %w", err)
	}
	return l, nil
}

func (s *Service) getLimit(ctx context.Context, q db.Querier, id string) (*limitRow, error) {
	return scanLimit(q.QueryRowContext(ctx, limitSelect+` WHERE l.id = ?`, id))
}

func (s *Service) loadLimit(ctx context.Context, q db.Querier, id string) (*limitRow, error) {
	l, err := s.getLimit(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, notFound("limit", id)
	}
	return l, nil
}

func (s *Service) limitJSON(l *limitRow) map[string]any {
	return map[string]any{
		"id": l.ID, "project_id": nullStringJSON(l.ProjectID), "domain_id": nullStringJSON(l.DomainID),
		"service_id": l.ServiceID, "region_id": nullStringJSON(l.RegionID), "resource_name": l.ResourceName,
		"resource_limit": l.ResourceLimit, "description": nullStringJSON(l.Description),
		"links": s.links("/v3/limits/" + l.ID),
	}
}

// limitPolicyTarget is what identity:get_limit refers to: the limit's project (and
// that project's domain) or its domain.
func (s *Service) limitPolicyTarget(ctx context.Context, l *limitRow) map[string]any {
	t := map[string]any{}
	if l.ProjectID.Valid {
		t["target.limit.project_id"] = l.ProjectID.String
		if p, err := s.getProject(ctx, s.db, l.ProjectID.String); err == nil && p != nil {
			t["target.limit.project.domain_id"] = p.DomainID
		}
	}
	if l.DomainID.Valid {
		t["target.limit.domain.id"] = l.DomainID.String
	}
	return t
}

// limitTarget defers the existence check to the handler: a missing limit gets an
// empty target, so that only those allowed everything learn it does not exist.
func (s *Service) limitTarget(r *http.Request) (map[string]any, error) {
	l, err := s.getLimit(r.Context(), s.db, pathParam(r, "limit_id"))
	if err != nil || l == nil {
		return map[string]any{}, nil
	}
	return s.limitPolicyTarget(r.Context(), l), nil
}

func (s *Service) listLimits(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	all, err := db.QueryAll(ctx, s.db, scanLimit, limitSelect+` ORDER BY r.service_id, r.resource_name, l.id`)
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	pc := auth.FromContext(ctx).PolicyCredentials()
	out := []map[string]any{}
	for _, l := range all {
		match := extMatchQuery(q, []string{"service_id", "region_id", "resource_name", "project_id", "domain_id"},
			func(attr string) string {
				switch attr {
				case "service_id":
					return l.ServiceID
				case "region_id":
					return l.RegionID.String
				case "project_id":
					return l.ProjectID.String
				case "domain_id":
					return l.DomainID.String
				}
				return l.ResourceName
			})
		// As upstream: a caller sees the limits of its system, domain or project scope.
		if match && s.policy.Allowed("identity:get_limit", s.limitPolicyTarget(ctx, l), pc) {
			out = append(out, s.limitJSON(l))
		}
	}
	return httpapi.OK(map[string]any{"limits": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) createLimits(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	objs, err := decodeLimitList(r, "limits")
	if err != nil {
		return httpapi.Response{}, err
	}
	var created []*limitRow
	for _, o := range objs {
		l := &limitRow{ID: newID()}
		f := &fields{m: o}
		extRequire(f, "service_id", "resource_name", "resource_limit")
		if v, ok := f.String("service_id", 255); ok {
			l.ServiceID = v
		}
		nullableStringField(f, "region_id", &l.RegionID)
		if v, ok := f.Name("resource_name", false); ok {
			l.ResourceName = v
		}
		if v, ok := extInt(f, "resource_limit", -1, limitMax, false); ok && v != nil {
			l.ResourceLimit = *v
		}
		nullableStringField(f, "description", &l.Description)
		hasProject := nullableStringField(f, "project_id", &l.ProjectID)
		hasDomain := nullableStringField(f, "domain_id", &l.DomainID)
		extRejectUnknown(f)
		if f.err != nil {
			return httpapi.Response{}, f.err
		}
		if hasProject == hasDomain {
			return httpapi.Response{}, httpapi.BadRequest("Invalid input for field 'limits': a limit needs exactly one of project_id and domain_id.")
		}
		created = append(created, l)
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, l := range created {
			if err := s.checkLimitRefs(ctx, tx, "limit", l.ServiceID, l.RegionID); err != nil {
				return err
			}
			if err := s.checkLimitOwner(ctx, tx, l); err != nil {
				return err
			}
			reg, err := findRegisteredLimit(ctx, tx, l.ServiceID, l.RegionID, l.ResourceName)
			if err != nil {
				return err
			}
			if reg == nil {
				return httpapi.Forbidden("Unable to create a limit that has no corresponding registered limit.")
			}
			l.RegisteredLimitID = reg.ID
			var dup int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM limits WHERE registered_limit_id = ?
				AND COALESCE(project_id, '') = ? AND COALESCE(domain_id, '') = ?`,
				reg.ID, l.ProjectID.String, l.DomainID.String).Scan(&dup); err != nil {
				return err
			}
			if dup > 0 {
				return limitConflict()
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO limits (id, registered_limit_id, project_id, domain_id,
				resource_limit, description) VALUES (?,?,?,?,?,?)`,
				l.ID, l.RegisteredLimitID, l.ProjectID, l.DomainID, l.ResourceLimit, l.Description); err != nil {
				return err
			}
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		err = limitConflict()
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	out := make([]map[string]any, 0, len(created))
	for _, l := range created {
		out = append(out, s.limitJSON(l))
	}
	return httpapi.Created(map[string]any{"limits": out}), nil
}

func limitConflict() error {
	return httpapi.Conflict("Conflict occurred attempting to store limit - Duplicate entry.")
}

// checkLimitOwner answers 400 unless the limit's project or domain exists.
func (s *Service) checkLimitOwner(ctx context.Context, q db.Querier, l *limitRow) error {
	if l.ProjectID.Valid {
		p, err := s.getProject(ctx, q, l.ProjectID.String)
		if err != nil {
			return err
		}
		if p == nil {
			return httpapi.BadRequest("Invalid input for field 'project_id': project %s of the limit does not exist.", l.ProjectID.String)
		}
	}
	if l.DomainID.Valid {
		d, err := s.getDomain(ctx, q, l.DomainID.String)
		if err != nil {
			return err
		}
		if d == nil {
			return httpapi.BadRequest("Invalid input for field 'domain_id': domain %s of the limit does not exist.", l.DomainID.String)
		}
	}
	return nil
}

func (s *Service) showLimit(r *http.Request) (httpapi.Response, error) {
	l, err := s.loadLimit(r.Context(), s.db, pathParam(r, "limit_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"limit": s.limitJSON(l)}), nil
}

// updateLimit changes only resource_limit and description, as upstream's schema,
// of the limit as stored when it writes.
func (s *Service) updateLimit(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "limit_id")
	if _, err := s.loadLimit(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "limit")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.requireSameID(id, "limit")
	resourceLimit, hasLimit := extInt(f, "resource_limit", -1, limitMax, false)
	var description sql.NullString
	hasDescription := nullableStringField(f, "description", &description)
	extRejectUnknown(f)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	var updated *limitRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		l, err := s.loadLimit(ctx, tx, id)
		if err != nil {
			return err
		}
		if hasLimit && resourceLimit != nil {
			l.ResourceLimit = *resourceLimit
		}
		if hasDescription {
			l.Description = description
		}
		if _, err := tx.ExecContext(ctx, `UPDATE limits SET resource_limit = ?, description = ? WHERE id = ?`,
			l.ResourceLimit, l.Description, l.ID); err != nil {
			return fmt.Errorf("update limit: %w", err)
		}
		updated = l
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"limit": s.limitJSON(updated)}), nil
}

func (s *Service) deleteLimit(r *http.Request) (httpapi.Response, error) {
	return s.extDeleteByID(r, "limits", "limit_id", "limit")
}
