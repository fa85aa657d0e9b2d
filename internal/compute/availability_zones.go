package compute

import (
	"net/http"
	"sort"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-availability-zone: the zones of the compute services (their aggregates'
// or their own). A zone is available while one of its services is enabled,
// as upstream.
func (s *Service) availabilityZoneRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-availability-zone", Policy: "os_compute_api:os-availability-zone:list", Handler: s.listZones(false)},
		{Method: "GET", Path: "/v2.1/os-availability-zone/detail", Policy: "os_compute_api:os-availability-zone:detail", Handler: s.listZones(true)},
	}
}

func (s *Service) listZones(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		hosts, err := s.hostStates(r.Context())
		if err != nil {
			return httpapi.Response{}, err
		}
		type zone struct {
			available bool
			hosts     map[string]any
		}
		zones := map[string]*zone{}
		for _, h := range hosts {
			name := h.zone()
			z := zones[name]
			if z == nil {
				z = &zone{hosts: map[string]any{}}
				zones[name] = z
			}
			z.available = z.available || !h.Disabled
			z.hosts[h.Host] = map[string]any{binaryCompute: map[string]any{
				"available": s.up(h), "active": !h.Disabled, "updated_at": nullTime(stamp(h.LastSeen))}}
		}
		// The detail also shows the internal zone of the control services, as
		// upstream's does.
		if detail {
			control, err := db.QueryAll(r.Context(), s.db, scanService, `SELECT `+controlServiceColumns+` FROM control_services ORDER BY number`)
			if err != nil {
				return httpapi.Response{}, err
			}
			for _, v := range control {
				z := zones[v.Zone]
				if z == nil {
					z = &zone{hosts: map[string]any{}}
					zones[v.Zone] = z
				}
				z.available = z.available || !v.Disabled
				services, _ := z.hosts[v.Host].(map[string]any)
				if services == nil {
					services = map[string]any{}
					z.hosts[v.Host] = services
				}
				up := s.up(hostState{ForcedDown: v.ForcedDown, LastSeen: parseStamp(v.LastSeen)})
				services[v.Binary] = map[string]any{"available": up, "active": !v.Disabled, "updated_at": nullTime(v.LastSeen)}
			}
		}
		names := make([]string, 0, len(zones))
		for n := range zones {
			names = append(names, n)
		}
		// Available zones first, then the others, each by name, as upstream
		// lists them.
		sort.Slice(names, func(i, j int) bool {
			a, b := zones[names[i]], zones[names[j]]
			if a.available != b.available {
				return a.available
			}
			return names[i] < names[j]
		})
		out := []map[string]any{}
		for _, n := range names {
			z := zones[n]
			v := map[string]any{"zoneName": n, "zoneState": map[string]bool{"available": z.available}, "hosts": nil}
			if detail {
				v["hosts"] = z.hosts
			}
			out = append(out, v)
		}
		return httpapi.OK(map[string]any{"availabilityZoneInfo": out}), nil
	}
}
