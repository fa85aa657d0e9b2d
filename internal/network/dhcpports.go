package network

import (
	"context"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// EnsureDHCPPorts gives every network with a DHCP-enabled subnet the port its DHCP
// server listens on (device_owner network:dhcp, an address of each such subnet,
// IPv4 or IPv6: dnsmasq serves a prefix only from an interface holding an address
// in it),
// as upstream's DHCP agent asks the server to, and removes the DHCP ports of
// networks that no longer need one. The DHCP agent calls it before converging, so
// it must be idempotent.
func (s *Service) EnsureDHCPPorts(ctx context.Context, host string) error {
	nets, err := s.networksByID(ctx, s.db)
	if err != nil {
		return err
	}
	subs, err := loadBodies[subnetBody](ctx, s.db, `SELECT body FROM subnets ORDER BY id`)
	if err != nil {
		return err
	}
	wanted := map[string][]*subnetBody{}
	for i := range subs {
		if subs[i].EnableDHCP {
			wanted[subs[i].NetworkID] = append(wanted[subs[i].NetworkID], &subs[i])
		}
	}
	ports, err := loadBodies[portBody](ctx, s.db, `SELECT body FROM ports`)
	if err != nil {
		return err
	}
	existing := map[string]*portBody{}
	for i := range ports {
		if ports[i].DeviceOwner == ownerDHCP {
			existing[ports[i].NetworkID] = &ports[i]
		}
	}
	for netID, p := range existing {
		if len(wanted[netID]) == 0 {
			if err := s.db.InTx(ctx, func(tx *db.Tx) error { return s.removePort(ctx, tx, p.ID) }); err != nil {
				return err
			}
		}
	}
	for netID, subnets := range wanted {
		n := nets[netID]
		if n == nil {
			continue
		}
		err := s.retryConflicts(ctx, func(tx *db.Tx) error {
			p := existing[netID]
			if p == nil {
				p = &portBody{standard: newStandard(newUUID(), n.ProjectID, stamp(s.now())), NetworkID: netID,
					AdminStateUp: true, Status: "ACTIVE", MACAddress: s.newMAC(), DeviceOwner: ownerDHCP,
					DeviceID: "dhcp-" + host + "-" + netID, FixedIPs: []fixedIP{}, AllowedAddressPairs: []addressPair{},
					SecurityGroups: []string{}, BindingVNICType: "normal", BindingHostID: host, BindingProfile: map[string]any{},
					ExtraDHCPOpts: []any{}, IPAllocation: "immediate"}
				if _, err := tx.ExecContext(ctx, `INSERT INTO ports (id, network_id, project_id, mac_address, device_id, host_id, body)
					VALUES (?, ?, ?, ?, ?, ?, '{}')`, p.ID, netID, p.ProjectID, p.MACAddress, p.DeviceID, host); err != nil {
					return err
				}
			}
			changed := p.RevisionNumber == 1 && existing[netID] == nil
			for _, sb := range subnets {
				if slices.ContainsFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == sb.ID }) {
					continue
				}
				if sb.autoAddress() {
					// Its EUI-64 address, as any port's on such a subnet.
					f, ok, err := allocateAuto(ctx, tx, sb, p)
					if err != nil {
						return err
					}
					if ok {
						p.FixedIPs = append(p.FixedIPs, f)
						changed = true
					}
					continue
				}
				a, ok, err := allocateIP(ctx, tx, sb, p.ID)
				if err != nil {
					return err
				}
				if ok {
					p.FixedIPs = append(p.FixedIPs, fixedIP{SubnetID: sb.ID, IPAddress: a.String()})
					changed = true
				}
			}
			if !changed {
				return nil
			}
			s.bind(p, n)
			return saveBody(ctx, tx, "ports", p.ID, p)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
