package network

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// defaultQuotas are upstream's defaults (neutron.conf [quotas]); -1 is unlimited.
var defaultQuotas = map[string]int{
	"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
	"security_group": 10, "security_group_rule": 100, "subnetpool": -1, "rbac_policy": 10,
}

func (s *Service) quotaRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/quotas", Handler: s.listQuotas},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}", Handler: s.showQuota},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/default", Handler: s.showDefaultQuota},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/details.json", Handler: s.showQuotaDetails},
		{Method: "GET", Path: "/v2.0/quotas/{project_id}/details", Handler: s.showQuotaDetails},
		{Method: "PUT", Path: "/v2.0/quotas/{project_id}", Handler: s.updateQuota},
		{Method: "DELETE", Path: "/v2.0/quotas/{project_id}", Handler: s.deleteQuota},
	}
}

// limits are a project's quotas: defaults overridden by what admins set.
func (s *Service) limits(ctx context.Context, q db.Querier, project string) (map[string]int, error) {
	out := make(map[string]int, len(s.opts.Quotas))
	for k, v := range s.opts.Quotas {
		out[k] = v
	}
	type row struct {
		resource string
		limit    int
	}
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.resource, &r.limit)
	}, `SELECT resource, hard_limit FROM quotas WHERE project_id = ?`, project)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.resource] = r.limit
	}
	return out, nil
}

// quotaTables are where each resource is counted.
var quotaTables = map[string]string{"network": "networks", "subnet": "subnets", "port": "ports",
	"router": "routers", "floatingip": "floatingips", "security_group": "security_groups",
	"security_group_rule": "security_group_rules"}

func (s *Service) usage(ctx context.Context, q db.Querier, project, resource string) (int, error) {
	table, ok := quotaTables[resource]
	if !ok {
		return 0, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE project_id = ?`, project).Scan(&n)
	return n, err
}

// checkQuota fails with upstream's OverQuota (409) when creating one more resource
// would exceed the project's limit. It counts inside the creating transaction,
// which is serializable: of two creations that counted the same usage only one
// commits (PostgreSQL aborts the other, db.InTx runs it again and it counts
// again; SQLite runs them one after the other), so the limit holds however many
// requests and processes create at once.
func (s *Service) checkQuota(ctx context.Context, tx *db.Tx, project, resource, _ string) error {
	limits, err := s.limits(ctx, tx, project)
	if err != nil {
		return err
	}
	limit := limits[resource]
	if limit < 0 {
		return nil
	}
	used, err := s.usage(ctx, tx, project, resource)
	if err != nil {
		return err
	}
	if used+1 > limit {
		return conflict("OverQuota", "Quota exceeded for resources: ['%s'].", resource)
	}
	return nil
}

// Upstream serves quotas with its legacy controller (neutron/extensions/quotasv2.py),
// whose checks are its own, made on the caller's own project (quotaTarget): a
// project's own quota is anyone's in it to read; another project's takes get_quota
// (an admin's), its details an admin; changes take update_quota or delete_quota.
// All refusals are 403s.

// quotaTarget is what upstream's quota checks are evaluated on: the caller's project.
func quotaTarget(c caller) map[string]any {
	return map[string]any{"project_id": c.project, "tenant_id": c.project}
}

// readQuota lets the caller read the quota of the request's project.
func (s *Service) readQuota(r *http.Request) error {
	c := s.caller(r)
	if c.project != "" && r.PathValue("project_id") == c.project {
		return nil
	}
	return s.enforce(c, "get_quota", quotaTarget(c))
}

func (s *Service) showQuota(r *http.Request) (httpapi.Response, error) {
	if err := s.readQuota(r); err != nil {
		return httpapi.Response{}, err
	}
	limits, err := s.limits(r.Context(), s.db, r.PathValue("project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota": limits}), nil
}

func (s *Service) showDefaultQuota(r *http.Request) (httpapi.Response, error) {
	if err := s.readQuota(r); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota": s.opts.Quotas}), nil
}

func (s *Service) showQuotaDetails(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	project := r.PathValue("project_id")
	if (c.project == "" || project != c.project) && !c.admin {
		return httpapi.Response{}, neutronError(http.StatusForbidden, "AdminRequired",
			"User does not have admin privileges: Only admin is authorized to access quotas for another project.")
	}
	limits, err := s.limits(r.Context(), s.db, project)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := map[string]any{}
	for res, limit := range limits {
		used, err := s.usage(r.Context(), s.db, project, res)
		if err != nil {
			return httpapi.Response{}, err
		}
		out[res] = map[string]any{"limit": limit, "used": used, "reserved": 0}
	}
	return httpapi.OK(map[string]any{"quota": out}), nil
}

func (s *Service) listQuotas(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	if err := s.enforce(c, "get_quota", quotaTarget(c)); err != nil {
		return httpapi.Response{}, err
	}
	projects, err := db.QueryStrings(r.Context(), s.db, `SELECT DISTINCT project_id FROM quotas`)
	if err != nil {
		return httpapi.Response{}, err
	}
	sort.Strings(projects)
	out := []any{}
	for _, p := range projects {
		limits, err := s.limits(r.Context(), s.db, p)
		if err != nil {
			return httpapi.Response{}, err
		}
		q := map[string]any{"project_id": p, "tenant_id": p}
		for k, v := range limits {
			q[k] = v
		}
		out = append(out, q)
	}
	return httpapi.OK(map[string]any{"quotas": out}), nil
}

func (s *Service) updateQuota(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	if err := s.enforce(c, "update_quota", quotaTarget(c)); err != nil {
		return httpapi.Response{}, err
	}
	project := r.PathValue("project_id")
	attrs, err := quotaBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		for res, v := range attrs {
			limit := v.(int)
			// One statement, so that two first settings at once do not both insert.
			if _, err := tx.ExecContext(r.Context(), `INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)
				ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`, project, res, limit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	limits, err := s.limits(r.Context(), s.db, project)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota": limits}), nil
}

// quotaAttributes are the quota body's attribute map, as quotasv2.py's
// _update_attributes builds it: each resource's limit, converted to an integer
// and from -1 (unlimited) to the database's largest.
var quotaAttributes = func() attributeMap {
	var attrs attributeMap
	for _, res := range slices.Sorted(maps.Keys(defaultQuotas)) {
		attrs = append(attrs, attribute{name: res, put: true, convert: toInt, validate: validRange(-1, math.MaxInt32)})
	}
	return attrs
}()

// quotaBody reads {"quota": {...}}: upstream's update drops force and
// check_limit first (both are no-ops since the quota engine checks usage
// itself), then checks the rest against the attribute map.
func quotaBody(r *http.Request) (map[string]any, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	raw, ok := body["quota"]
	if !ok {
		return nil, badRequest("Unable to find 'quota' in request body")
	}
	var values map[string]any
	if err := json.Unmarshal(raw, &values); err != nil || values == nil {
		return nil, badRequest("Invalid format for quota: the body must be an object")
	}
	delete(values, "force")
	delete(values, "check_limit")
	return quotaAttributes.check(values, false)
}

func (s *Service) deleteQuota(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	if err := s.enforce(c, "delete_quota", quotaTarget(c)); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM quotas WHERE project_id = ?`, r.PathValue("project_id")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
