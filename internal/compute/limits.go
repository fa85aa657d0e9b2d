package compute

import (
	"net/http"

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

// limits is GET /limits: the caller's project (an admin may name another with
// tenant_id) limits and usage; Nova has no rate limits any more, so rate is [].
func (s *Service) limits(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	project := creds.ProjectID
	if t := r.URL.Query().Get("tenant_id"); t != "" && t != project {
		// As upstream: without the other_project rule the caller's own
		// limits are shown rather than an error.
		if s.policy.Allowed("os_compute_api:limits:other_project", map[string]any{"target.project_id": t}, creds.PolicyCredentials()) {
			project = t
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
		if name[:5] == "total" {
			abs[name] = used[res]
		} else {
			abs[name] = limits[res]
		}
	}
	return httpapi.OK(map[string]any{"limits": map[string]any{"rate": []any{}, "absolute": abs}}), nil
}
