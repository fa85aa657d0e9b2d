package linuxbridge

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// desiredFDB is upstream's l2population for one VXLAN network: a flood entry to
// each remote VTEP that has ports of the network (so broadcasts such as DHCP reach
// only hosts that care, without multicast) and a unicast entry per remote port MAC.
// Peers on the local VTEP (or without one) are skipped.
func desiredFDB(n dataplane.Network, local netip.Addr) []fdbEntry {
	var out []fdbEntry
	seen := map[fdbEntry]bool{}
	macs := map[string]bool{}
	add := func(e fdbEntry) {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	for _, p := range n.Peers {
		if !p.VTEP.IsValid() || p.VTEP == local {
			continue
		}
		add(fdbEntry{MAC: zeroMAC, Dst: p.VTEP})
		mac := strings.ToLower(p.MAC)
		if mac == "" || macs[mac] {
			continue // one destination per MAC: the first peer wins
		}
		macs[mac] = true
		add(fdbEntry{MAC: mac, Dst: p.VTEP})
	}
	slices.SortFunc(out, cmpFDB)
	return out
}

// desiredNeighbours are the ARP (and ND) entries the VXLAN device's proxy answers
// from: every address of every remote port.
func desiredNeighbours(n dataplane.Network, local netip.Addr) []neighEntry {
	var out []neighEntry
	seen := map[netip.Addr]bool{}
	for _, p := range n.Peers {
		if !p.VTEP.IsValid() || p.VTEP == local || p.MAC == "" {
			continue
		}
		for _, ip := range p.IPs {
			if !ip.IsValid() || seen[ip] {
				continue
			}
			seen[ip] = true
			out = append(out, neighEntry{IP: ip, MAC: strings.ToLower(p.MAC)})
		}
	}
	slices.SortFunc(out, func(a, b neighEntry) int { return a.IP.Compare(b.IP) })
	return out
}

func cmpFDB(a, b fdbEntry) int {
	return cmp.Or(strings.Compare(a.MAC, b.MAC), a.Dst.Compare(b.Dst))
}

// diffFDB says which entries to set and which to delete. Flood entries are kept per
// destination (added with `append`); any other MAC has one destination, so a MAC
// that moved is set again (with `replace`), never deleted first.
func diffFDB(have, want []fdbEntry) (set, del []fdbEntry) {
	haveSet := map[fdbEntry]bool{}
	for _, e := range have {
		haveSet[e] = true
	}
	wantSet := map[fdbEntry]bool{}
	wantMAC := map[string]bool{}
	for _, e := range want {
		wantSet[e] = true
		wantMAC[e.MAC] = true
		if !haveSet[e] {
			set = append(set, e)
		}
	}
	for _, e := range have {
		if wantSet[e] {
			continue
		}
		if e.MAC != zeroMAC && wantMAC[e.MAC] {
			continue // replaced by the wanted destination
		}
		del = append(del, e)
	}
	slices.SortFunc(set, cmpFDB)
	slices.SortFunc(del, cmpFDB)
	return set, del
}

// diffNeighbours says which entries to set (missing or with another MAC) and which
// addresses to delete.
func diffNeighbours(have, want []neighEntry) (set, del []neighEntry) {
	haveMAC := map[netip.Addr]string{}
	for _, e := range have {
		haveMAC[e.IP] = e.MAC
	}
	wantIP := map[netip.Addr]bool{}
	for _, e := range want {
		wantIP[e.IP] = true
		if haveMAC[e.IP] != e.MAC {
			set = append(set, e)
		}
	}
	for _, e := range have {
		if !wantIP[e.IP] {
			del = append(del, e)
		}
	}
	return set, del
}

// l2pop converges the static FDB and neighbour entries of a VXLAN device.
func (a *Agent) l2pop(ctx context.Context, ns, dev string, n dataplane.Network, local netip.Addr) error {
	have, err := fdb(ctx, a.Runner, ns, dev)
	if err != nil {
		return err
	}
	set, del := diffFDB(have, desiredFDB(n, local))
	var errs []error
	for _, e := range del {
		if _, err := a.Runner.Run(ctx, ns, "bridge", "fdb", "del", e.MAC, "dev", dev, "dst", e.Dst.String()); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range set {
		verb := "replace"
		if e.MAC == zeroMAC {
			verb = "append"
		}
		if _, err := a.Runner.Run(ctx, ns, "bridge", "fdb", verb, e.MAC, "dev", dev, "dst", e.Dst.String(), "self", "permanent"); err != nil {
			errs = append(errs, err)
		}
	}
	haveN, err := neighbours(ctx, a.Runner, ns, dev)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	setN, delN := diffNeighbours(haveN, desiredNeighbours(n, local))
	for _, e := range delN {
		if _, err := a.Runner.Run(ctx, ns, "ip", "neigh", "del", e.IP.String(), "dev", dev); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range setN {
		if _, err := a.Runner.Run(ctx, ns, "ip", "neigh", "replace", e.IP.String(), "lladdr", e.MAC, "dev", dev, "nud", "permanent"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
