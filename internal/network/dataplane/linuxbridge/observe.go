package linuxbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// link is what `ip -d -j link show` tells about one device.
type link struct {
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Master   string   `json:"master"`
	GenMode  string   `json:"inet6_addr_gen_mode"`
	LinkInfo struct {
		Kind string    `json:"info_kind"`
		Data vxlanInfo `json:"info_data"`
	} `json:"linkinfo"`
}

// vxlanInfo is the part of a VXLAN device's info_data Converge cares about (other
// kinds leave it zero or fill unrelated keys).
type vxlanInfo struct {
	ID       int    `json:"id"`
	Local    string `json:"local"`
	Port     int    `json:"port"`
	Learning bool   `json:"learning"`
	Proxy    bool   `json:"proxy"`
}

func (l link) up() bool { return slices.Contains(l.Flags, "UP") }

// links lists the devices of a namespace ("" is the host's own) by name.
func links(ctx context.Context, r dataplane.Runner, ns string) (map[string]link, error) {
	out, err := r.Run(ctx, ns, "ip", "-d", "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var ls []link
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("ip -d -j link show in %q: %w", ns, err)
	}
	m := make(map[string]link, len(ls))
	for _, l := range ls {
		m[l.Name] = l
	}
	return m, nil
}

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
