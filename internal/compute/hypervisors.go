package compute

import (
	"context"
	"net/http"
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
		{Method: "GET", Path: "/v2.1/os-hypervisors/{pattern}/search", Policy: "os_compute_api:os-hypervisors:search", Handler: s.searchHypervisors(false)},
		{Method: "GET", Path: "/v2.1/os-hypervisors/{pattern}/servers", Policy: "os_compute_api:os-hypervisors:servers", Handler: s.searchHypervisors(true)},
	}
}

// hypervisor is a compute service's node row with what runs on it.
type hypervisor struct {
	hostState
	NodeID         int64
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
			&h.MemoryMBUsed, &h.DiskGBUsed, &h.HypervisorType, &h.HypervisorVersion, &h.NodeID, &h.HostIP, &h.CPUInfo, &h.DisabledReason)
		h.LastSeen = parseStamp(seen)
		return h, err
	}, `SELECT `+hostStateColumns+`, node_id, host_ip, cpu_info, disabled_reason FROM compute_services `+where+` ORDER BY node_id`, args...)
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

func (s *Service) hypervisorView(h hypervisor, detail bool) map[string]any {
	state, status := "down", "enabled"
	if s.up(h.hostState) {
		state = "up"
	}
	if h.Disabled {
		status = "disabled"
	}
	v := map[string]any{"id": h.NodeID, "hypervisor_hostname": h.Host, "state": state, "status": status}
	if !detail {
		return v
	}
	free := h.DiskGB - h.DiskGBUsed
	for k, x := range map[string]any{
		"cpu_info": h.CPUInfo, "current_workload": h.Workload, "disk_available_least": free, "free_disk_gb": free,
		"free_ram_mb": h.MemoryMB - h.MemoryMBUsed, "host_ip": h.HostIP, "hypervisor_type": h.HypervisorType,
		"hypervisor_version": h.HypervisorVersion, "local_gb": h.DiskGB, "local_gb_used": h.DiskGBUsed,
		"memory_mb": h.MemoryMB, "memory_mb_used": h.MemoryMBUsed, "running_vms": h.RunningVMs,
		"vcpus": h.VCPUs, "vcpus_used": h.VCPUsUsed,
		"service": map[string]any{"host": h.Host, "id": h.NodeID, "disabled_reason": h.DisabledReason},
	} {
		v[k] = x
	}
	return v
}

func (s *Service) listHypervisors(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		hvs, err := s.hypervisors(r.Context(), "")
		if err != nil {
			return httpapi.Response{}, err
		}
		out := make([]map[string]any, 0, len(hvs))
		for _, h := range hvs {
			out = append(out, s.hypervisorView(h, detail))
		}
		return httpapi.OK(map[string]any{"hypervisors": out}), nil
	}
}

func (s *Service) showHypervisor(r *http.Request) (httpapi.Response, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return httpapi.Response{}, notFound("Hypervisor with ID '%s' could not be found.", raw)
	}
	hvs, err := s.hypervisors(r.Context(), "WHERE node_id = ?", id)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(hvs) == 0 {
		return httpapi.Response{}, notFound("Hypervisor with ID '%s' could not be found.", raw)
	}
	return httpapi.OK(map[string]any{"hypervisor": s.hypervisorView(hvs[0], true)}), nil
}

// searchHypervisors is /{pattern}/search and /{pattern}/servers: the nodes whose
// host name contains pattern (upstream's LIKE %pattern%), with their servers.
func (s *Service) searchHypervisors(servers bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
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
			v := s.hypervisorView(h, false)
			if servers {
				list, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (map[string]string, error) {
					var uuid string
					var id int64
					err := sc.Scan(&uuid, &id)
					return map[string]string{"uuid": uuid, "name": instanceName(id)}, err
				}, `SELECT uuid, id FROM instances WHERE host = ? AND deleted = ? ORDER BY id`, h.Host, false)
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
