package compute

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-hypervisors at 2.1 (admin only): each compute service's node, its id the
// integer node_id (UUIDs came with 2.53).
func (s *Service) hypervisorRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-hypervisors", Policy: "os_compute_api:os-hypervisors:list", Handler: s.listHypervisors(false)},
		{Method: "GET", Path: "/v2.1/os-hypervisors/detail", Policy: "os_compute_api:os-hypervisors:list-detail", Handler: s.listHypervisors(true)},
		{Method: "GET", Path: "/v2.1/os-hypervisors/statistics", Policy: "os_compute_api:os-hypervisors:statistics", Handler: s.hypervisorStatistics},
		{Method: "GET", Path: "/v2.1/os-hypervisors/{id}", Policy: "os_compute_api:os-hypervisors:show", Handler: s.showHypervisor},
		{Method: "GET", Path: "/v2.1/os-hypervisors/{id}/uptime", Policy: "os_compute_api:os-hypervisors:uptime", Handler: s.hypervisorUptime},
		{Method: "GET", Path: "/v2.1/os-hypervisors/{pattern}/search", Policy: "os_compute_api:os-hypervisors:search", Handler: s.searchHypervisors(false)},
		{Method: "GET", Path: "/v2.1/os-hypervisors/{pattern}/servers", Policy: "os_compute_api:os-hypervisors:servers", Handler: s.searchHypervisors(true)},
	}
}

// hypervisor is a compute service's node row with what runs on it.
type hypervisor struct {
	hostState
	NodeID         int64
	NodeUUID       string
	ServiceUUID    string
	HostIP         string
	CPUInfo        string
	DisabledReason *string
	RunningVMs     int
	Workload       int // instances with a task in progress
}

func (s *Service) hypervisors(ctx context.Context, where string, args ...any) ([]hypervisor, error) {
	hvs, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (hypervisor, error) {
		var h hypervisor
		var seen string
		err := sc.Scan(&h.Host, &h.Zone, &h.Disabled, &h.ForcedDown, &seen, &h.VCPUs, &h.MemoryMB, &h.DiskGB, &h.VCPUsUsed,
			&h.MemoryMBUsed, &h.DiskGBUsed, &h.HypervisorType, &h.HypervisorVersion, &h.Generation, &h.NodeID, &h.NodeUUID,
			&h.ServiceUUID, &h.HostIP, &h.CPUInfo, &h.DisabledReason)
		h.LastSeen = parseStamp(seen)
		return h, err
	}, `SELECT `+hostStateColumns+`, node_id, node_uuid, id, host_ip, cpu_info, disabled_reason FROM `+hostStateFrom+` `+where+` ORDER BY node_id`, args...)
	if err != nil {
		return nil, err
	}
	for i := range hvs {
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN task_state IS NULL THEN 0 ELSE 1 END), 0)
			FROM instances WHERE host = ? AND deleted = ?`, hvs[i].Host, false).Scan(&hvs[i].RunningVMs, &hvs[i].Workload); err != nil {
			return nil, err
		}
	}
	return hvs, nil
}

// hypervisorView is a node as the request's microversion shows it: cpu_info an
// object from 2.28, UUID ids from 2.53, and from 2.88 without the resource
// figures (placement has them upstream) but with uptime.
func (s *Service) hypervisorView(r *http.Request, h hypervisor, detail bool) map[string]any {
	state, status := "down", "enabled"
	if s.up(h.hostState) {
		state = "up"
	}
	if h.Disabled {
		status = "disabled"
	}
	var id, serviceID any = h.NodeID, h.NodeID
	if since(r, 53) {
		id, serviceID = h.NodeUUID, h.ServiceUUID
	}
	v := map[string]any{"id": id, "hypervisor_hostname": h.Host, "state": state, "status": status}
	if !detail {
		return v
	}
	var cpuInfo any = h.CPUInfo
	if since(r, 28) {
		var obj map[string]any
		if jsonUnmarshal(h.CPUInfo, &obj) != nil || obj == nil {
			obj = map[string]any{}
		}
		cpuInfo = obj
	}
	v["host_ip"], v["hypervisor_type"], v["hypervisor_version"] = h.HostIP, h.HypervisorType, h.HypervisorVersion
	v["service"] = map[string]any{"host": h.Host, "id": serviceID, "disabled_reason": h.DisabledReason}
	if since(r, 88) {
		// cpu_info went with the resource figures (schemas/hypervisors.py
		// _hypervisor_detail_response_v288).
		v["uptime"] = nil // only show asks the host
		return v
	}
	v["cpu_info"] = cpuInfo
	free := h.DiskGB - h.DiskGBUsed
	for k, x := range map[string]any{
		"current_workload": h.Workload, "disk_available_least": free, "free_disk_gb": free,
		"free_ram_mb": h.MemoryMB - h.MemoryMBUsed, "local_gb": h.DiskGB, "local_gb_used": h.DiskGBUsed,
		"memory_mb": h.MemoryMB, "memory_mb_used": h.MemoryMBUsed, "running_vms": h.RunningVMs,
		"vcpus": h.VCPUs, "vcpus_used": h.VCPUsUsed,
	} {
		v[k] = x
	}
	return v
}

// hypervisorServers are the servers on h, as with_servers and /servers show them.
func (s *Service) hypervisorServers(ctx context.Context, h hypervisor) ([]map[string]string, error) {
	return db.QueryAll(ctx, s.db, func(sc db.Scanner) (map[string]string, error) {
		var uuid string
		var id int64
		err := sc.Scan(&uuid, &id)
		return map[string]string{"uuid": uuid, "name": instanceName(id)}, err
	}, `SELECT uuid, id FROM instances WHERE host = ? AND deleted = ? ORDER BY id`, h.Host, false)
}

// listHypervisors is the list and the detail: from 2.33 paged (limit, marker:
// the id of the last one seen); from 2.53 filtered by hypervisor_hostname_pattern
// and with_servers, which replace /search and /servers.
func (s *Service) listHypervisors(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		q := r.URL.Query()
		hvs, err := s.hypervisors(r.Context(), "")
		if err != nil {
			return httpapi.Response{}, err
		}
		withServers := false
		if since(r, 53) {
			if pattern := q.Get("hypervisor_hostname_pattern"); pattern != "" {
				if q.Has("limit") || q.Has("marker") {
					return httpapi.Response{}, badRequest("Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not supported.")
				}
				hvs = slices.DeleteFunc(hvs, func(h hypervisor) bool { return !strings.Contains(h.Host, pattern) })
				if len(hvs) == 0 {
					return httpapi.Response{}, notFound("No hypervisor matching '%s' could be found.", pattern)
				}
			}
			if v := q.Get("with_servers"); v != "" {
				if withServers, err = boolField("with_servers", v); err != nil {
					return httpapi.Response{}, err
				}
			}
		}
		body := map[string]any{}
		if since(r, 33) {
			if hvs, err = s.hypervisorPage(r, hvs, detail, body); err != nil {
				return httpapi.Response{}, err
			}
		}
		out := make([]map[string]any, 0, len(hvs))
		for _, h := range hvs {
			v := s.hypervisorView(r, h, detail)
			if withServers {
				servers, err := s.hypervisorServers(r.Context(), h)
				if err != nil {
					return httpapi.Response{}, err
				}
				v["servers"] = servers
			}
			out = append(out, v)
		}
		body["hypervisors"] = out
		return httpapi.OK(body), nil
	}
}

// hypervisorPage applies 2.33's limit and marker.
func (s *Service) hypervisorPage(r *http.Request, hvs []hypervisor, detail bool, body map[string]any) ([]hypervisor, error) {
	q := r.URL.Query()
	if marker := q.Get("marker"); marker != "" {
		i := slices.IndexFunc(hvs, func(h hypervisor) bool { return hypervisorIDString(r, h) == marker })
		if i < 0 {
			return nil, badRequest("marker [%s] not found", marker)
		}
		hvs = hvs[i+1:]
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return nil, err
	}
	if limit >= 0 && len(hvs) >= limit {
		hvs = hvs[:limit]
		if limit > 0 {
			path := "/v2.1/os-hypervisors"
			if detail {
				path += "/detail"
			}
			next := url.Values{"limit": {strconv.Itoa(limit)}, "marker": {hypervisorIDString(r, hvs[limit-1])}}
			body["hypervisors_links"] = []httpapi.Link{{Rel: "next", Href: s.base() + path + "?" + next.Encode()}}
		}
	}
	return hvs, nil
}

// hypervisorIDString is the node's id as the request's microversion names it.
func hypervisorIDString(r *http.Request, h hypervisor) string {
	if since(r, 53) {
		return h.NodeUUID
	}
	return strconv.FormatInt(h.NodeID, 10)
}

// pathHypervisor is the node the path's id names (an integer before 2.53, its
// UUID from 2.53).
func (s *Service) pathHypervisor(r *http.Request) (hypervisor, error) {
	raw := r.PathValue("id")
	where, arg := "WHERE node_uuid = ?", any(raw)
	if !since(r, 53) {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return hypervisor{}, notFound("Hypervisor with ID '%s' could not be found.", raw)
		}
		where, arg = "WHERE node_id = ?", id
	} else if !isUUID(raw) {
		return hypervisor{}, badRequest("Invalid uuid %s", raw)
	}
	hvs, err := s.hypervisors(r.Context(), where, arg)
	if err != nil {
		return hypervisor{}, err
	}
	if len(hvs) == 0 {
		return hypervisor{}, notFound("Hypervisor with ID '%s' could not be found.", raw)
	}
	return hvs[0], nil
}

// hostUptime asks the node's agent for its host's uptime.
func (s *Service) hostUptime(r *http.Request, h hypervisor) (string, error) {
	if !s.up(h.hostState) || s.hosts == nil {
		return "", badRequest("Compute service of %s is unavailable at this time.", h.Host)
	}
	up, err := s.hosts.HostUptime(r.Context(), h.Host)
	if err != nil {
		s.log.Warn("host uptime", "host", h.Host, "error", err)
		return "", badRequest("Compute service of %s is unavailable at this time.", h.Host)
	}
	return up, nil
}

// hypervisorUptime is /os-hypervisors/{id}/uptime, which 2.88 folded into show.
func (s *Service) hypervisorUptime(r *http.Request) (httpapi.Response, error) {
	if since(r, 88) {
		return httpapi.Response{}, versionNotFound()
	}
	h, err := s.pathHypervisor(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	up, err := s.hostUptime(r, h)
	if err != nil {
		return httpapi.Response{}, err
	}
	v := s.hypervisorView(r, h, false)
	v["uptime"] = up
	return httpapi.OK(map[string]any{"hypervisor": v}), nil
}

func (s *Service) showHypervisor(r *http.Request) (httpapi.Response, error) {
	h, err := s.pathHypervisor(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	v := s.hypervisorView(r, h, true)
	if since(r, 88) {
		if up, err := s.hostUptime(r, h); err == nil {
			v["uptime"] = up
		}
	}
	if since(r, 53) {
		if ws := r.URL.Query().Get("with_servers"); ws != "" {
			with, err := boolField("with_servers", ws)
			if err != nil {
				return httpapi.Response{}, err
			}
			if with {
				if v["servers"], err = s.hypervisorServers(r.Context(), h); err != nil {
					return httpapi.Response{}, err
				}
			}
		}
	}
	return httpapi.OK(map[string]any{"hypervisor": v}), nil
}

// searchHypervisors is /{pattern}/search and /{pattern}/servers: the nodes whose
// host name contains pattern (upstream's LIKE %pattern%), with their servers.
func (s *Service) searchHypervisors(servers bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if since(r, 53) {
			return httpapi.Response{}, versionNotFound() // the list's hypervisor_hostname_pattern and with_servers instead
		}
		ctx := r.Context()
		pattern := r.PathValue("pattern")
		all, err := s.hypervisors(ctx, "")
		if err != nil {
			return httpapi.Response{}, err
		}
		out := []map[string]any{}
		for _, h := range all {
			if !strings.Contains(h.Host, pattern) {
				continue
			}
			v := s.hypervisorView(r, h, false)
			if servers {
				list, err := s.hypervisorServers(ctx, h)
				if err != nil {
					return httpapi.Response{}, err
				}
				// As upstream before 2.53: the key is left out when no server runs there.
				if len(list) > 0 {
					v["servers"] = list
				}
			}
			out = append(out, v)
		}
		if len(out) == 0 {
			return httpapi.Response{}, notFound("No hypervisor matching '%s' could be found.", pattern)
		}
		return httpapi.OK(map[string]any{"hypervisors": out}), nil
	}
}

func (s *Service) hypervisorStatistics(r *http.Request) (httpapi.Response, error) {
	if since(r, 88) {
		return httpapi.Response{}, versionNotFound()
	}
	hvs, err := s.hypervisors(r.Context(), "")
	if err != nil {
		return httpapi.Response{}, err
	}
	st := map[string]int{"count": len(hvs)}
	for _, h := range hvs {
		free := h.DiskGB - h.DiskGBUsed
		for k, v := range map[string]int{"current_workload": h.Workload, "disk_available_least": free, "free_disk_gb": free,
			"free_ram_mb": h.MemoryMB - h.MemoryMBUsed, "local_gb": h.DiskGB, "local_gb_used": h.DiskGBUsed,
			"memory_mb": h.MemoryMB, "memory_mb_used": h.MemoryMBUsed, "running_vms": h.RunningVMs,
			"vcpus": h.VCPUs, "vcpus_used": h.VCPUsUsed} {
			st[k] += v
		}
	}
	for _, k := range []string{"current_workload", "disk_available_least", "free_disk_gb", "free_ram_mb", "local_gb",
		"local_gb_used", "memory_mb", "memory_mb_used", "running_vms", "vcpus", "vcpus_used"} {
		st[k] += 0
	}
	return httpapi.OK(map[string]any{"hypervisor_statistics": st}), nil
}
