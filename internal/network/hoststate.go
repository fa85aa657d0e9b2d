package network

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// HostRoles say which agents a host runs besides the L2 agent: the network node
// (all-in-one: the only host) serves DHCP and routers.
type HostRoles struct {
	DHCP bool
	L3   bool
}

// HostState is the desired data plane of one host, read from the database: the
// networks its bound ports (and, for a network node, the DHCP and router ports)
// need, with their subnets, security groups and VXLAN peers. Agents converge the host
// to it; it is computed whole every time, so a missed change is never lost.
func (s *Service) HostState(ctx context.Context, host dataplane.Host, roles HostRoles) (dataplane.State, error) {
	st := dataplane.State{Host: host, SecurityGroups: map[string]dataplane.SecurityGroup{}}
	nets, err := s.networksByID(ctx, s.db)
	if err != nil {
		return st, err
	}
	subs, err := loadBodies[subnetBody](ctx, s.db, `SELECT body FROM subnets ORDER BY id`)
	if err != nil {
		return st, err
	}
	ports, err := loadBodies[portBody](ctx, s.db, `SELECT body FROM ports ORDER BY id`)
	if err != nil {
		return st, err
	}
	subnetsOf := map[string][]dataplane.Subnet{}
	dhcpEnabled := map[string]bool{}
	for i := range subs {
		sub := desiredSubnet(&subs[i])
		subnetsOf[subs[i].NetworkID] = append(subnetsOf[subs[i].NetworkID], sub)
		if sub.EnableDHCP {
			dhcpEnabled[subs[i].NetworkID] = true
		}
	}
	vteps, err := s.vteps(ctx)
	if err != nil {
		return st, err
	}
	here := func(p *portBody) bool {
		switch {
		case p.wiredOn(host.Name): // its active binding, or a live migration's destination
			return true
		case p.DeviceOwner == ownerDHCP:
			return roles.DHCP
		case p.DeviceOwner == ownerRouterInterface || p.DeviceOwner == ownerRouterGateway:
			return roles.L3
		}
		return false
	}
	byNet := map[string]*dataplane.Network{}
	var order []string
	network := func(id string) *dataplane.Network {
		if dn, ok := byNet[id]; ok {
			return dn
		}
		n := nets[id]
		dn := &dataplane.Network{ID: id, Type: n.NetworkType, MTU: n.MTU, AdminStateUp: n.AdminStateUp,
			Subnets: subnetsOf[id], DHCP: roles.DHCP && dhcpEnabled[id]}
		if n.PhysicalNetwork != nil {
			dn.PhysicalNetwork = *n.PhysicalNetwork
		}
		if n.SegmentationID != nil {
			dn.SegmentationID = *n.SegmentationID
		}
		byNet[id] = dn
		order = append(order, id)
		return dn
	}
	for i := range ports {
		p := &ports[i]
		if nets[p.NetworkID] == nil {
			continue
		}
		if here(p) {
			dn := network(p.NetworkID)
			dn.Ports = append(dn.Ports, desiredPort(p, s.opts.DNSDomain))
		}
	}
	// VXLAN peers: the ports of these networks bound to other hosts, with their VTEPs.
	for i := range ports {
		p := &ports[i]
		dn := byNet[p.NetworkID]
		if dn == nil || dn.Type != dataplane.TypeVXLAN || here(p) {
			continue
		}
		remote := p.BindingHostID
		if remote == "" && (p.DeviceOwner == ownerDHCP || strings.HasPrefix(p.DeviceOwner, "network:router")) {
			remote = s.networkNode(ctx)
		}
		vtep, ok := vteps[remote]
		if !ok || remote == host.Name {
			continue
		}
		peer := dataplane.Peer{MAC: p.MACAddress, VTEP: vtep}
		for _, f := range p.FixedIPs {
			if a, err := netip.ParseAddr(f.IPAddress); err == nil {
				peer.IPs = append(peer.IPs, a)
			}
		}
		dn.Peers = append(dn.Peers, peer)
	}
	// The DHCP server knows every port of its network with an address, on any host.
	for i := range ports {
		p := &ports[i]
		if dn := byNet[p.NetworkID]; dn != nil && dn.DHCP && len(p.FixedIPs) > 0 && p.DeviceOwner != ownerFloatingIP {
			dn.DHCPHosts = append(dn.DHCPHosts, desiredPort(p, s.opts.DNSDomain))
		}
	}
	sort.Strings(order)
	for _, id := range order {
		st.Networks = append(st.Networks, *byNet[id])
	}
	if roles.L3 {
		if st.Routers, err = s.desiredRouters(ctx, s.db); err != nil {
			return st, err
		}
	}
	if err := s.desiredSecurityGroups(ctx, &st, ports); err != nil {
		return st, err
	}
	return st, nil
}

func desiredSubnet(sb *subnetBody) dataplane.Subnet {
	sub := dataplane.Subnet{ID: sb.ID, IPVersion: sb.IPVersion, CIDR: sb.prefix(), GatewayIP: sb.gateway(), EnableDHCP: sb.EnableDHCP}
	if sb.IPv6AddressMode != nil {
		sub.IPv6AddressMode = *sb.IPv6AddressMode
	}
	if sb.IPv6RAMode != nil {
		sub.IPv6RAMode = *sb.IPv6RAMode
	}
	for _, d := range sb.DNSNameservers {
		if a, err := netip.ParseAddr(d); err == nil {
			sub.DNSNameservers = append(sub.DNSNameservers, a)
		}
	}
	for _, hr := range sb.HostRoutes {
		dst, err1 := netip.ParsePrefix(hr.Destination)
		hop, err2 := netip.ParseAddr(hr.NextHop)
		if err1 == nil && err2 == nil {
			sub.HostRoutes = append(sub.HostRoutes, dataplane.Route{Destination: dst, NextHop: hop})
		}
	}
	return sub
}

func desiredPort(p *portBody, domain string) dataplane.Port {
	dp := dataplane.Port{ID: p.ID, MAC: p.MACAddress, DeviceOwner: p.DeviceOwner, DeviceID: p.DeviceID,
		AdminStateUp: p.AdminStateUp, PortSecurity: p.PortSecurityEnabled, SecurityGroups: p.SecurityGroups}
	for _, f := range p.FixedIPs {
		if a, err := netip.ParseAddr(f.IPAddress); err == nil {
			dp.FixedIPs = append(dp.FixedIPs, dataplane.FixedIP{SubnetID: f.SubnetID, IP: a})
		}
	}
	dp.Hostname = p.DNSName
	if dp.Hostname == "" && len(p.FixedIPs) > 0 {
		dp.Hostname = "host-" + strings.NewReplacer(".", "-", ":", "-").Replace(p.FixedIPs[0].IPAddress)
	}
	for _, pair := range p.AllowedAddressPairs {
		pfx, err := netip.ParsePrefix(pair.IPAddress)
		if err != nil {
			a, aerr := netip.ParseAddr(pair.IPAddress)
			if aerr != nil {
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		dp.AllowedAddressPairs = append(dp.AllowedAddressPairs, dataplane.AddressPair{MAC: pair.MACAddress, IP: pfx})
	}
	_ = domain
	return dp
}

// desiredSecurityGroups adds the groups of the state's ports, with their rules and
// the addresses of all their member ports (for remote-group rules).
func (s *Service) desiredSecurityGroups(ctx context.Context, st *dataplane.State, all []portBody) error {
	wanted := map[string]bool{}
	for _, n := range st.Networks {
		for _, p := range n.Ports {
			for _, g := range p.SecurityGroups {
				wanted[g] = true
			}
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	rules, err := loadBodies[ruleBody](ctx, s.db, `SELECT body FROM security_group_rules ORDER BY id`)
	if err != nil {
		return err
	}
	// Remote groups of wanted groups' rules need their members too.
	for _, r := range rules {
		if wanted[r.SecurityGroupID] && r.RemoteGroupID != nil {
			wanted[*r.RemoteGroupID] = true
		}
	}
	for g := range wanted {
		st.SecurityGroups[g] = dataplane.SecurityGroup{ID: g}
	}
	groups, err := loadBodies[addressGroupBody](ctx, s.db, `SELECT body FROM address_groups`)
	if err != nil {
		return err
	}
	addressGroups := map[string][]string{}
	for _, g := range groups {
		addressGroups[g.ID] = g.Addresses
	}
	for _, r := range rules {
		sg, ok := st.SecurityGroups[r.SecurityGroupID]
		if !ok {
			continue
		}
		sg.Rules = append(sg.Rules, desiredRules(&r, addressGroups)...)
		st.SecurityGroups[r.SecurityGroupID] = sg
	}
	for i := range all {
		p := &all[i]
		for _, g := range p.SecurityGroups {
			sg, ok := st.SecurityGroups[g]
			if !ok {
				continue
			}
			for _, f := range p.FixedIPs {
				if a, err := netip.ParseAddr(f.IPAddress); err == nil {
					sg.MemberIPs = append(sg.MemberIPs, netip.PrefixFrom(a, a.BitLen()))
				}
			}
			st.SecurityGroups[g] = sg
		}
	}
	return nil
}

// desiredRules are the firewall's rules for one API rule. A rule whose remote is
// an address group allows each of the group's addresses of its ethertype, as
// upstream's firewall drivers expand it; a group without any allows nothing.
func desiredRules(r *ruleBody, addressGroups map[string][]string) []dataplane.SecurityGroupRule {
	dr := desiredRule(r)
	if r.RemoteAddrGroup == nil {
		return []dataplane.SecurityGroupRule{dr}
	}
	var out []dataplane.SecurityGroupRule
	for _, a := range addressGroups[*r.RemoteAddrGroup] {
		p, err := netip.ParsePrefix(a)
		if err != nil || p.Addr().Is4() != (r.EtherType == "IPv4") {
			continue
		}
		each := dr
		each.RemoteIPPrefix = p.Masked()
		out = append(out, each)
	}
	return out
}

func desiredRule(r *ruleBody) dataplane.SecurityGroupRule {
	dr := dataplane.SecurityGroupRule{ID: r.ID, Direction: r.Direction, EtherType: r.EtherType}
	if r.Protocol != nil {
		dr.Protocol = *r.Protocol
	}
	if r.PortRangeMin != nil {
		dr.PortRangeMin = *r.PortRangeMin
	}
	if r.PortRangeMax != nil {
		dr.PortRangeMax = *r.PortRangeMax
	}
	if r.RemoteIPPrefix != nil {
		dr.RemoteIPPrefix, _ = netip.ParsePrefix(*r.RemoteIPPrefix)
	}
	if r.RemoteGroupID != nil {
		dr.RemoteGroupID = *r.RemoteGroupID
	}
	return dr
}

// vteps are the tunnel endpoints the L2 agents reported (configurations.tunneling_ip).
func (s *Service) vteps(ctx context.Context) (map[string]netip.Addr, error) {
	type row struct{ host, body string }
	rows, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.host, &r.body)
	}, `SELECT host, body FROM agents WHERE agent_type = ?`, hostStateL2Agent)
	if err != nil {
		return nil, err
	}
	out := map[string]netip.Addr{}
	for _, r := range rows {
		var body struct {
			Configurations struct {
				TunnelingIP string `json:"tunneling_ip"`
			} `json:"configurations"`
		}
		if jsonRoundTripString(r.body, &body) == nil {
			if a, err := netip.ParseAddr(body.Configurations.TunnelingIP); err == nil {
				out[r.host] = a
			}
		}
	}
	return out, nil
}

// networkNode is the host whose agents serve DHCP and routers (the L3 agent's host).
func (s *Service) networkNode(ctx context.Context) string {
	var host string
	_ = s.db.QueryRowContext(ctx, `SELECT host FROM agents WHERE agent_type = ? ORDER BY host LIMIT 1`, hostStateDHCPAgent).Scan(&host)
	return host
}

// The agent types whose reports HostState reads (upstream's agent_type values).
const (
	hostStateL2Agent   = "Linux bridge agent"
	hostStateDHCPAgent = "DHCP agent"
)
