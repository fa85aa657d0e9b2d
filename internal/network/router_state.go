package network

import (
	"context"
	"net/netip"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// desiredRouters is what an L3 agent must build for every router (the network
// node hosts them all): its interface and gateway ports with their subnets, SNAT,
// extra routes and the floating IPs associated through it. HostState adds it to a
// network node's state.
func (s *Service) desiredRouters(ctx context.Context, q db.Querier) ([]dataplane.Router, error) {
	routers, err := loadBodies[routerBody](ctx, q, `SELECT body FROM routers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	subs, err := loadBodies[subnetBody](ctx, q, `SELECT body FROM subnets`)
	if err != nil {
		return nil, err
	}
	subnets := make(map[string]dataplane.Subnet, len(subs))
	for i := range subs {
		subnets[subs[i].ID] = desiredSubnet(&subs[i])
	}
	type link struct{ router, kind string }
	links := map[string]link{}
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) ([3]string, error) {
		var r [3]string
		return r, sc.Scan(&r[0], &r[1], &r[2])
	}, `SELECT router_id, port_id, port_type FROM router_ports`)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		links[r[1]] = link{router: r[0], kind: r[2]}
	}
	ports, err := loadBodies[portBody](ctx, q, `SELECT p.body FROM ports p JOIN router_ports rp ON rp.port_id = p.id ORDER BY p.id`)
	if err != nil {
		return nil, err
	}
	fips, err := loadBodies[floatingIPBody](ctx, q, `SELECT body FROM floatingips WHERE port_id IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out := make([]dataplane.Router, 0, len(routers))
	index := map[string]int{}
	for _, rt := range routers {
		dr := dataplane.Router{ID: rt.ID, AdminStateUp: rt.AdminStateUp}
		if rt.ExternalGatewayInfo != nil {
			dr.EnableSNAT = rt.ExternalGatewayInfo.EnableSNAT
		}
		for _, hr := range rt.Routes {
			dst, err1 := netip.ParsePrefix(hr.Destination)
			hop, err2 := netip.ParseAddr(hr.NextHop)
			if err1 == nil && err2 == nil {
				dr.Routes = append(dr.Routes, dataplane.Route{Destination: dst, NextHop: hop})
			}
		}
		index[rt.ID] = len(out)
		out = append(out, dr)
	}
	for i := range ports {
		p := &ports[i]
		l, ok := links[p.ID]
		at, known := index[l.router]
		if !ok || !known {
			continue
		}
		rp := dataplane.RouterPort{Port: desiredPort(p, s.opts.DNSDomain), NetworkID: p.NetworkID}
		for _, id := range portSubnets(p) {
			if sub, ok := subnets[id]; ok {
				rp.Subnets = append(rp.Subnets, sub)
			}
		}
		switch l.kind {
		case ownerRouterGateway:
			out[at].Gateway = &rp
		case ownerRouterInterface:
			out[at].Interfaces = append(out[at].Interfaces, rp)
		}
	}
	for _, f := range fips {
		if f.RouterID == nil || f.FixedIPAddress == nil {
			continue
		}
		at, ok := index[*f.RouterID]
		floating, err1 := netip.ParseAddr(f.FloatingIPAddress)
		fixed, err2 := netip.ParseAddr(*f.FixedIPAddress)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		out[at].FloatingIPs = append(out[at].FloatingIPs, dataplane.FloatingIP{ID: f.ID, FloatingIP: floating, FixedIP: fixed})
	}
	return out, nil
}
