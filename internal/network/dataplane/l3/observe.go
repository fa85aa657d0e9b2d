package l3

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
	Address  string   `json:"address"`
	Master   string   `json:"master"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`
}

func (l link) up() bool { return slices.Contains(l.Flags, "UP") }

// addrs are the device's global addresses, as prefixes with the host's address.
func (l link) addrs() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range l.AddrInfo {
		if a.Scope != "global" {
			continue
		}
		ip, err := netip.ParseAddr(a.Local)
		if err != nil {
			continue
		}
		out = append(out, netip.PrefixFrom(ip, a.PrefixLen))
	}
	return out
}

// links lists the devices of a namespace by name, with their addresses.
func links(ctx context.Context, r dataplane.Runner, ns string) (map[string]link, error) {
	out, err := r.Run(ctx, ns, "ip", "-d", "-j", "addr", "show")
	if err != nil {
		return nil, err
	}
	var ls []link
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("ip -j addr show in %q: %w", ns, err)
	}
	m := make(map[string]link, len(ls))
	for _, l := range ls {
		m[l.Name] = l
	}
	return m, nil
}

// route is one route of `ip -j route show`.
type route struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
}

// staticRoutes lists the routes of the main table that Nimbus adds (proto static),
// keyed like routeKey.
func staticRoutes(ctx context.Context, r dataplane.Runner, ns string) (map[string]dataplane.Route, error) {
	m := map[string]dataplane.Route{}
	for _, family := range []string{"-4", "-6"} {
		out, err := r.Run(ctx, ns, "ip", family, "-j", "route", "show", "table", "main", "proto", "static")
		if err != nil {
			return nil, err
		}
		var rs []route
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &rs); err != nil {
				return nil, fmt.Errorf("ip -j route show in %q: %w", ns, err)
			}
		}
		for _, rt := range rs {
			dst, err := parseDst(rt.Dst, family == "-6")
			if err != nil {
				continue
			}
			nh, _ := netip.ParseAddr(rt.Gateway)
			route := dataplane.Route{Destination: dst, NextHop: nh}
			m[routeKey(route)] = route
		}
	}
	return m, nil
}

func parseDst(s string, v6 bool) (netip.Prefix, error) {
	if s == "default" {
		if v6 {
			return netip.MustParsePrefix("::/0"), nil
		}
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func routeKey(r dataplane.Route) string {
	return r.Destination.Masked().String() + " via " + r.NextHop.String()
}

// namespaces lists the named network namespaces.
func namespaces(ctx context.Context, r dataplane.Runner) (map[string]bool, error) {
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
