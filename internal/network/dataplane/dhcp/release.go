package dhcp

import (
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// lease is one entry of dnsmasq's lease file.
type lease struct {
	IP       netip.Addr
	MAC      string // IPv4 leases; IPv6 ones only when the client's DUID carries it
	ClientID string // IPv4: the client identifier, "" for none; IPv6: the DUID
	IAID     string // IPv6 only
}

// leaseFile is dnsmasq's lease file, parsed: its IPv4 and IPv6 leases and its own
// DUID (a DHCPv6 release must name the server).
type leaseFile struct {
	Leases   []lease
	ServerID string
}

// parseLeases reads dnsmasq's lease file: IPv4 lines "expiry mac ip hostname
// client-id", then, after the server's "duid <duid>" line, IPv6 lines "expiry
// iaid ip hostname duid". Lines it cannot read are skipped: the file is
// dnsmasq's, and a lease it holds but we cannot name is at worst not released.
func parseLeases(content string) leaseFile {
	var f leaseFile
	for _, line := range strings.Split(content, "\n") {
		fs := strings.Fields(line)
		if len(fs) == 2 && fs[0] == "duid" {
			f.ServerID = fs[1]
			continue
		}
		if len(fs) < 5 {
			continue
		}
		ip, err := netip.ParseAddr(fs[2])
		if err != nil {
			continue
		}
		l := lease{IP: ip}
		if ip.Is4() {
			l.MAC = strings.ToLower(fs[1])
			if fs[4] != "*" {
				l.ClientID = fs[4]
			}
		} else {
			// dnsmasq marks temporary addresses' IAIDs with a T.
			l.IAID, l.ClientID, l.MAC = strings.TrimPrefix(fs[1], "T"), fs[4], duidMAC(fs[4])
		}
		f.Leases = append(f.Leases, l)
	}
	return f
}

// duidMAC is the link-layer address inside a DUID-LLT (type 1) or DUID-LL (type
// 3) of an Ethernet client (hardware type 1), "" for other DUIDs.
func duidMAC(duid string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(duid, ":", ""))
	if err != nil || len(b) < 4 || b[2] != 0 || b[3] != 1 || b[0] != 0 {
		return ""
	}
	var mac []byte
	switch {
	case b[1] == 1 && len(b) == 14:
		mac = b[8:]
	case b[1] == 3 && len(b) == 10:
		mac = b[4:]
	default:
		return ""
	}
	parts := make([]string, len(mac))
	for i, x := range mac {
		parts[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(parts, ":")
}

// staleLeases are the leases no port holds any more: its address belongs to no
// port of the network, or to a port with another MAC. dnsmasq keeps such a lease
// until it expires and will not give a configured address that is leased to
// another MAC, so a port created on an address just freed would get no answer
// (upstream's DHCP agent releases them too, with dhcp_release).
func staleLeases(f leaseFile, n dataplane.Network) []lease {
	held := map[netip.Addr][]string{}
	for _, p := range hostsOf(n) {
		for _, ip := range p.FixedIPs {
			held[ip.IP] = append(held[ip.IP], strings.ToLower(p.MAC))
		}
	}
	var stale []lease
	for _, l := range f.Leases {
		macs, ok := held[l.IP]
		if !ok || (l.MAC != "" && !slices.Contains(macs, l.MAC)) {
			stale = append(stale, l)
		}
	}
	return stale
}

// hostEntries are the IPv4 (address, MAC) pairs of a host file as render writes
// it ("MAC,name,IP"; IPv6 entries carry a tag and a bracketed address and are
// left out: a DHCPv6 release needs the client's DUID and IAID, which only the
// lease file has).
func hostEntries(hostFile string) []lease {
	var out []lease
	for _, line := range strings.Split(hostFile, "\n") {
		fs := strings.Split(strings.TrimSpace(line), ",")
		if len(fs) != 3 {
			continue
		}
		if ip, err := netip.ParseAddr(fs[2]); err == nil && ip.Is4() {
			out = append(out, lease{IP: ip, MAC: strings.ToLower(fs[0])})
		}
	}
	return out
}

// dropped are the entries of the old host file that the new one no longer has:
// ports deleted, or addresses given to another MAC.
func dropped(oldHosts, newHosts string) []lease {
	keep := map[lease]bool{}
	for _, l := range hostEntries(newHosts) {
		keep[l] = true
	}
	var out []lease
	for _, l := range hostEntries(oldHosts) {
		if !keep[l] {
			out = append(out, l)
		}
	}
	return out
}

// releaseStale makes the network's dnsmasq drop the leases no port holds any
// more, by sending it a DHCP release in their clients' stead (dnsmasq-utils'
// dhcp_release and dhcp_release6, from the DHCP port's device): the entries this
// pass dropped from the host file (dropped; dnsmasq ignores a release of an
// address it has not leased), and every stale lease of the lease file. The lease
// file alone would not do: dnsmasq truncates and rewrites it after every lease,
// so a read can find it empty; but it catches what a crash between writing the
// host file and releasing left behind.
func (a *Agent) releaseStale(ctx context.Context, n dataplane.Network, port dataplane.Port, leaseFilePath string, dropped []lease) error {
	raw, err := os.ReadFile(leaseFilePath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	f := parseLeases(string(raw))
	ns, dev := dataplane.DHCPNamespace(n.ID), dataplane.DHCPDeviceName(port.ID)
	seen := map[lease]bool{}
	for _, l := range append(dropped, staleLeases(f, n)...) {
		key := lease{IP: l.IP, MAC: l.MAC}
		if seen[key] {
			continue
		}
		seen[key] = true
		a.log().Info("releasing a stale DHCP lease", "network", n.ID, "ip", l.IP, "mac", l.MAC)
		var err error
		if l.IP.Is4() {
			args := []string{dev, l.IP.String(), l.MAC}
			if l.ClientID != "" {
				args = append(args, l.ClientID)
			}
			_, err = a.Runner.Run(ctx, ns, "dhcp_release", args...)
		} else if f.ServerID != "" {
			_, err = a.Runner.Run(ctx, ns, "dhcp_release6", "--iface", dev, "--ip", l.IP.String(),
				"--server-id", f.ServerID, "--client-id", l.ClientID, "--iaid", l.IAID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
