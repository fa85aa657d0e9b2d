package l3

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

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
