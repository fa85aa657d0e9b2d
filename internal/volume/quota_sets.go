package volume

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// quotaRoutes are os-quota-sets (contrib/quotas.py): show (with usage),
// defaults, update and delete, by the project id in the path.
func (s *Service) quotaRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/os-quota-sets/{target}", Handler: s.showQuotaSet},
		{Method: "GET", Path: "/v3/os-quota-sets/{target}/defaults", Handler: s.quotaDefaultsSet},
		{Method: "PUT", Path: "/v3/os-quota-sets/{target}", Handler: s.updateQuotaSet},
		{Method: "DELETE", Path: "/v3/os-quota-sets/{target}", Handler: s.deleteQuotaSet},
	}
}

// limitRoutes is GET /limits (limits.py with used_limits.py).
func (s *Service) limitRoutes() []httpapi.Route {
	return []httpapi.Route{{Method: "GET", Path: "/v3/limits", Handler: s.showLimits}}
}

func (s *Service) quotaSet(r *http.Request, project string, usage, defaults bool) (map[string]any, error) {
	ctx := r.Context()
	resources, err := quotaResources(ctx, s.db)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"id": project}
	for _, res := range resources {
		var limit int
		if defaults {
			limit, err = s.defaultLimit(ctx, s.db, res)
		} else {
			limit, err = s.limitOf(ctx, s.db, project, res)
		}
		if err != nil {
			return nil, err
		}
		if !usage {
			out[res] = limit
			continue
		}
		used := 0
		if res != "per_volume_gigabytes" && res != "groups" {
			if used, err = usageOf(ctx, s.db, project, res); err != nil {
				return nil, err
			}
		}
		out[res] = map[string]any{"limit": limit, "in_use": used, "reserved": 0}
	}
	return out, nil
}

func (s *Service) showQuotaSet(r *http.Request) (httpapi.Response, error) {
	target := r.PathValue("target")
	if err := s.enforce(r, policyQuotaShow, map[string]any{"project_id": target}); err != nil {
		return httpapi.Response{}, err
	}
	usage := boolParam(r.URL.Query().Get("usage"))
	set, err := s.quotaSet(r, target, usage, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota_set": set}), nil
}

func (s *Service) quotaDefaultsSet(r *http.Request) (httpapi.Response, error) {
	target := r.PathValue("target")
	if err := s.enforce(r, policyQuotaShow, map[string]any{"project_id": target}); err != nil {
		return httpapi.Response{}, err
	}
	set, err := s.quotaSet(r, target, false, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"quota_set": set}), nil
}

// quotaValue is api_utils.validate_integer(min -1): an integer or an integer string.
func quotaValue(key string, v any) (int, error) {
	var n int
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) {
			return 0, badRequest("Invalid input received: %s must be an integer.", key)
		}
		n = int(x)
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, badRequest("Invalid input received: %s must be an integer.", key)
		}
		n = i
	default:
		return 0, badRequest("Invalid input received: %s must be an integer.", key)
	}
	if n < -1 {
		return 0, badRequest("Invalid input received: %s must be >= -1", key)
	}
	if n > math.MaxInt32 {
		return 0, badRequest("Invalid input received: %s must be <= %d", key, math.MaxInt32)
	}
	return n, nil
}

func (s *Service) updateQuotaSet(r *http.Request) (httpapi.Response, error) {
	target := r.PathValue("target")
	var body struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if body.QuotaSet == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute quota_set. Value: None. 'quota_set' is a required property")
	}
	ctx := r.Context()
	resources, err := quotaResources(ctx, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	values := map[string]int{}
	var bad []string
	for _, k := range sortedKeys(body.QuotaSet) {
		if k == "tenant_id" || k == "id" {
			continue
		}
		if !contains(resources, k) {
			bad = append(bad, k)
			continue
		}
		n, err := quotaValue(k, body.QuotaSet[k])
		if err != nil {
			return httpapi.Response{}, err
		}
		values[k] = n
	}
	if len(bad) > 0 {
		return httpapi.Response{}, badRequest("Invalid input received: Bad key(s) in quota set: %s", strings.Join(bad, ", "))
	}
	if err := s.enforce(r, policyQuotaUpdate, map[string]any{"project_id": target}); err != nil {
		return httpapi.Response{}, err
	}
	if len(target) > 255 {
		return httpapi.Response{}, badRequest("Invalid input received: quota_set_name has more than 255 characters.")
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, k := range sortedKeys(values) {
			v := values[k]
			if k != "per_volume_gigabytes" && k != "groups" && v != -1 {
				used, err := usageOf(ctx, tx, target, k)
				if err != nil {
					return err
				}
				if v < used {
					return badRequest("Quota %s limit must be equal or greater than existing resources. Current usage is %d and the requested limit is %d.", k, used, v)
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM volume_quotas WHERE project_id = ? AND resource = ?`, target, k); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)`, target, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	set, err := s.quotaSet(r, target, false, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	delete(set, "id") // update answers the set without its id, as upstream
	return httpapi.OK(map[string]any{"quota_set": set}), nil
}

func (s *Service) deleteQuotaSet(r *http.Request) (httpapi.Response, error) {
	target := r.PathValue("target")
	if err := s.enforce(r, policyQuotaDelete, map[string]any{"project_id": target}); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM volume_quotas WHERE project_id = ?`, target); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(nil), nil
}

// showLimits is GET /limits: the project's absolute limits and, when
// used_limits allows, its usage; 3.39 lets an admin ask for another project.
func (s *Service) showLimits(r *http.Request) (httpapi.Response, error) {
	project := callerProject(r)
	if p := r.URL.Query().Get("project_id"); p != "" && since(r, 39) && isAdmin(r) {
		project = p
	}
	ctx := r.Context()
	names := map[string]string{"gigabytes": "maxTotalVolumeGigabytes", "backup_gigabytes": "maxTotalBackupGigabytes",
		"volumes": "maxTotalVolumes", "snapshots": "maxTotalSnapshots", "backups": "maxTotalBackups"}
	used := map[string]string{"volumes": "totalVolumesUsed", "gigabytes": "totalGigabytesUsed",
		"snapshots": "totalSnapshotsUsed", "backups": "totalBackupsUsed", "backup_gigabytes": "totalBackupGigabytesUsed"}
	absolute := map[string]any{}
	showUsed := s.allowed(r, policyUsedLimits, map[string]any{"project_id": project})
	for _, res := range sortedKeys(names) {
		limit, err := s.limitOf(ctx, s.db, project, res)
		if err != nil {
			return httpapi.Response{}, err
		}
		absolute[names[res]] = limit
		if showUsed {
			n, err := usageOf(ctx, s.db, project, res)
			if err != nil {
				return httpapi.Response{}, err
			}
			absolute[used[res]] = n
		}
	}
	return httpapi.OK(map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": absolute}}), nil
}
