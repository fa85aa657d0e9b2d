package network

import (
	"context"
	"math/big"
	"net/netip"

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

// allocateIP picks the lowest address of the subnet's pools that no port holds and
// records it for port. The primary key of ip_allocations makes a double allocation
// impossible: a concurrent transaction that picked the same address fails and the
// caller retries.
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
			if err := recordIP(ctx, tx, sub, a, portID); err != nil {
				return netip.Addr{}, false, err
			}
			return a, true, nil
		}
	}
	return netip.Addr{}, false, nil
}

func recordIP(ctx context.Context, tx *db.Tx, sub *subnetBody, a netip.Addr, portID string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ip_allocations (subnet_id, ip_address, network_id, port_id) VALUES (?, ?, ?, ?)`,
		sub.ID, a.String(), sub.NetworkID, portID)
	return err
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
