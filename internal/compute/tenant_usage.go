package compute

import (
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-simple-tenant-usage at 2.1: instance hours (and their vCPU, RAM and disk
// hours) of the instances running in [start, end], from launch to termination.
func (s *Service) tenantUsageRoutes() []httpapi.Route {
	tenant := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.project_id": r.PathValue("tenant")}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-simple-tenant-usage", Policy: "os_compute_api:os-simple-tenant-usage:list", Handler: s.listTenantUsage},
		{Method: "GET", Path: "/v2.1/os-simple-tenant-usage/{tenant}", Policy: "os_compute_api:os-simple-tenant-usage:show", Target: tenant, Handler: s.showTenantUsage},
	}
}

// usageTime is upstream's _parse_datetime: absent is now.
func usageTime(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999",
		"2006-01-02T15:04:05Z", "2006-01-02T15:04:05.999999Z"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("Datetime is in invalid format")
}

func usageWindow(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	q := r.URL.Query()
	start, err := usageTime(q.Get("start"), now)
	if err != nil {
		return start, start, err
	}
	end, err := usageTime(q.Get("end"), now)
	if err != nil {
		return start, end, err
	}
	if start.After(end) {
		return start, end, badRequest("Invalid start time. The start time cannot occur after the end time.")
	}
	return start, end, nil
}

// usageStamp is Python's isoformat of a naive UTC time.
func usageStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

// tenantUsages sums the usage per project of the instances active in the
// window; project "" means every project.
//
// From 2.40 the instances are paged (limit, marker: an instance uuid), as
// upstream pages them: next is the marker of the next page when this one is full.
func (s *Service) tenantUsages(r *http.Request, project string, detailed bool) (usages []map[string]any, next string, err error) {
	now := s.now().UTC()
	start, end, err := usageWindow(r, now)
	if err != nil {
		return nil, "", err
	}
	limit := -1
	var marker string
	if since(r, 40) {
		if limit, err = pageLimit(r.URL.Query().Get("limit")); err != nil {
			return nil, "", err
		}
		marker = r.URL.Query().Get("marker")
	}
	// Upstream's instance_get_active_by_window_joined: launched before the
	// end, not terminated before the start.
	query, args := `SELECT `+instanceColumns+` FROM instances WHERE launched_at IS NOT NULL`, []any{}
	if project != "" {
		query, args = query+` AND project_id = ?`, append(args, project)
	}
	rows, err := db.QueryAll(r.Context(), s.db, scanInstance, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, "", err
	}
	if marker != "" {
		i := slices.IndexFunc(rows, func(in *instance) bool { return in.UUID == marker })
		if i < 0 {
			return nil, "", badRequest("Marker %s could not be found.", marker)
		}
		rows = rows[i+1:]
	}
	byProject := map[string]map[string]any{}
	var order []string
	counted := 0
	for _, in := range rows {
		if limit >= 0 && counted == limit {
			break
		}
		launched := parseStamp(in.LaunchedAt)
		var terminated time.Time
		if in.TerminatedAt != "" {
			terminated = parseStamp(in.TerminatedAt)
			if terminated.Before(start) {
				continue
			}
		}
		if !launched.Before(end) {
			continue
		}
		from, to := launched, end
		if start.After(from) {
			from = start
		}
		if !terminated.IsZero() && terminated.Before(to) {
			to = terminated
		}
		hours := to.Sub(from).Hours()
		counted++
		if counted == limit {
			next = in.UUID
		}
		f := in.Flavor
		t := byProject[in.ProjectID]
		if t == nil {
			t = map[string]any{"tenant_id": in.ProjectID, "start": usageStamp(start), "stop": usageStamp(end), "total_hours": 0.0,
				"total_local_gb_usage": 0.0, "total_memory_mb_usage": 0.0, "total_vcpus_usage": 0.0}
			if detailed {
				t["server_usages"] = []map[string]any{}
			}
			byProject[in.ProjectID] = t
			order = append(order, in.ProjectID)
		}
		t["total_hours"] = t["total_hours"].(float64) + hours
		t["total_local_gb_usage"] = t["total_local_gb_usage"].(float64) + float64(f.Disk+f.Ephemeral)*hours
		t["total_memory_mb_usage"] = t["total_memory_mb_usage"].(float64) + float64(f.RAM)*hours
		t["total_vcpus_usage"] = t["total_vcpus_usage"].(float64) + float64(f.VCPUs)*hours
		if detailed {
			state, ended := in.VMState, any(nil)
			uptime := now.Sub(launched)
			if in.Deleted {
				state, ended = "terminated", usageStamp(terminated)
				uptime = terminated.Sub(launched)
			}
			t["server_usages"] = append(t["server_usages"].([]map[string]any), map[string]any{
				"instance_id": in.UUID, "name": in.Name, "tenant_id": in.ProjectID, "hours": hours, "flavor": f.Name,
				"vcpus": f.VCPUs, "memory_mb": f.RAM, "local_gb": f.Disk + f.Ephemeral, "state": state,
				"started_at": usageStamp(launched), "ended_at": ended, "uptime": int(uptime.Seconds())})
		}
	}
	sort.Strings(order)
	out := make([]map[string]any, 0, len(order))
	for _, p := range order {
		out = append(out, byProject[p])
	}
	return out, next, nil
}

// usageLinks is the next link of a full page of usages.
func (s *Service) usageLinks(r *http.Request, path, next string) []httpapi.Link {
	q := r.URL.Query()
	q.Set("marker", next)
	return []httpapi.Link{{Rel: "next", Href: s.base() + path + "?" + q.Encode()}}
}

func (s *Service) listTenantUsage(r *http.Request) (httpapi.Response, error) {
	detailed, err := boolField("detailed", r.URL.Query().Get("detailed"))
	if err != nil {
		return httpapi.Response{}, err
	}
	out, next, err := s.tenantUsages(r, "", detailed)
	if err != nil {
		return httpapi.Response{}, err
	}
	body := map[string]any{"tenant_usages": out}
	if next != "" {
		body["tenant_usages_links"] = s.usageLinks(r, "/v2.1/os-simple-tenant-usage", next)
	}
	return httpapi.OK(body), nil
}

// showTenantUsage is one project's usage with its servers; a project with none
// in the window is {}, as upstream.
func (s *Service) showTenantUsage(r *http.Request) (httpapi.Response, error) {
	out, next, err := s.tenantUsages(r, r.PathValue("tenant"), true)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(out) == 0 {
		return httpapi.OK(map[string]any{"tenant_usage": map[string]any{}}), nil
	}
	body := map[string]any{"tenant_usage": out[0]}
	if next != "" {
		body["tenant_usage_links"] = s.usageLinks(r, "/v2.1/os-simple-tenant-usage/"+r.PathValue("tenant"), next)
	}
	return httpapi.OK(body), nil
}
