package dhcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// device converges the DHCP port's veth pair: tap<port> on the network's bridge in
// the host namespace, ns-<port> in qdhcp-<net> with the port's MAC, the network's
// MTU, the port's addresses in the DHCP subnets (IPv4 and IPv6, with accept_ra off)
// and 169.254.169.254/32 when the namespace serves metadata, and a default route
// via the first IPv4 subnet's gateway (as upstream, for DNS forwarding). Other ns-
// devices in the namespace (a replaced DHCP port's) are deleted.
func (a *Agent) device(ctx context.Context, h dataplane.Host, n dataplane.Network, port dataplane.Port) error {
	hostNS := h.Namespace
	ns := dataplane.DHCPNamespace(n.ID)
	tapName, inName := dataplane.TapName(port.ID), dataplane.DHCPDeviceName(port.ID)
	br := dataplane.BridgeName(n.ID)
	run := func(netns string, args ...string) error {
		_, err := a.Runner.Run(ctx, netns, "ip", args...)
		return err
	}
	root, err := dataplane.Links(ctx, a.Runner, hostNS)
	if err != nil {
		return err
	}
	inside, err := dataplane.Links(ctx, a.Runner, ns)
	if err != nil {
		return err
	}
	if lo, ok := inside["lo"]; ok && !lo.Up() {
		if err := run(ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for name := range inside {
		if strings.HasPrefix(name, "ns-") && name != inName {
			a.log().Info("removing DHCP device of another port", "netns", ns, "dev", name)
			if err := run(ns, "link", "del", name); err != nil {
				return err
			}
		}
	}
	tap, tapOK := root[tapName]
	in, inOK := inside[inName]
	if tapOK && (!inOK || tap.LinkInfo.Kind != "veth") || !tapOK && inOK {
		// Half made (a crash between steps) or something else by that name: start over.
		if tapOK {
			if err := run(hostNS, "link", "del", tapName); err != nil {
				return err
			}
		}
		if inOK {
			if err := run(ns, "link", "del", inName); err != nil {
				return err
			}
		}
		tapOK, inOK = false, false
	}
	mac := strings.ToLower(port.MAC)
	if !tapOK {
		args := []string{"link", "add", tapName, "type", "veth", "peer", "name", inName}
		if mac != "" {
			args = append(args, "address", mac)
		}
		if err := run(hostNS, append(args, "netns", ns)...); err != nil {
			return err
		}
		tap, in = dataplane.Link{Name: tapName}, dataplane.Link{Name: inName, Address: mac}
	}
	if n.MTU > 0 {
		if tap.MTU != n.MTU {
			if err := run(hostNS, "link", "set", tapName, "mtu", strconv.Itoa(n.MTU)); err != nil {
				return err
			}
		}
		if in.MTU != n.MTU {
			if err := run(ns, "link", "set", inName, "mtu", strconv.Itoa(n.MTU)); err != nil {
				return err
			}
		}
	}
	if tap.Master != br {
		if err := run(hostNS, "link", "set", tapName, "master", br); err != nil {
			return err
		}
	}
	if !tap.Up() {
		if err := run(hostNS, "link", "set", tapName, "up"); err != nil {
			return err
		}
	}
	if mac != "" && strings.ToLower(in.Address) != mac {
		if err := run(ns, "link", "set", inName, "address", mac); err != nil {
			return err
		}
	}
	subnets := dhcpSubnets(n)
	var want []netip.Prefix
	v6 := false
	for _, f := range port.FixedIPs {
		if s, ok := subnetOf(subnets, f); ok && f.IP.Is4() == (s.IPVersion == 4) {
			want = append(want, netip.PrefixFrom(f.IP, s.CIDR.Bits()))
			v6 = v6 || f.IP.Is6()
		}
	}
	if dataplane.DHCPMetadata(h, n) {
		// Where the metadata part listens, as upstream's DHCP agent puts it
		// (isolated instances route 169.254.169.254 to the DHCP port).
		want = append(want, netip.PrefixFrom(dataplane.MetadataAddress, 32))
	}
	if v6 {
		// The namespace must not configure itself from the network's router
		// advertisements (upstream disables accept_ra too): the addresses it
		// made would be deleted here as not wanted on the next pass.
		if err := a.noAcceptRA(ctx, ns, inName); err != nil {
			return err
		}
	}
	have := in.Addrs("")
	for _, p := range want {
		if !slices.Contains(have, p) {
			args := []string{"addr", "add", p.String(), "dev", inName}
			if p.Addr().Is6() {
				// No duplicate address detection: the address is the port's, and
				// a tentative one would keep dnsmasq from answering for a second.
				args = append(args, "nodad")
			}
			if err := run(ns, args...); err != nil {
				return err
			}
		}
	}
	for _, p := range have {
		if !slices.Contains(want, p) {
			if err := run(ns, "addr", "del", p.String(), "dev", inName); err != nil {
				return err
			}
		}
	}
	if !in.Up() {
		if err := run(ns, "link", "set", inName, "up"); err != nil {
			return err
		}
	}
	return a.defaultRoute(ctx, ns, inName, subnets, want)
}

// noAcceptRA turns off router advertisements on dev in ns, reading first so a
// converged namespace costs one read.
func (a *Agent) noAcceptRA(ctx context.Context, ns, dev string) error {
	key := "net.ipv6.conf." + dev + ".accept_ra"
	if out, err := a.Runner.Run(ctx, ns, "sysctl", "-n", key); err == nil && strings.TrimSpace(string(out)) == "0" {
		return nil
	}
	_, err := a.Runner.Run(ctx, ns, "sysctl", "-w", key+"=0")
	return err
}

// defaultRoute points the namespace's default route at the first IPv4 DHCP subnet's
// gateway that one of the port's addresses reaches, or removes it without one.
func (a *Agent) defaultRoute(ctx context.Context, ns, dev string, subnets []dataplane.Subnet, addrs []netip.Prefix) error {
	var gw netip.Addr
	for _, s := range subnets {
		if s.IPVersion != 4 {
			continue // an IPv6 default route is not needed: DNS forwarding goes out over IPv4
		}
		for _, p := range addrs {
			if s.GatewayIP.IsValid() && s.GatewayIP != p.Addr() && p.Masked() == s.CIDR.Masked() {
				gw = s.GatewayIP
				break
			}
		}
		if gw.IsValid() {
			break
		}
	}
	out, err := a.Runner.Run(ctx, ns, "ip", "-4", "-j", "route", "show", "default")
	if err != nil {
		return err
	}
	var routes []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
	}
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &routes); err != nil {
			return fmt.Errorf("ip -j route show default in %s: %w", ns, err)
		}
	}
	if !gw.IsValid() {
		if len(routes) > 0 {
			_, err := a.Runner.Run(ctx, ns, "ip", "-4", "route", "del", "default")
			return err
		}
		return nil
	}
	if len(routes) == 1 && routes[0].Gateway == gw.String() && routes[0].Dev == dev {
		return nil
	}
	_, err = a.Runner.Run(ctx, ns, "ip", "-4", "route", "replace", "default", "via", gw.String(), "dev", dev)
	return err
}
