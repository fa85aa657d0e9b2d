package l3

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// routerDevice is one desired veth pair of a router.
type routerDevice struct {
	port   dataplane.RouterPort
	tap    string // root side, on the bridge
	inside string // qr- or qg-, in the router namespace
	bridge string
	addrs  []netip.Prefix
	mtu    int
}

func desiredDevices(st dataplane.State, r dataplane.Router) []routerDevice {
	mtu := map[string]int{}
	for _, n := range st.Networks {
		mtu[n.ID] = n.MTU
	}
	mk := func(p dataplane.RouterPort, inside string) routerDevice {
		return routerDevice{
			port:   p,
			tap:    dataplane.TapName(p.Port.ID),
			inside: inside,
			bridge: dataplane.BridgeName(p.NetworkID),
			addrs:  portAddrs(p),
			mtu:    mtu[p.NetworkID],
		}
	}
	var out []routerDevice
	for _, p := range r.Interfaces {
		out = append(out, mk(p, dataplane.RouterInterfaceName(p.Port.ID)))
	}
	if r.Gateway != nil {
		d := mk(*r.Gateway, dataplane.RouterGatewayName(r.Gateway.Port.ID))
		for _, f := range r.FloatingIPs {
			if f.FloatingIP.IsValid() {
				d.addrs = append(d.addrs, netip.PrefixFrom(f.FloatingIP, f.FloatingIP.BitLen()))
			}
		}
		out = append(out, d)
	}
	return out
}

// portAddrs are a router port's IPs with the prefix lengths of their subnets.
func portAddrs(p dataplane.RouterPort) []netip.Prefix {
	var out []netip.Prefix
	for _, ip := range p.Port.FixedIPs {
		bits := ip.IP.BitLen() // no subnet known: a host address
		for _, s := range p.Subnets {
			if s.ID == ip.SubnetID || s.CIDR.Contains(ip.IP) {
				bits = s.CIDR.Bits()
				if s.ID == ip.SubnetID {
					break
				}
			}
		}
		out = append(out, netip.PrefixFrom(ip.IP, bits))
	}
	return out
}

// devices converges the router's veth pairs, their bridges, MACs, MTUs and
// addresses, and removes the qr-/qg- devices no longer wanted. It returns the
// floating IPs newly added to qg- (to announce) and the ports wired.
func (a *Agent) devices(ctx context.Context, st dataplane.State, r dataplane.Router) (newFIPs []netip.Addr, wired []string, err error) {
	ns := dataplane.RouterNamespace(r.ID)
	hostNS := st.Host.Namespace
	root, err := dataplane.Links(ctx, a.Runner, hostNS)
	if err != nil {
		return nil, nil, err
	}
	inside, err := dataplane.Links(ctx, a.Runner, ns)
	if err != nil {
		return nil, nil, err
	}
	run := func(netns string, args ...string) error {
		_, err := a.Runner.Run(ctx, netns, "ip", args...)
		return err
	}
	fips := map[netip.Addr]bool{}
	for _, f := range r.FloatingIPs {
		fips[f.FloatingIP] = true
	}
	if lo, ok := inside["lo"]; ok && !lo.Up() {
		if err := run(ns, "link", "set", "lo", "up"); err != nil {
			return nil, nil, err
		}
	}
	var errs []error
	want := map[string]bool{}
	for _, d := range desiredDevices(st, r) {
		want[d.inside] = true
		newOnes, err := a.device(ctx, hostNS, ns, root, inside, d, run)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: %w", d.port.Port.ID, err))
			continue
		}
		for _, ip := range newOnes {
			if fips[ip] {
				newFIPs = append(newFIPs, ip)
			}
		}
		wired = append(wired, d.port.Port.ID)
	}
	for name, l := range inside {
		if (strings.HasPrefix(name, "qr-") || strings.HasPrefix(name, "qg-")) && !want[name] && l.LinkInfo.Kind == "veth" {
			a.log().Info("removing router device", "netns", ns, "dev", name)
			if err := run(ns, "link", "del", name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return newFIPs, wired, errors.Join(errs...)
}

// device converges one veth pair and returns the addresses it added inside.
func (a *Agent) device(ctx context.Context, hostNS, ns string, root, inside map[string]dataplane.Link, d routerDevice, run func(string, ...string) error) ([]netip.Addr, error) {
	// The network's bridge: normally the L2 agent's, made here too if missing
	// (same name, so whichever comes first, the other finds it).
	br, ok := root[d.bridge]
	if !ok {
		if err := run(hostNS, "link", "add", d.bridge, "type", "bridge"); err != nil {
			// The L2 agent may have made it meanwhile.
			if now, lerr := dataplane.Links(ctx, a.Runner, hostNS); lerr != nil || now[d.bridge].Name == "" {
				return nil, err
			}
		}
		if err := run(hostNS, "link", "set", d.bridge, "up"); err != nil {
			return nil, err
		}
	} else if !br.Up() {
		if err := run(hostNS, "link", "set", d.bridge, "up"); err != nil {
			return nil, err
		}
	}
	tap, tapOK := root[d.tap]
	in, inOK := inside[d.inside]
	if tapOK && (!inOK || tap.LinkInfo.Kind != "veth") || !tapOK && inOK {
		// Half made (a crash between steps) or something else by that name: start over.
		if tapOK {
			if err := run(hostNS, "link", "del", d.tap); err != nil {
				return nil, err
			}
		}
		if inOK {
			_ = run(ns, "link", "del", d.inside)
		}
		tapOK, inOK = false, false
	}
	mac := strings.ToLower(d.port.Port.MAC)
	if !tapOK {
		args := []string{"link", "add", d.tap, "type", "veth", "peer", "name", d.inside}
		if mac != "" {
			args = append(args, "address", mac)
		}
		args = append(args, "netns", ns)
		if err := run(hostNS, args...); err != nil {
			return nil, err
		}
		tap = dataplane.Link{Name: d.tap}
		in = dataplane.Link{Name: d.inside, Address: mac}
	}
	if d.mtu > 0 {
		if tap.MTU != d.mtu {
			if err := run(hostNS, "link", "set", d.tap, "mtu", strconv.Itoa(d.mtu)); err != nil {
				return nil, err
			}
		}
		if in.MTU != d.mtu {
			if err := run(ns, "link", "set", d.inside, "mtu", strconv.Itoa(d.mtu)); err != nil {
				return nil, err
			}
		}
	}
	if tap.Master != d.bridge {
		if err := run(hostNS, "link", "set", d.tap, "master", d.bridge); err != nil {
			return nil, err
		}
	}
	if !tap.Up() {
		if err := run(hostNS, "link", "set", d.tap, "up"); err != nil {
			return nil, err
		}
	}
	if mac != "" && strings.ToLower(in.Address) != mac {
		if err := run(ns, "link", "set", d.inside, "address", mac); err != nil {
			return nil, err
		}
	}
	// Addresses: add the missing ones, remove the others (IPv6 link-local ones are
	// the kernel's and not "global", so never seen here).
	have := in.Addrs("")
	var added []netip.Addr
	for _, p := range d.addrs {
		if slices.Contains(have, p) {
			continue
		}
		args := []string{"addr", "add", p.String(), "dev", d.inside}
		if p.Addr().Is6() {
			args = append(args, "nodad")
		}
		if err := run(ns, args...); err != nil {
			return nil, err
		}
		added = append(added, p.Addr())
	}
	for _, p := range have {
		if slices.Contains(d.addrs, p) {
			continue
		}
		if err := run(ns, "addr", "del", p.String(), "dev", d.inside); err != nil {
			return nil, err
		}
		if strings.HasPrefix(d.inside, "qg-") && p.IsSingleIP() {
			// A floating IP gone: forget its connections, or established flows
			// would go on through the old translation (as upstream does).
			for _, dir := range []string{"--orig-dst", "--reply-dst"} {
				_, _ = a.Runner.Run(ctx, ns, "conntrack", "-D", dir, p.Addr().String())
			}
		}
	}
	if up := d.port.Port.AdminStateUp; up != in.Up() {
		state := "down"
		if up {
			state = "up"
		}
		if err := run(ns, "link", "set", d.inside, state); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// routes converges the static routes of the router: the default route of each IP
// version via the external subnet's gateway, and the router's extra routes.
func (a *Agent) routes(ctx context.Context, r dataplane.Router) error {
	ns := dataplane.RouterNamespace(r.ID)
	want := map[string]dataplane.Route{}
	if r.Gateway != nil {
		for _, s := range r.Gateway.Subnets {
			if !s.GatewayIP.IsValid() {
				continue
			}
			dst := netip.MustParsePrefix("0.0.0.0/0")
			if s.GatewayIP.Is6() {
				dst = netip.MustParsePrefix("::/0")
			}
			rt := dataplane.Route{Destination: dst, NextHop: s.GatewayIP}
			if _, dup := want[routeKey(dataplane.Route{Destination: dst})]; !dup {
				want[routeKey(dataplane.Route{Destination: dst})] = rt // one default per version
			}
		}
	}
	// Re-key by destination and next hop, as observed.
	byKey := map[string]dataplane.Route{}
	for _, rt := range want {
		byKey[routeKey(rt)] = rt
	}
	for _, rt := range r.Routes {
		byKey[routeKey(rt)] = rt
	}
	have, err := staticRoutes(ctx, a.Runner, ns)
	if err != nil {
		return err
	}
	var errs []error
	for k, rt := range have {
		if _, ok := byKey[k]; !ok {
			if _, err := a.Runner.Run(ctx, ns, "ip", "route", "del", rt.Destination.Masked().String(), "via", rt.NextHop.String()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := have[k]; ok {
			continue
		}
		rt := byKey[k]
		if _, err := a.Runner.Run(ctx, ns, "ip", "route", "replace", rt.Destination.Masked().String(), "via", rt.NextHop.String(), "proto", "static"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
