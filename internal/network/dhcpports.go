package network

import (
	"context"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// EnsureDHCPPorts gives every network with a DHCP-enabled subnet the one port its
// DHCP server listens on (device_owner network:dhcp, an address of each such
// subnet, IPv4 or IPv6: dnsmasq serves a prefix only from an interface holding an
// address in it), as upstream's DHCP agent asks the server to, and removes the DHCP
// ports of networks that no longer need one. The DHCP agent calls it before
// converging, so it must be idempotent; the agents of several hosts and processes
// may call it at once.
func (s *Service) EnsureDHCPPorts(ctx context.Context, host string) error {
	// A first look, outside any transaction, finds the networks that may need a
	// change; each is then settled in a transaction of its own that reads it again,
	// so that what it writes depends only on what it read there.
	subnets, err := loadBodies[subnetBody](ctx, s.db, `SELECT body FROM subnets ORDER BY id`)
	if err != nil {
		return err
	}
	ports, err := loadBodies[portBody](ctx, s.db, `SELECT body FROM ports ORDER BY id`)
	if err != nil {
		return err
	}
	for _, netID := range dhcpWork(subnets, ports) {
		if err := s.db.InTx(ctx, func(tx *db.Tx) error { return s.settleDHCPPort(ctx, tx, netID, host) }); err != nil {
			return err
		}
	}
	return nil
}

// dhcpWork are the networks whose DHCP port is missing, lacks an address on one of
// their DHCP subnets, has a twin, or is no longer needed.
func dhcpWork(subnets []subnetBody, ports []portBody) []string {
	wanted := map[string][]string{}
	for _, sb := range subnets {
		if sb.EnableDHCP {
			wanted[sb.NetworkID] = append(wanted[sb.NetworkID], sb.ID)
		}
	}
	have := map[string][]*portBody{}
	for i := range ports {
		if ports[i].DeviceOwner == ownerDHCP {
			have[ports[i].NetworkID] = append(have[ports[i].NetworkID], &ports[i])
		}
	}
	var out []string
	for netID, subnetIDs := range wanted {
		if len(have[netID]) != 1 || slices.ContainsFunc(subnetIDs, func(id string) bool {
			return !slices.ContainsFunc(have[netID][0].FixedIPs, func(f fixedIP) bool { return f.SubnetID == id })
		}) {
			out = append(out, netID)
		}
	}
	for netID := range have {
		if len(wanted[netID]) == 0 {
			out = append(out, netID)
		}
	}
	slices.Sort(out)
	return out
}

// settleDHCPPort makes network netID's DHCP ports what its subnets want: none
// without a DHCP subnet, else one (twins a race left go) with an address on each
// DHCP subnet that has one free.
func (s *Service) settleDHCPPort(ctx context.Context, tx *db.Tx, netID, host string) error {
	var n networkBody
	if err := loadBody(ctx, tx, "networks", netID, &n); err != nil {
		if db.IsNoRows(err) {
			return nil // deleted meanwhile, with its ports
		}
		return err
	}
	all, err := loadBodies[subnetBody](ctx, tx, `SELECT body FROM subnets WHERE network_id = ? ORDER BY id`, netID)
	if err != nil {
		return err
	}
	subnets := slices.DeleteFunc(all, func(sb subnetBody) bool { return !sb.EnableDHCP })
	ports, err := loadBodies[portBody](ctx, tx, `SELECT body FROM ports WHERE network_id = ? ORDER BY id`, netID)
	if err != nil {
		return err
	}
	ports = slices.DeleteFunc(ports, func(p portBody) bool { return p.DeviceOwner != ownerDHCP })
	keep := 0
	if len(subnets) == 0 {
		keep = -1 // none
	}
	for i := range ports {
		if i != keep {
			if err := s.removePort(ctx, tx, ports[i].ID); err != nil {
				return err
			}
		}
	}
	if keep < 0 {
		return nil
	}
	var p *portBody
	changed := false
	if len(ports) > 0 {
		p = &ports[0]
	} else {
		p = &portBody{standard: newStandard(newUUID(), n.ProjectID, stamp(s.now())), NetworkID: netID,
			AdminStateUp: true, Status: "ACTIVE", DeviceOwner: ownerDHCP,
			DeviceID: "dhcp-" + host + "-" + netID, FixedIPs: []fixedIP{}, AllowedAddressPairs: []addressPair{},
			SecurityGroups: []string{}, BindingVNICType: "normal", BindingHostID: host, BindingProfile: map[string]any{},
			ExtraDHCPOpts: []any{}, IPAllocation: "immediate"}
		if err := s.insertPort(ctx, tx, p); err != nil {
			return err
		}
		changed = true
	}
	for i := range subnets {
		sb := &subnets[i]
		if slices.ContainsFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == sb.ID }) {
			continue
		}
		var f fixedIP
		var ok bool
		if sb.autoAddress() {
			f, ok, err = allocateAuto(ctx, tx, sb, p) // its EUI-64 address, as any port's on such a subnet
		} else {
			f, ok, err = allocateFromGroup(ctx, tx, []*subnetBody{sb}, p.ID)
		}
		if err != nil {
			return err
		}
		if ok {
			p.FixedIPs = append(p.FixedIPs, f)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if len(ports) > 0 {
		p.touch(stamp(s.now()))
	}
	s.bind(p, &n)
	return saveBody(ctx, tx, "ports", p.ID, p)
}
