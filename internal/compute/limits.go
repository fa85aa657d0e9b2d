package compute

import (
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) limitRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/limits", Policy: "os_compute_api:limits", Handler: s.limits},
	}
}

// absoluteLimits maps the 2.1 absolute limit names to their quota resources.
var absoluteLimits = map[string]string{
	"maxTotalInstances":       "instances",
	"maxTotalCores":           "cores",
	"maxTotalRAMSize":         "ram",
	"maxTotalKeypairs":        "key_pairs",
	"maxServerMeta":           "metadata_items",
	"maxImageMeta":            "metadata_items",
	"maxPersonality":          "injected_files",
	"maxPersonalitySize":      "injected_file_content_bytes",
	"maxServerGroups":         "server_groups",
	"maxServerGroupMembers":   "server_group_members",
	"maxTotalFloatingIps":     "floating_ips",
	"maxSecurityGroups":       "security_groups",
	"maxSecurityGroupRules":   "security_group_rules",
	"totalInstancesUsed":      "instances",
	"totalCoresUsed":          "cores",
	"totalRAMUsed":            "ram",
	"totalServerGroupsUsed":   "server_groups",
	"totalFloatingIpsUsed":    "floating_ips",
	"totalSecurityGroupsUsed": "security_groups",
}

// limits is GET /limits: the caller's project's limits and usage (an admin may
// name another project with tenant_id); Nova has no rate limits any more, so rate is [].
func (s *Service) limits(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	project := creds.ProjectID
	if q := r.URL.Query(); q.Has("tenant_id") {
		// As upstream: naming a project needs the other_project rule (403).
		project = q.Get("tenant_id")
		if err := s.enforce(r, "os_compute_api:limits:other_project", map[string]any{"target.project_id": project}); err != nil {
			return httpapi.Response{}, err
		}
	}
	limits, err := s.quotaLimits(ctx, s.db, project)
	if err != nil {
		return httpapi.Response{}, err
	}
	used, err := s.quotaUsage(ctx, s.db, project, creds.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	abs := map[string]int{}
	for name, res := range absoluteLimits {
		// 2.36 dropped the network proxy's limits, 2.39 maxImageMeta, 2.57 personality's.
		if (since(r, 36) && slices.Contains(networkQuotaResources, res)) || (since(r, 39) && name == "maxImageMeta") ||
			(since(r, 57) && slices.Contains(injectedQuotaResources, res)) {
			continue
		}
		if name[:5] == "total" {
			abs[name] = used[res]
		} else {
			abs[name] = limits[res]
		}
	}
	return httpapi.OK(map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": abs}}), nil
}
