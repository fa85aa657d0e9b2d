package network

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"net/http"
	"net/netip"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// pool is an allocation pool, as the API shows it.
type pool struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// defaultPools are a subnet's addresses minus the network address, the gateway and,
// for IPv4, the broadcast address, as upstream computes them.
func defaultPools(prefix netip.Prefix, gateway netip.Addr) []pool {
	first := prefix.Masked().Addr()
	last := lastAddr(prefix)
	if prefix.Addr().Is4() {
		if prefix.Bits() >= 31 {
			return []pool{{first.String(), last.String()}}
		}
		last = last.Prev()
	}
	first = first.Next()
	if !first.IsValid() || !last.IsValid() || last.Less(first) {
		return []pool{}
	}
	if !gateway.IsValid() || gateway.Less(first) || last.Less(gateway) {
		return []pool{{first.String(), last.String()}}
	}
	var out []pool
	if first.Less(gateway) {
		out = append(out, pool{first.String(), gateway.Prev().String()})
	}
	if gateway.Less(last) {
		out = append(out, pool{gateway.Next().String(), last.String()})
	}
	if out == nil {
		out = []pool{}
	}
	return out
}

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	hostBits := len(b)*8 - p.Bits()
	for i := len(b) - 1; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// poolRanges parses pools; they were validated when the subnet was stored.
func poolRanges(pools []pool) [][2]netip.Addr {
	var out [][2]netip.Addr
	for _, p := range pools {
		s, err1 := netip.ParseAddr(p.Start)
		e, err2 := netip.ParseAddr(p.End)
		if err1 == nil && err2 == nil {
			out = append(out, [2]netip.Addr{s, e})
		}
	}
	return out
}

// ipRequest is what a port asks of IPAM: the fixed_ips of its request, or, when it
// gives none, the network's defaults.
type ipRequest struct {
	given bool
	fixed []fixedIP
	// ipv4Only limits the defaults to an IPv4 address (a floating IP's port).
	ipv4Only bool
}

// requestedIPs reads the fixed_ips attribute of a port request.
func requestedIPs(attrs map[string]any) (ipRequest, error) {
	v, given := attrs["fixed_ips"]
	req := ipRequest{given: given}
	list, _ := v.([]any) // validFixedIPs checked the shape
	for _, e := range list {
		m, _ := e.(map[string]any)
		subnet, _ := m["subnet_id"].(string)
		ip, _ := m["ip_address"].(string)
		// Other keys are ignored, as upstream's IPAM reads only these two.
		if subnet == "" && ip == "" {
			return ipRequest{}, invalidInput("IP allocation requires subnet_id or ip_address")
		}
		req.fixed = append(req.fixed, fixedIP{SubnetID: subnet, IPAddress: ip})
	}
	return req, nil
}

// candidateSubnets are the subnets a port of owner may have addresses on, as
// upstream's find_candidate_subnets: those without service types, those whose
// service types name the owner, and for a DHCP port any with DHCP enabled; the
// ones with service types first (upstream gives them priority), each kind in the
// order given.
func candidateSubnets(subnets []subnetBody, owner string) []*subnetBody {
	var typed, open []*subnetBody
	for i := range subnets {
		sb := &subnets[i]
		switch {
		case len(sb.ServiceTypes) == 0:
			open = append(open, sb)
		case slices.Contains(sb.ServiceTypes, owner) || owner == ownerDHCP && sb.EnableDHCP:
			typed = append(typed, sb)
		}
	}
	return append(typed, open...)
}

// assignIPs gives port p its addresses on network n, as upstream's IPAM: those
// asked for, or by default one address of each IP version (IPv4, and IPv6 from
// the pools), each from the first of the port's candidate subnets of that version
// with one free: a full subnet passes to the next (upstream's IpamSubnetGroup).
// Either way the port also gets its EUI-64 address on every auto-address (slaac,
// dhcpv6-stateless) subnet, which are never picked from the pools (router
// interfaces excepted: they take addresses like any subnet's).
func (s *Service) assignIPs(ctx context.Context, tx *db.Tx, p *portBody, n *networkBody, req ipRequest) error {
	all, err := loadBodies[subnetBody](ctx, tx, `SELECT body FROM subnets WHERE network_id = ? ORDER BY id`, n.ID)
	if err != nil {
		return err
	}
	subnets := candidateSubnets(all, p.DeviceOwner)
	if len(all) > 0 && len(subnets) == 0 {
		return conflict("IpAddressGenerationFailureNoMatchingSubnet",
			"No valid service subnet for the given device owner, network %s, service type %s.", n.ID, p.DeviceOwner)
	}
	auto := takesAutoAddress(p.DeviceOwner)
	if req.given {
		for _, want := range req.fixed {
			if sb := findSubnet(subnets, want.SubnetID); auto && want.IPAddress == "" && sb != nil && sb.autoAddress() {
				continue // its EUI-64 address comes below
			}
			f, err := s.assignOne(ctx, tx, p, n, subnets, want)
			if err != nil {
				return err
			}
			p.FixedIPs = append(p.FixedIPs, f)
		}
	} else {
		versions := []int{4, 6}
		if req.ipv4Only {
			versions = versions[:1]
		}
		for _, version := range versions {
			var group []*subnetBody
			for _, sb := range subnets {
				if sb.IPVersion == version && !(auto && sb.autoAddress()) {
					group = append(group, sb)
				}
			}
			if len(group) == 0 {
				continue
			}
			f, ok, err := allocateFromGroup(ctx, tx, group, p.ID)
			if err != nil {
				return err
			}
			if !ok {
				return conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", n.ID)
			}
			p.FixedIPs = append(p.FixedIPs, f)
		}
	}
	if !auto {
		return nil
	}
	for _, sb := range subnets {
		if !sb.autoAddress() || slices.ContainsFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == sb.ID }) {
			continue
		}
		f, ok, err := allocateAuto(ctx, tx, sb, p)
		if err != nil {
			return err
		}
		if ok {
			p.FixedIPs = append(p.FixedIPs, f)
		}
	}
	return nil
}

func findSubnet(subnets []*subnetBody, id string) *subnetBody {
	for _, sb := range subnets {
		if sb.ID == id {
			return sb
		}
	}
	return nil
}

// assignOne handles one entry of fixed_ips: a subnet (any free address), an
// address (on whichever candidate subnet holds it), or both.
func (s *Service) assignOne(ctx context.Context, tx *db.Tx, p *portBody, n *networkBody, subnets []*subnetBody, want fixedIP) (fixedIP, error) {
	var sb *subnetBody
	if want.SubnetID != "" {
		if sb = findSubnet(subnets, want.SubnetID); sb == nil {
			return fixedIP{}, badRequest("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.ID, want.SubnetID)
		}
	}
	if want.IPAddress == "" {
		if sb == nil {
			return fixedIP{}, invalidInput("Exactly one of subnet_id and ip_address is required in fixed_ips")
		}
		a, ok, err := allocateIP(ctx, tx, sb, p.ID)
		if err != nil {
			return fixedIP{}, err
		}
		if !ok {
			return fixedIP{}, conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", n.ID)
		}
		return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, nil
	}
	a, err := netip.ParseAddr(want.IPAddress)
	if err != nil {
		return fixedIP{}, invalidInput("'%s' is not a valid IP address", want.IPAddress)
	}
	if sb == nil {
		i := slices.IndexFunc(subnets, func(c *subnetBody) bool { return c.prefix().Contains(a) })
		if i < 0 {
			return fixedIP{}, badRequest("IP address %s is not a valid IP for any of the subnets on the specified network.", a)
		}
		sb = subnets[i]
	} else if !sb.prefix().Contains(a) {
		return fixedIP{}, badRequest("IP address %s is not a valid IP for the specified subnet.", a)
	}
	if sb.IPVersion == 4 && (a == sb.prefix().Addr() || a == lastAddr(sb.prefix())) && sb.prefix().Bits() < 31 {
		return fixedIP{}, badRequest("IP address %s is not a valid IP for the specified subnet.", a)
	}
	if sb.autoAddress() && takesAutoAddress(p.DeviceOwner) {
		// As upstream (AllocationOnAutoAddressSubnet): only the port's own EUI-64
		// address, which the instance configures by itself.
		if want, ok := eui64(sb.prefix(), p.MACAddress); !ok || want != a {
			return fixedIP{}, neutronError(http.StatusBadRequest, "AllocationOnAutoAddressSubnet",
				"IPv6 address %s cannot be directly assigned to a port on subnet %s as the subnet is configured for automatic addresses", a, sb.ID)
		}
	}
	recorded, err := recordIP(ctx, tx, sb, a, p.ID)
	if err != nil {
		return fixedIP{}, err
	}
	if !recorded {
		return fixedIP{}, conflict("IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", a, sb.ID)
	}
	return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, nil
}

// allocateFromGroup takes a free address of the first subnet of group that has one.
func allocateFromGroup(ctx context.Context, tx *db.Tx, group []*subnetBody, portID string) (fixedIP, bool, error) {
	for _, sb := range group {
		a, ok, err := allocateIP(ctx, tx, sb, portID)
		if err != nil || ok {
			return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, ok, err
		}
	}
	return fixedIP{}, false, nil
}

// allocateIP picks the lowest address of the subnet's pools that no port holds and
// records it for port (false: the subnet is full). It reads the subnet's addresses
// in the caller's transaction, which is serializable: a concurrent transaction
// that picks the same address is run again by db.InTx (PostgreSQL) or waits its
// turn (SQLite), and the primary key of ip_allocations holds whatever happens.
func allocateIP(ctx context.Context, tx *db.Tx, sub *subnetBody, portID string) (netip.Addr, bool, error) {
	used, err := db.QueryStrings(ctx, tx, `SELECT ip_address FROM ip_allocations WHERE subnet_id = ?`, sub.ID)
	if err != nil {
		return netip.Addr{}, false, err
	}
	taken := make(map[netip.Addr]bool, len(used))
	for _, u := range used {
		if a, err := netip.ParseAddr(u); err == nil {
			taken[a] = true
		}
	}
	for _, r := range poolRanges(sub.AllocationPools) {
		for a := r[0]; a.IsValid() && !r[1].Less(a); a = a.Next() {
			if taken[a] {
				continue
			}
			recorded, err := recordIP(ctx, tx, sub, a, portID)
			if err != nil {
				return netip.Addr{}, false, err
			}
			if recorded {
				return a, true, nil
			}
		}
	}
	return netip.Addr{}, false, nil
}

// recordIP allocates address a of subnet sub to port, false when a port holds it
// already. ON CONFLICT DO NOTHING leaves the transaction usable where a failed
// INSERT would abort it (PostgreSQL), and a conflict with a concurrent transaction
// is still a serialization failure there, which db.InTx runs again.
func recordIP(ctx context.Context, tx *db.Tx, sub *subnetBody, a netip.Addr, portID string) (bool, error) {
	return insertedOne(tx.ExecContext(ctx, `INSERT INTO ip_allocations (subnet_id, ip_address, network_id, port_id)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, sub.ID, a.String(), sub.NetworkID, portID))
}

// insertedOne reports whether an INSERT ... ON CONFLICT DO NOTHING stored its row.
func insertedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("rows affected: %w", err)
	}
	return n == 1, nil
}

// poolSize counts the addresses of the pools (for network-ip-availabilities).
func poolSize(pools []pool) *big.Int {
	total := new(big.Int)
	for _, r := range poolRanges(pools) {
		s := new(big.Int).SetBytes(r[0].AsSlice())
		e := new(big.Int).SetBytes(r[1].AsSlice())
		total.Add(total, e.Sub(e, s).Add(e, big.NewInt(1)))
	}
	return total
}
