package network

import (
	"context"
	"math/big"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) availabilityRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/network-ip-availabilities", Handler: s.listIPAvailabilities},
		{Method: "GET", Path: "/v2.0/network-ip-availabilities/{id}", Handler: s.showIPAvailability},
		{Method: "GET", Path: "/v2.0/availability_zones", Handler: s.listAvailabilityZones},
	}
}

// ipAvailabilities computes network-ip-availability for the networks given (all
// when ids is empty): per subnet, the addresses of its allocation pools and the
// addresses allocated; per network, their sums.
func (s *Service) ipAvailabilities(ctx context.Context, q db.Querier, id string) ([]object, error) {
	query, args := `SELECT body FROM networks`, []any{}
	squery := `SELECT body FROM subnets ORDER BY id`
	if id != "" {
		query, args = query+` WHERE id = ?`, []any{id}
		squery = `SELECT body FROM subnets WHERE network_id = ? ORDER BY id`
	}
	nets, err := loadBodies[networkBody](ctx, q, query, args...)
	if err != nil {
		return nil, err
	}
	subs, err := loadBodies[subnetBody](ctx, q, squery, args...)
	if err != nil {
		return nil, err
	}
	type row struct {
		subnet string
		used   int64
	}
	counts, err := db.QueryAll(ctx, q, func(sc db.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.subnet, &r.used)
	}, `SELECT subnet_id, COUNT(*) FROM ip_allocations GROUP BY subnet_id`)
	if err != nil {
		return nil, err
	}
	used := map[string]int64{}
	for _, c := range counts {
		used[c.subnet] = c.used
	}
	bySubnet := map[string][]any{}
	totals := map[string]*big.Int{}
	usedTotals := map[string]int64{}
	for i := range subs {
		sb := &subs[i]
		total := poolSize(sb.AllocationPools)
		bySubnet[sb.NetworkID] = append(bySubnet[sb.NetworkID], map[string]any{"subnet_id": sb.ID, "subnet_name": sb.Name,
			"cidr": sb.CIDR, "ip_version": sb.IPVersion, "total_ips": total, "used_ips": used[sb.ID]})
		if totals[sb.NetworkID] == nil {
			totals[sb.NetworkID] = new(big.Int)
		}
		totals[sb.NetworkID].Add(totals[sb.NetworkID], total)
		usedTotals[sb.NetworkID] += used[sb.ID]
	}
	out := make([]object, 0, len(nets))
	for _, n := range nets {
		list := bySubnet[n.ID]
		if list == nil {
			list = []any{}
		}
		total := totals[n.ID]
		if total == nil {
			total = new(big.Int)
		}
		out = append(out, object{"network_id": n.ID, "network_name": n.Name, "project_id": n.ProjectID,
			"tenant_id": n.ProjectID, "total_ips": total, "used_ips": usedTotals[n.ID], "subnet_ip_availability": list})
	}
	return out, nil
}

// listIPAvailabilities is admin's (get_network_ip_availability); others get an
// empty list, as upstream filters what policy hides.
func (s *Service) listIPAvailabilities(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	var out []object
	if s.allowed(c, "get_network_ip_availability", nil) {
		var err error
		if out, err = s.ipAvailabilities(r.Context(), s.db, ""); err != nil {
			return httpapi.Response{}, err
		}
	}
	return listResponse(r, "network_ip_availabilities", out)
}

func (s *Service) showIPAvailability(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	if !s.allowed(c, "get_network_ip_availability", nil) {
		return httpapi.Response{}, notFound("NetworkNotFound", "Network", id)
	}
	out, err := s.ipAvailabilities(r.Context(), s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(out) == 0 {
		return httpapi.Response{}, notFound("NetworkNotFound", "Network", id)
	}
	return showResponse(r, "network_ip_availability", out[0]), nil
}

// listAvailabilityZones shows the one zone, for networks (DHCP) and routers (L3),
// to those get_availability_zone lets see it (a project's readers).
func (s *Service) listAvailabilityZones(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	var out []object
	for _, res := range []string{"network", "router"} {
		zone := object{"name": "nova", "resource": res, "state": "available"}
		if s.allowed(c, "get_availability_zone", zone) {
			out = append(out, zone)
		}
	}
	return listResponse(r, "availability_zones", out)
}
