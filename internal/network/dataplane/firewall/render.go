package firewall

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// Chain names, as upstream's iptables firewall driver (neutron-linuxbri- is the
// agent's prefix): operators' iptables-save reading skills carry over.
const (
	prefix      = "neutron-linuxbri-"
	chainFwd    = prefix + "FORWARD"
	chainInput  = prefix + "INPUT"
	chainSG     = prefix + "sg-chain"
	chainFallbk = prefix + "sg-fallback"
	chainZone   = prefix + "PREROUTING" // in the raw table
)

// IngressChain, EgressChain and SpoofChain are a port's chains: i (to the
// instance), o (from it), s (its allowed source addresses).
func IngressChain(portID string) string { return prefix + "i" + short10(portID) }
func EgressChain(portID string) string  { return prefix + "o" + short10(portID) }
func SpoofChain(portID string) string   { return prefix + "s" + short10(portID) }

func short10(id string) string {
	if len(id) > 10 {
		return id[:10]
	}
	return id
}

// family is one IP version's tools and names.
type family struct {
	ether   string // the rules' ethertype
	cmd     string
	save    string
	restore string
	setFam  string // ipset family
	any     netip.Prefix
	icmp    string // protocol name of ICMP in this family
}

var (
	ipv4 = family{"IPv4", "iptables", "iptables-save", "iptables-restore", "inet", netip.MustParsePrefix("0.0.0.0/0"), "icmp"}
	ipv6 = family{"IPv6", "ip6tables", "ip6tables-save", "ip6tables-restore", "inet6", netip.MustParsePrefix("::/0"), "ipv6-icmp"}
)

func (f family) has(a netip.Addr) bool { return a.Is4() == (f.ether == "IPv4") }

// SetName is the ipset of a security group's member addresses for one ethertype,
// as upstream names it (N + ethertype + group ID, within ipset's 31 characters).
func SetName(ether, groupID string) string { return trunc31("N" + ether + groupID) }

// tempSetName is where a set's new content is built before it is swapped in.
func tempSetName(ether, groupID string) string { return trunc31("T" + ether + groupID) }

func trunc31(s string) string {
	if len(s) > 31 {
		return s[:31]
	}
	return s
}

// filteredPort is a port this host filters: port security on, and not a port of
// Neutron's own devices (router, DHCP, floating IP), which upstream never filters.
func filteredPort(p dataplane.Port) bool {
	return p.PortSecurity && !strings.HasPrefix(p.DeviceOwner, "network:")
}

// ruleset is the rendered content of our chains for one family.
type ruleset struct {
	chains []string // every chain, in order
	rules  []string // "-A chain ..." lines
	raw    []string // "-A chain ..." lines of the raw table (conntrack zones)
	sets   map[string]bool
}

// render returns our chains and rules for the filtered ports of st, in one family.
func render(f family, st dataplane.State) ruleset {
	rs := ruleset{chains: []string{chainFwd, chainInput, chainSG, chainFallbk}, sets: map[string]bool{}}
	add := func(chain, rule string) { rs.rules = append(rs.rules, "-A "+chain+" "+rule) }
	var ports []dataplane.Port
	for _, n := range st.Networks {
		for _, p := range n.Ports {
			if filteredPort(p) {
				ports = append(ports, p)
			}
		}
	}
	slices.SortFunc(ports, func(a, b dataplane.Port) int { return strings.Compare(a.ID, b.ID) })
	rs.raw = zoneRules(st)
	for _, p := range ports {
		tap := dataplane.TapName(p.ID)
		in, out, spoof := IngressChain(p.ID), EgressChain(p.ID), SpoofChain(p.ID)
		rs.chains = append(rs.chains, in, out, spoof)
		add(chainFwd, "-m physdev --physdev-out "+tap+" --physdev-is-bridged -j "+chainSG)
		add(chainFwd, "-m physdev --physdev-in "+tap+" --physdev-is-bridged -j "+chainSG)
		add(chainInput, "-m physdev --physdev-in "+tap+" --physdev-is-bridged -j "+out)
		add(chainSG, "-m physdev --physdev-out "+tap+" --physdev-is-bridged -j "+in)
		add(chainSG, "-m physdev --physdev-in "+tap+" --physdev-is-bridged -j "+out)
		portChains(f, st, p, add, rs.sets)
	}
	add(chainSG, "-j ACCEPT")
	add(chainFallbk, "-j DROP")
	return rs
}

// portChains renders one port's ingress, egress and anti-spoofing chains.
func portChains(f family, st dataplane.State, p dataplane.Port, add func(chain, rule string), sets map[string]bool) {
	in, out, spoof := IngressChain(p.ID), EgressChain(p.ID), SpoofChain(p.ID)

	// Ingress: replies of what the instance started, DHCP (and IPv6 neighbour
	// discovery and router advertisements), the groups' rules, nothing else.
	add(in, "-m state --state RELATED,ESTABLISHED -j RETURN")
	if f == ipv4 {
		add(in, "-p udp -m udp --sport 67 --dport 68 -j RETURN")
	} else {
		for _, t := range []int{130, 131, 132, 134, 135, 136} {
			add(in, "-p ipv6-icmp -m icmp6 --icmpv6-type "+strconv.Itoa(t)+" -j RETURN")
		}
		add(in, "-p udp -m udp --sport 547 --dport 546 -j RETURN")
	}
	for _, r := range groupRules(f, st, p, "ingress", sets) {
		add(in, r)
	}
	add(in, "-m state --state INVALID -j DROP")
	add(in, "-j "+chainFallbk)

	// Egress: a DHCP client may ask before it has an address; then only the port's
	// own MAC and addresses may leave; never a DHCP server (or IPv6 router).
	if f == ipv4 {
		add(out, "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN")
	} else {
		for _, t := range []int{131, 133, 135, 136, 143} {
			add(out, "-p ipv6-icmp -m icmp6 --icmpv6-type "+strconv.Itoa(t)+" -j RETURN")
		}
		add(out, "-p udp -m udp --sport 546 --dport 547 -j RETURN")
	}
	add(out, "-j "+spoof)
	if f == ipv4 {
		add(out, "-p udp -m udp --sport 68 --dport 67 -j RETURN")
		add(out, "-p udp -m udp --sport 67 --dport 68 -j DROP")
	} else {
		add(out, "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP")
		add(out, "-p udp -m udp --sport 547 --dport 546 -j DROP")
	}
	add(out, "-m state --state RELATED,ESTABLISHED -j RETURN")
	for _, r := range groupRules(f, st, p, "egress", sets) {
		add(out, r)
	}
	add(out, "-m state --state INVALID -j DROP")
	add(out, "-j "+chainFallbk)

	// Anti-spoofing: (source, MAC) pairs of the port's fixed IPs and allowed
	// address pairs.
	mac := strings.ToUpper(p.MAC)
	var pairs []string
	for _, ip := range p.FixedIPs {
		if f.has(ip.IP) {
			pairs = append(pairs, netip.PrefixFrom(ip.IP, ip.IP.BitLen()).String()+" "+mac)
		}
	}
	if f == ipv6 {
		if ll, ok := linkLocal(p.MAC); ok {
			pairs = append(pairs, netip.PrefixFrom(ll, 128).String()+" "+mac)
		}
	}
	for _, ap := range p.AllowedAddressPairs {
		if !ap.IP.IsValid() || !f.has(ap.IP.Addr()) {
			continue
		}
		m := mac
		if ap.MAC != "" {
			m = strings.ToUpper(ap.MAC)
		}
		pairs = append(pairs, ap.IP.Masked().String()+" "+m)
	}
	slices.Sort(pairs)
	pairs = slices.Compact(pairs)
	for _, pr := range pairs {
		src, m, _ := strings.Cut(pr, " ")
		add(spoof, "-s "+src+" -m mac --mac-source "+m+" -j RETURN")
	}
	add(spoof, "-j DROP")
}

// groupRules renders the rules of the port's security groups in one direction.
func groupRules(f family, st dataplane.State, p dataplane.Port, direction string, sets map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, gid := range p.SecurityGroups {
		g, ok := st.SecurityGroups[gid]
		if !ok {
			continue
		}
		for _, r := range g.Rules {
			if r.Direction != direction || r.EtherType != "" && r.EtherType != f.ether {
				continue
			}
			rule, ok := renderRule(f, r, sets)
			if ok && !seen[rule] {
				seen[rule] = true
				out = append(out, rule)
			}
		}
	}
	return out
}

// renderRule turns one security group rule into iptables matches ending in RETURN
// (accepted by this port's chain; the sg-chain's final ACCEPT lets it through).
func renderRule(f family, r dataplane.SecurityGroupRule, sets map[string]bool) (string, bool) {
	var m []string
	remoteFlag, setDir := "-s", "src"
	if r.Direction == "egress" {
		remoteFlag, setDir = "-d", "dst"
	}
	if r.RemoteIPPrefix.IsValid() {
		if !f.has(r.RemoteIPPrefix.Addr()) {
			return "", false
		}
		if r.RemoteIPPrefix.Bits() > 0 {
			m = append(m, remoteFlag, r.RemoteIPPrefix.Masked().String())
		}
	}
	if r.RemoteGroupID != "" {
		name := SetName(f.ether, r.RemoteGroupID)
		sets[name] = true
		m = append(m, "-m set --match-set", name, setDir)
	}
	proto := strings.ToLower(r.Protocol)
	switch proto {
	case "", "any":
	case "icmp", "icmpv6", "ipv6-icmp", "1", "58":
		if f == ipv4 && (proto == "icmpv6" || proto == "ipv6-icmp" || proto == "58") {
			return "", false
		}
		m = append(m, "-p", f.icmp)
		if r.PortRangeMin > 0 || r.PortRangeMax > 0 {
			typ := strconv.Itoa(r.PortRangeMin)
			if r.PortRangeMax > 0 {
				typ += "/" + strconv.Itoa(r.PortRangeMax)
			}
			if f == ipv4 {
				m = append(m, "-m icmp --icmp-type", typ)
			} else {
				m = append(m, "-m icmp6 --icmpv6-type", typ)
			}
		}
	case "tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136":
		name := map[string]string{"6": "tcp", "17": "udp", "132": "sctp", "33": "dccp", "136": "udplite"}[proto]
		if name == "" {
			name = proto
		}
		m = append(m, "-p", name)
		if r.PortRangeMin > 0 || r.PortRangeMax > 0 {
			lo, hi := r.PortRangeMin, r.PortRangeMax
			if lo == 0 {
				lo = 1
			}
			if hi == 0 {
				hi = 65535
			}
			ports := strconv.Itoa(lo)
			if hi != lo {
				ports += ":" + strconv.Itoa(hi)
			}
			if name == "udplite" {
				m = append(m, "-m multiport --dports", ports)
			} else {
				m = append(m, "-m", name, "--dport", ports)
			}
		}
	default:
		n, err := strconv.Atoi(proto)
		if err != nil || n < 0 || n > 255 {
			if _, known := protoNumbers[proto]; !known {
				return "", false
			}
			n = protoNumbers[proto]
		}
		m = append(m, "-p", strconv.Itoa(n))
	}
	m = append(m, "-j RETURN")
	return strings.Join(m, " "), true
}

// protoNumbers are the other protocol names Neutron accepts.
var protoNumbers = map[string]int{
	"ah": 51, "egp": 8, "esp": 50, "gre": 47, "igmp": 2, "ipip": 4, "ipv6-encap": 41,
	"ipv6-frag": 44, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
	"pgm": 113, "rsvp": 46, "vrrp": 112,
}

// linkLocal is the EUI-64 IPv6 link-local address of a MAC, which an instance uses
// for neighbour discovery.
func linkLocal(mac string) (netip.Addr, bool) {
	var b [6]byte
	if _, err := fmt.Sscanf(strings.ToLower(mac), "%02x:%02x:%02x:%02x:%02x:%02x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil {
		return netip.Addr{}, false
	}
	a := [16]byte{0xfe, 0x80, 8: b[0] ^ 2, b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]}
	return netip.AddrFrom16(a), true
}

// zoneRules give each network with filtered ports a conntrack zone of its own, as
// upstream does: bridged traffic of every network meets in one conntrack table, and
// two projects may use the same addresses, so without zones one network's
// connection could make another's packets look ESTABLISHED. The zone follows the
// frame's ingress port (any port of the network, filtered or not) or the bridge.
func zoneRules(st dataplane.State) []string {
	var nets []dataplane.Network
	for _, n := range st.Networks {
		if slices.ContainsFunc(n.Ports, filteredPort) {
			nets = append(nets, n)
		}
	}
	slices.SortFunc(nets, func(a, b dataplane.Network) int { return strings.Compare(a.ID, b.ID) })
	zones := Zones(nets)
	var out []string
	for _, n := range nets {
		z := strconv.Itoa(zones[n.ID])
		out = append(out, "-A "+chainZone+" -i "+dataplane.BridgeName(n.ID)+" -j CT --zone "+z)
		ids := make([]string, 0, len(n.Ports))
		for _, p := range n.Ports {
			ids = append(ids, p.ID)
		}
		slices.Sort(ids)
		for _, id := range ids {
			out = append(out, "-A "+chainZone+" -m physdev --physdev-in "+dataplane.TapName(id)+" -j CT --zone "+z)
		}
	}
	return out
}

// Zones assigns conntrack zones to networks: from a hash of the ID (so a network
// keeps its zone while others come and go), above upstream's first 4096, the
// next free one on a collision.
func Zones(nets []dataplane.Network) map[string]int {
	const first, count = 4097, 65535 - 4097
	out := map[string]int{}
	used := map[int]bool{}
	for _, n := range nets {
		h := fnv.New32a()
		h.Write([]byte(n.ID))
		z := int(h.Sum32() % count)
		for used[first+z] {
			z = (z + 1) % count
		}
		used[first+z] = true
		out[n.ID] = first + z
	}
	return out
}

// script is the iptables-restore input that declares (so flushes) our chains and
// fills them; the first rule of the top chain carries the checksum of the rest.
func (rs ruleset) script(sum string) string {
	var b strings.Builder
	b.WriteString("*raw\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n", chainZone)
	for _, r := range rs.raw {
		b.WriteString(r + "\n")
	}
	b.WriteString("COMMIT\n*filter\n")
	for _, c := range rs.chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", c)
	}
	fmt.Fprintf(&b, "-A %s -m comment --comment \"nimbus sum=%s\"\n", chainFwd, sum)
	for _, r := range rs.rules {
		b.WriteString(r + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
