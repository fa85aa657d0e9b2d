package firewall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// ARPTable is the nftables bridge-family table that keeps filtered ports from
// sending frames with another MAC or ARP for addresses that are not theirs
// (upstream's ebtables neutronMAC-/neutronARP- chains of prevent_arp_spoofing):
// iptables sees only IP, so without it an instance could poison its neighbours'
// ARP caches.
const ARPTable = "nimbus-arp"

// renderARP returns the table's body for the filtered ports of st ("" when none).
func renderARP(st dataplane.State) string {
	var ports []dataplane.Port
	for _, n := range st.Networks {
		for _, p := range n.Ports {
			if filteredPort(p) {
				ports = append(ports, p)
			}
		}
	}
	if len(ports) == 0 {
		return ""
	}
	slices.SortFunc(ports, func(a, b dataplane.Port) int { return strings.Compare(a.ID, b.ID) })
	var b strings.Builder
	b.WriteString("\tchain prerouting {\n\t\ttype filter hook prerouting priority -200; policy accept;\n")
	for _, p := range ports {
		macs := []string{strings.ToLower(p.MAC)}
		var ips []string
		for _, ip := range p.FixedIPs {
			if ip.IP.Is4() {
				ips = append(ips, ip.IP.String())
			}
		}
		for _, ap := range p.AllowedAddressPairs {
			if ap.MAC != "" {
				macs = append(macs, strings.ToLower(ap.MAC))
			}
			switch {
			case !ap.IP.IsValid() || !ap.IP.Addr().Is4():
			case ap.IP.IsSingleIP():
				ips = append(ips, ap.IP.Addr().String())
			default:
				ips = append(ips, ap.IP.Masked().String())
			}
		}
		slices.Sort(macs)
		macs = slices.Compact(macs)
		slices.Sort(ips)
		ips = slices.Compact(ips)
		tap := dataplane.TapName(p.ID)
		fmt.Fprintf(&b, "\t\tiifname %q ether saddr != { %s } drop\n", tap, strings.Join(macs, ", "))
		if len(ips) == 0 {
			fmt.Fprintf(&b, "\t\tiifname %q ether type arp drop\n", tap)
		} else {
			fmt.Fprintf(&b, "\t\tiifname %q arp saddr ip != { %s } drop\n", tap, strings.Join(ips, ", "))
		}
		fmt.Fprintf(&b, "\t\tiifname %q arp saddr ether != { %s } drop\n", tap, strings.Join(macs, ", "))
	}
	b.WriteString("\t}\n")
	return b.String()
}

var arpSumRE = regexp.MustCompile(`comment "sum=(\w+)"`)

// syncARP makes the bridge table match st: rewritten in one transaction when its
// checksum differs, deleted when no port is filtered.
func (a *Agent) syncARP(ctx context.Context, ns string, st dataplane.State) error {
	body := renderARP(st)
	out, err := a.Runner.Run(ctx, ns, "nft", "list", "table", "bridge", ARPTable)
	exists := err == nil
	if body == "" {
		if exists {
			_, err := a.Runner.Run(ctx, ns, "nft", "delete", "table", "bridge", ARPTable)
			return err
		}
		return nil
	}
	h := sha256.Sum256([]byte(body))
	sum := hex.EncodeToString(h[:8])
	listing := string(out)
	if m := arpSumRE.FindStringSubmatch(listing); exists && m != nil && m[1] == sum {
		if last, seen := a.applied["arp"]; !seen || last == listing {
			a.applied["arp"] = listing
			return nil
		}
	}
	script := fmt.Sprintf("table bridge %[1]s\ndelete table bridge %[1]s\ntable bridge %[1]s {\n\tcomment \"sum=%[2]s\"\n%[3]s}\n", ARPTable, sum, body)
	if _, err := a.Runner.Run(ctx, ns, "nft", script); err != nil {
		return err
	}
	if out, err := a.Runner.Run(ctx, ns, "nft", "list", "table", "bridge", ARPTable); err == nil {
		a.applied["arp"] = string(out)
	}
	return nil
}
