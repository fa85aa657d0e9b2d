package linuxbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// fdbEntry is a VXLAN forwarding entry: frames for MAC go to the VTEP Dst. The
// all-zero MAC is the flood entry (broadcast, unknown unicast, multicast); it may
// have several destinations, every other MAC has one.
type fdbEntry struct {
	MAC string
	Dst netip.Addr
}

// zeroMAC is the address of flood entries.
const zeroMAC = "00:00:00:00:00:00"

// fdb lists the VXLAN-level entries of dev (those with a destination VTEP: with
// learning off, only ours), leaving the bridge's own entries aside.
func fdb(ctx context.Context, r dataplane.Runner, ns, dev string) ([]fdbEntry, error) {
	out, err := r.Run(ctx, ns, "bridge", "-j", "fdb", "show", "dev", dev)
	if err != nil {
		return nil, err
	}
	var raw []struct {
		MAC string `json:"mac"`
		Dst string `json:"dst"`
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &raw); err != nil {
			return nil, fmt.Errorf("bridge -j fdb show dev %s: %w", dev, err)
		}
	}
	var es []fdbEntry
	for _, e := range raw {
		dst, err := netip.ParseAddr(e.Dst)
		if err != nil {
			continue
		}
		es = append(es, fdbEntry{MAC: strings.ToLower(e.MAC), Dst: dst})
	}
	return es, nil
}

// neighEntry is a permanent neighbour (ARP/ND) entry of a VXLAN device, which the
// device's proxy answers from instead of flooding the request.
type neighEntry struct {
	IP  netip.Addr
	MAC string
}

// neighbours lists the permanent neighbour entries of dev.
func neighbours(ctx context.Context, r dataplane.Runner, ns, dev string) ([]neighEntry, error) {
	out, err := r.Run(ctx, ns, "ip", "-j", "neigh", "show", "dev", dev, "nud", "permanent")
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Dst    string `json:"dst"`
		LLAddr string `json:"lladdr"`
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &raw); err != nil {
			return nil, fmt.Errorf("ip -j neigh show dev %s: %w", dev, err)
		}
	}
	var es []neighEntry
	for _, e := range raw {
		ip, err := netip.ParseAddr(e.Dst)
		if err != nil {
			continue
		}
		es = append(es, neighEntry{IP: ip, MAC: strings.ToLower(e.LLAddr)})
	}
	return es, nil
}
