package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Link is what `ip -d -j addr show` tells about one device: the link, its kind and
// (for VXLAN) its settings, and its addresses. Every agent observes the host with it.
type Link struct {
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Address  string   `json:"address"`
	Master   string   `json:"master"`
	GenMode  string   `json:"inet6_addr_gen_mode"`
	LinkInfo struct {
		Kind string    `json:"info_kind"`
		Data VXLANInfo `json:"info_data"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`
}

// VXLANInfo is the part of a VXLAN device's info_data the L2 agent checks (other
// kinds leave it zero or fill unrelated keys).
type VXLANInfo struct {
	ID       int    `json:"id"`
	Local    string `json:"local"`
	Port     int    `json:"port"`
	Learning bool   `json:"learning"`
	Proxy    bool   `json:"proxy"`
}

// Up reports whether the device is administratively up.
func (l Link) Up() bool { return slices.Contains(l.Flags, "UP") }

// Addrs are the device's global addresses (of family "inet" or "inet6", or both
// when family is empty), as prefixes holding the device's address.
func (l Link) Addrs(family string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range l.AddrInfo {
		if a.Scope != "global" || family != "" && a.Family != family {
			continue
		}
		if ip, err := netip.ParseAddr(a.Local); err == nil {
			out = append(out, netip.PrefixFrom(ip, a.PrefixLen))
		}
	}
	return out
}

// Links lists the devices of a namespace ("" is the host's own) by name, with
// their addresses.
func Links(ctx context.Context, r Runner, ns string) (map[string]Link, error) {
	return listLinks(ctx, r, ns, "addr")
}

// LinkDetails lists the devices of a namespace by name with what only `ip -d link`
// shows (the IPv6 address generation mode), and no addresses.
func LinkDetails(ctx context.Context, r Runner, ns string) (map[string]Link, error) {
	return listLinks(ctx, r, ns, "link")
}

func listLinks(ctx context.Context, r Runner, ns, object string) (map[string]Link, error) {
	out, err := r.Run(ctx, ns, "ip", "-d", "-j", object, "show")
	if err != nil {
		return nil, err
	}
	var ls []Link
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("ip -d -j %s show in %q: %w", object, ns, err)
	}
	m := make(map[string]Link, len(ls))
	for _, l := range ls {
		m[l.Name] = l
	}
	return m, nil
}

// Namespaces lists the named network namespaces.
func Namespaces(ctx context.Context, r Runner) (map[string]bool, error) {
	out, err := r.Run(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			m[f[0]] = true
		}
	}
	return m, nil
}
