package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-quota-sets at 2.1: a project's limits (its compute_quotas rows over the
// defaults), the defaults, and the limits with usage; admins change them.
func (s *Service) quotaSetRoutes() []httpapi.Route {
	project := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.project_id": r.PathValue("project")}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-quota-sets/{project}", Policy: "os_compute_api:os-quota-sets:show", Target: project, Handler: s.showQuotaSet(false)},
		{Method: "GET", Path: "/v2.1/os-quota-sets/{project}/detail", Policy: "os_compute_api:os-quota-sets:detail", Target: project, Handler: s.showQuotaSet(true)},
		{Method: "GET", Path: "/v2.1/os-quota-sets/{project}/defaults", Policy: "os_compute_api:os-quota-sets:defaults", Handler: s.quotaDefaults},
		{Method: "PUT", Path: "/v2.1/os-quota-sets/{project}", Policy: "os_compute_api:os-quota-sets:update", Target: project, Handler: s.updateQuotaSet},
		{Method: "DELETE", Path: "/v2.1/os-quota-sets/{project}", Policy: "os_compute_api:os-quota-sets:delete", Target: project, Handler: s.deleteQuotaSet},
	}
}

// quotaResources are the resources the 2.1 API shows, in its order.
var quotaResources = []string{"cores", "fixed_ips", "floating_ips", "injected_file_content_bytes", "injected_file_path_bytes",
	"injected_files", "instances", "key_pairs", "metadata_items", "ram", "security_group_rules", "security_groups",
	"server_group_members", "server_groups"}

// Resources later microversions dropped: the network proxy's (2.36, Neutron
// has them) and personality's injected files (2.57).
var (
	networkQuotaResources  = []string{"fixed_ips", "floating_ips", "networks", "security_group_rules", "security_groups"}
	injectedQuotaResources = []string{"injected_file_content_bytes", "injected_file_path_bytes", "injected_files"}
)

// versionQuotaResources are the resources the request's microversion shows.
func versionQuotaResources(r *http.Request) []string {
	return slices.DeleteFunc(slices.Clone(quotaResources), func(res string) bool {
		return (since(r, 36) && slices.Contains(networkQuotaResources, res)) ||
			(since(r, 57) && slices.Contains(injectedQuotaResources, res))
	})
}

func isQuotaResource(r *http.Request, name string) bool {
	return slices.Contains(versionQuotaResources(r), name)
}

// quotaUsage is what the project uses of each resource it counts: instances,
// cores and RAM of its servers, its server groups, and the caller's key pairs
// (key pairs belong to users, as upstream counts them).
func (s *Service) quotaUsage(ctx context.Context, q querier, project, user string) (map[string]int, error) {
	return s.quotaUsageOf(ctx, q, project, "", user)
}

// quotaUsageOf is quotaUsage of one user's servers in the project (of all of
// them when of is "").
func (s *Service) quotaUsageOf(ctx context.Context, q querier, project, of, user string) (map[string]int, error) {
	used, err := s.usageOf(ctx, q, project, of)
	if err != nil {
		return nil, err
	}
	for res, query := range map[string]string{
		"server_groups": `SELECT COUNT(*) FROM server_groups WHERE project_id = ?`,
		"key_pairs":     `SELECT COUNT(*) FROM keypairs WHERE user_id = ?`,
	} {
		arg := project
		if res == "key_pairs" {
			arg = user
		}
		var n int
		if err := q.QueryRowContext(ctx, query, arg).Scan(&n); err != nil {
			return nil, err
		}
		used[res] = n
	}
	return used, nil
}

func (s *Service) showQuotaSet(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		project := r.PathValue("project")
		user := r.URL.Query().Get("user_id")
		limits, err := s.quotaLimits(ctx, s.db, project)
		if user != "" {
			limits, _, err = s.userQuotaLimits(ctx, s.db, project, user)
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		body := map[string]any{"id": project}
		if !detail {
			for _, res := range versionQuotaResources(r) {
				body[res] = limits[res]
			}
			return httpapi.OK(map[string]any{"quota_set": body}), nil
		}
		used, err := s.quotaUsageOf(ctx, s.db, project, user, nonEmpty(user, auth.FromContext(ctx).UserID))
		if err != nil {
			return httpapi.Response{}, err
		}
		for _, res := range versionQuotaResources(r) {
			body[res] = map[string]int{"limit": limits[res], "in_use": used[res], "reserved": 0}
		}
		return httpapi.OK(map[string]any{"quota_set": body}), nil
	}
}

func (s *Service) quotaDefaults(r *http.Request) (httpapi.Response, error) {
	body := map[string]any{"id": r.PathValue("project")}
	for _, res := range versionQuotaResources(r) {
		body[res] = s.opts.Quotas[res]
	}
	return httpapi.OK(map[string]any{"quota_set": body}), nil
}

// quotaValue is upstream's quota value: an integer (or a string of one) of
// at least -1, where -1 is unlimited.
func quotaValue(name string, raw json.RawMessage) (int, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, badRequest("Invalid input for field/attribute %s.", name)
	}
	var n int
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is not of type 'integer', 'string'", name, x, x)
		}
		n = int(x)
	case string:
		i, err := strconv.Atoi(x)
		if err != nil {
			return 0, badRequest("Invalid input for field/attribute %s. Value: %s. '%s' does not match '^-?[0-9]+$'", name, x, x)
		}
		n = i
	default:
		return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is not of type 'integer', 'string'", name, v, v)
	}
	if n < -1 {
		return 0, badRequest("Invalid input for field/attribute %s. Value: %d. %d is less than the minimum of -1", name, n, n)
	}
	if n > 0x7fffffff {
		return 0, badRequest("Invalid input for field/attribute %s. Value: %d. %d is greater than the maximum of 2147483647", name, n, n)
	}
	return n, nil
}

// updateQuotaSet is PUT: each given limit is written for the project; a limit
// below what the project already uses is refused unless force is true.
func (s *Service) updateQuotaSet(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	project := r.PathValue("project")
	var req struct {
		QuotaSet map[string]json.RawMessage `json:"quota_set"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.QuotaSet == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute quota_set. 'quota_set' is a required property")
	}
	user := r.URL.Query().Get("user_id")
	force := false
	set := map[string]int{}
	for k, raw := range req.QuotaSet {
		if k == "force" {
			var v any
			_ = json.Unmarshal(raw, &v)
			f, err := boolField("force", v)
			if err != nil {
				return httpapi.Response{}, err
			}
			force = f
			continue
		}
		if !isQuotaResource(r, k) {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute quota_set. Additional properties are not allowed ('%s' was unexpected)", k)
		}
		n, err := quotaValue(k, raw)
		if err != nil {
			return httpapi.Response{}, err
		}
		set[k] = n
	}
	var limits map[string]int
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		used, err := s.quotaUsageOf(ctx, tx, project, user, nonEmpty(user, auth.FromContext(ctx).UserID))
		if err != nil {
			return err
		}
		if user != "" {
			return s.updateUserQuotas(ctx, tx, r, project, user, set, force, used, &limits)
		}
		for res, n := range set {
			if !force && n >= 0 && res != "key_pairs" && n < used[res] {
				return badRequest("Quota limit %d for %s must be greater than or equal to already used and reserved %d.", n, res, used[res])
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM compute_quotas WHERE project_id = ? AND resource = ?`, project, res); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO compute_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)`, project, res, n); err != nil {
				return err
			}
		}
		limits, err = s.quotaLimits(ctx, tx, project)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	body := map[string]any{}
	for _, res := range versionQuotaResources(r) {
		body[res] = limits[res]
	}
	return httpapi.OK(map[string]any{"quota_set": body}), nil
}

// updateUserQuotas writes a user's limits, each between what the user uses
// and what the project leaves (nova's _validate_quota_limit with
// get_settable_quotas), unless forced; limits becomes the user's.
func (s *Service) updateUserQuotas(ctx context.Context, tx *db.Tx, r *http.Request, project, user string, set map[string]int,
	force bool, used map[string]int, limits *map[string]int) error {
	projectLimits, err := s.quotaLimits(ctx, tx, project)
	if err != nil {
		return err
	}
	inf := func(n int) float64 {
		if n < 0 {
			return math.Inf(1)
		}
		return float64(n)
	}
	for _, res := range slices.Sorted(maps.Keys(set)) {
		n := set[res]
		if !force {
			maximum, err := s.userQuotaMaximum(ctx, tx, project, user, res, projectLimits[res])
			if err != nil {
				return err
			}
			if inf(n) < inf(used[res]) {
				return badRequest("Quota limit %d for %s must be greater than or equal to already used and reserved %d.", n, res, used[res])
			}
			if inf(n) > inf(maximum) {
				return badRequest("Quota limit %d for %s must be less than or equal to %d.", n, res, maximum)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM compute_user_quotas WHERE project_id = ? AND user_id = ? AND resource = ?`,
			project, user, res); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO compute_user_quotas (project_id, user_id, resource, hard_limit) VALUES (?, ?, ?, ?)`,
			project, user, res, n); err != nil {
			return err
		}
	}
	*limits, _, err = s.userQuotaLimits(ctx, tx, project, user)
	return err
}

// deleteQuotaSet reverts the project to the defaults, or with ?user_id the
// user to the project's limits (202, as upstream).
func (s *Service) deleteQuotaSet(r *http.Request) (httpapi.Response, error) {
	if user := r.URL.Query().Get("user_id"); user != "" {
		if _, err := s.db.ExecContext(r.Context(), `DELETE FROM compute_user_quotas WHERE project_id = ? AND user_id = ?`,
			r.PathValue("project"), user); err != nil {
			return httpapi.Response{}, fmt.Errorf("delete user quotas: %w", err)
		}
		return httpapi.Response{Status: http.StatusAccepted}, nil
	}
	// As upstream's destroy_all_by_project: the project's limits and its users'.
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		for _, table := range []string{"compute_quotas", "compute_user_quotas"} {
			if _, err := tx.ExecContext(r.Context(), `DELETE FROM `+table+` WHERE project_id = ?`, r.PathValue("project")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete quotas: %w", err)
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
