package network

import (
	"cmp"
	"net/netip"
	"slices"
)

// Prefix sets as netaddr's IPSet serves upstream's subnet allocator
// (neutron/ipam/subnet_alloc.py): the free space of a pool is its prefixes minus
// its subnets, as CIDRs.

// halves splits p into its two halves (p must be shorter than a host prefix).
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	lo := netip.PrefixFrom(p.Masked().Addr(), bits+1)
	b := lo.Addr().AsSlice()
	b[bits/8] |= 0x80 >> (bits % 8)
	hiAddr, _ := netip.AddrFromSlice(b)
	return lo, netip.PrefixFrom(hiAddr, bits+1)
}

// subtract is p minus q, as the fewest CIDRs.
func subtract(p, q netip.Prefix) []netip.Prefix {
	if !p.Overlaps(q) {
		return []netip.Prefix{p}
	}
	if q.Bits() <= p.Bits() { // q covers p
		return nil
	}
	lo, hi := halves(p)
	return append(subtract(lo, q), subtract(hi, q)...)
}

// subtractAll is the prefixes of set not in any of used.
func subtractAll(set, used []netip.Prefix) []netip.Prefix {
	out := slices.Clone(set)
	for _, u := range used {
		var next []netip.Prefix
		for _, p := range out {
			next = append(next, subtract(p, u)...)
		}
		out = next
	}
	return out
}

// compact merges a list of prefixes into the fewest CIDRs covering the same
// addresses (netaddr's IPSet.compact), sorted by address.
func compact(list []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range list {
		p = p.Masked()
		if slices.ContainsFunc(out, func(o netip.Prefix) bool { return o.Bits() <= p.Bits() && o.Contains(p.Addr()) }) {
			continue
		}
		out = slices.DeleteFunc(out, func(o netip.Prefix) bool { return p.Bits() <= o.Bits() && p.Contains(o.Addr()) })
		out = append(out, p)
	}
	// Merge sibling halves until none are left.
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(out) && !merged; i++ {
			for j := 0; j < len(out) && !merged; j++ {
				a, b := out[i], out[j]
				if i == j || a.Bits() != b.Bits() || a.Bits() == 0 {
					continue
				}
				parent := netip.PrefixFrom(a.Addr(), a.Bits()-1).Masked()
				if lo, hi := halves(parent); lo == a && hi == b {
					out = slices.Delete(out, max(i, j), max(i, j)+1)
					out = slices.Delete(out, min(i, j), min(i, j)+1)
					out = append(out, parent)
					merged = true
				}
			}
		}
	}
	sortPrefixes(out)
	return out
}

func sortPrefixes(list []netip.Prefix) {
	slices.SortFunc(list, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
}

// anyOverlap reports whether a prefix of a overlaps one of b.
func anyOverlap(a, b []netip.Prefix) bool {
	for _, p := range a {
		for _, q := range b {
			if p.Overlaps(q) {
				return true
			}
		}
	}
	return false
}
