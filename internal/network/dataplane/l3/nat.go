package l3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// Table is the nftables table Nimbus owns in each router namespace: the NAT of the
// router (upstream's neutron-l3-agent iptables chains) and the mark that tells whose
// namespace it is.
const Table = "nimbus-l3"

// renderNAT returns the body of the router's table: SNAT of its tenant subnets to
// the gateway address (unless disabled) and, per floating IP, DNAT floating → fixed
// and SNAT fixed → floating (before the subnet SNAT, so a floating IP's instance
// leaves with its floating address). Only IPv4 is translated, as upstream.
func renderNAT(r dataplane.Router) string {
	var pre, out, post []string
	if r.Gateway != nil {
		qg := dataplane.RouterGatewayName(r.Gateway.Port.ID)
		for _, f := range r.FloatingIPs {
			if !f.FloatingIP.Is4() || !f.FixedIP.Is4() {
				continue
			}
			pre = append(pre, fmt.Sprintf("ip daddr %s dnat to %s", f.FloatingIP, f.FixedIP))
			// The router itself (e.g. a metadata proxy) reaching a floating IP.
			out = append(out, fmt.Sprintf("ip daddr %s dnat to %s", f.FloatingIP, f.FixedIP))
			post = append(post, fmt.Sprintf("oifname %q ip saddr %s snat to %s", qg, f.FixedIP, f.FloatingIP))
		}
		if gw := gatewayAddr4(r); r.EnableSNAT && gw.IsValid() {
			var nets []string
			for _, p := range r.Interfaces {
				for _, s := range p.Subnets {
					if s.CIDR.Addr().Is4() {
						nets = append(nets, s.CIDR.Masked().String())
					}
				}
			}
			if len(nets) > 0 {
				post = append(post, fmt.Sprintf("oifname %q ip saddr { %s } snat to %s", qg, strings.Join(nets, ", "), gw))
			}
		}
	}
	var b strings.Builder
	chain := func(name, hook, prio string, rules []string) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype nat hook %s priority %s; policy accept;\n", name, hook, prio)
		for _, rule := range rules {
			fmt.Fprintf(&b, "\t\t%s\n", rule)
		}
		b.WriteString("\t}\n")
	}
	chain("prerouting", "prerouting", "dstnat", pre)
	chain("output", "output", "-100", out)
	chain("postrouting", "postrouting", "srcnat", post)
	return b.String()
}

// renderTable is the whole nft script that replaces the router's table atomically
// (one transaction: create if missing, delete, create with the content). The comment
// carries the owner (which host made it) and a checksum of the content, so a
// converge that finds the same checksum changes nothing.
func renderTable(owner string, r dataplane.Router) (script, sum string) {
	body := renderNAT(r)
	h := sha256.Sum256([]byte(body))
	sum = hex.EncodeToString(h[:8])
	script = fmt.Sprintf("table ip %[1]s\ndelete table ip %[1]s\ntable ip %[1]s {\n\tcomment \"owner=%[2]s sum=%[3]s\"\n%[4]s}\n",
		Table, owner, sum, body)
	return script, sum
}

var commentRE = regexp.MustCompile(`comment "owner=(\S*) sum=(\S*)"`)

// tableMark reads the owner and checksum of the router table in ns; ok is false
// when the namespace has no such table.
func tableMark(ctx context.Context, r dataplane.Runner, ns string) (owner, sum, listing string, ok bool) {
	out, err := r.Run(ctx, ns, "nft", "list", "table", "ip", Table)
	if err != nil {
		return "", "", "", false
	}
	m := commentRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", "", string(out), true
	}
	return m[1], m[2], string(out), true
}

// gatewayAddr4 is the router's IPv4 address on the external network, the source of
// its SNAT.
func gatewayAddr4(r dataplane.Router) netip.Addr {
	if r.Gateway == nil {
		return netip.Addr{}
	}
	for _, ip := range r.Gateway.Port.FixedIPs {
		if ip.IP.Is4() {
			return ip.IP
		}
	}
	return netip.Addr{}
}
