// Package dataplane turns the network service's desired state into a Linux data plane,
// with upstream Neutron's Linux-bridge layout and names so operators' knowledge
// carries over: a bridge brq<net[:11]> per network, tap<port[:11]> per port, a
// vxlan-<VNI> device per VXLAN network, DHCP in qdhcp-<net> with one dnsmasq per
// network, routers in qrouter-<router> with qr-/qg- interfaces, security groups as
// per-port filter chains.
//
// Agents are level-triggered: Converge takes the whole desired state of one host and
// makes the host match it (creating what is missing, fixing what differs, removing
// what Nimbus made that is no longer wanted), so running it twice changes nothing and
// running it after a crash repairs everything. This file holds the desired-state
// types every part of the data plane shares; the parts live in subpackages.
package dataplane

import (
	"net/netip"
	"strconv"
)

// Host is one machine's identity in the data plane.
type Host struct {
	Name string
	// VTEP is the local tunnel endpoint address for VXLAN (upstream's [vxlan] local_ip).
	VTEP netip.Addr
	// PhysicalInterfaces maps a physical network label to a local interface
	// (upstream's physical_interface_mappings, e.g. "public" -> "eth2").
	PhysicalInterfaces map[string]string
	// Namespace, when set, is the network namespace that plays this host's root
	// namespace: tests simulate several hosts on one machine this way. Empty means the
	// real root namespace.
	Namespace string
	// EnableIsolatedMetadata and ForceMetadata are upstream's DHCP agent options of
	// those names: the DHCP namespace of a network also serves the metadata API
	// when one of its IPv4 DHCP subnets has no router (isolated), or always
	// (DHCPMetadata).
	EnableIsolatedMetadata bool
	ForceMetadata          bool
}

// State is everything one host must realise.
type State struct {
	Host     Host
	Networks []Network
	Routers  []Router
	// SecurityGroups referenced by the ports of Networks, by ID.
	SecurityGroups map[string]SecurityGroup
}

// Network types, as Neutron's provider:network_type.
const (
	TypeLocal = "local"
	TypeFlat  = "flat"
	TypeVLAN  = "vlan"
	TypeVXLAN = "vxlan"
)

// Network is a Neutron network as far as one host is concerned.
type Network struct {
	ID              string
	Type            string // local, flat, vlan, vxlan
	PhysicalNetwork string // flat and vlan
	SegmentationID  int    // VLAN ID or VNI
	MTU             int
	AdminStateUp    bool
	Subnets         []Subnet
	// Ports bound to this host, plus the DHCP port when this host serves DHCP.
	Ports []Port
	// DHCP is true when this host runs the network's DHCP server (qdhcp namespace).
	DHCP bool
	// Peers are the ports of this network bound to other hosts, for VXLAN
	// l2population: static FDB entries (MAC -> remote VTEP) and ARP entries.
	Peers []Peer
	// DHCPHosts, when DHCP is true, are all ports of the network with fixed IPs,
	// on any host (the DHCP port included): the DHCP server's static host entries
	// (MAC, IP, hostname). Nil falls back to Ports and Peers.
	DHCPHosts []Port
}

// Subnet is a Neutron subnet.
type Subnet struct {
	ID             string
	IPVersion      int
	CIDR           netip.Prefix
	GatewayIP      netip.Addr // invalid (zero) when the subnet has no gateway
	EnableDHCP     bool
	DNSNameservers []netip.Addr
	HostRoutes     []Route
	// IPv6AddressMode and IPv6RAMode are Neutron's ipv6_address_mode and
	// ipv6_ra_mode (IPv6SLAAC, DHCPv6Stateful, DHCPv6Stateless, or "" for none):
	// how instances get their addresses, and whether OpenStack advertises the
	// prefix (router advertisements).
	IPv6AddressMode string
	IPv6RAMode      string
}

// IPv6 address and RA modes, as Neutron's.
const (
	IPv6SLAAC       = "slaac"
	DHCPv6Stateful  = "dhcpv6-stateful"
	DHCPv6Stateless = "dhcpv6-stateless"
)

// Route is a host route or a router's extra route.
type Route struct {
	Destination netip.Prefix
	NextHop     netip.Addr
}

// Device owners the data plane treats specially (Neutron's device_owner values).
const (
	OwnerDHCP            = "network:dhcp"
	OwnerRouterInterface = "network:router_interface"
	OwnerRouterGateway   = "network:router_gateway"
	OwnerFloatingIP      = "network:floatingip"
	OwnerComputePrefix   = "compute:"
)

// Port is a Neutron port bound to this host.
type Port struct {
	ID           string
	MAC          string // fa:16:3e:xx:xx:xx
	FixedIPs     []FixedIP
	DeviceOwner  string
	DeviceID     string
	AdminStateUp bool
	// Hostname is what DHCP tells the port's instance (Neutron's dns_name, else
	// host-<ip with dashes>).
	Hostname string
	// PortSecurity enables anti-spoofing and security groups on the port.
	PortSecurity        bool
	SecurityGroups      []string
	AllowedAddressPairs []AddressPair
}

// FixedIP is one address of a port.
type FixedIP struct {
	SubnetID string
	IP       netip.Addr
}

// AddressPair is an extra (MAC, IP or CIDR) a port may send from.
type AddressPair struct {
	MAC string // empty: the port's own MAC
	IP  netip.Prefix
}

// Peer is a port on another host of a VXLAN network.
type Peer struct {
	MAC  string
	IPs  []netip.Addr
	VTEP netip.Addr
}

// Router is a Neutron router hosted here (its qrouter namespace).
type Router struct {
	ID           string
	AdminStateUp bool
	// Interfaces are its ports on tenant networks (qr- devices).
	Interfaces []RouterPort
	// Gateway is its port on the external network (qg- device); nil without one.
	Gateway     *RouterPort
	EnableSNAT  bool
	Routes      []Route
	FloatingIPs []FloatingIP
}

// RouterPort is a router's port with the subnets (and so the prefix lengths) of its addresses.
type RouterPort struct {
	Port      Port
	NetworkID string
	Subnets   []Subnet
}

// FloatingIP maps an external address to a fixed address behind the router.
type FloatingIP struct {
	ID         string
	FloatingIP netip.Addr
	FixedIP    netip.Addr
}

// SecurityGroup is a set of allow rules; ports in it are its members for
// remote_group_id rules.
type SecurityGroup struct {
	ID    string
	Rules []SecurityGroupRule
	// MemberIPs are the fixed IPs (and allowed address pairs) of every port in the
	// group, on any host, for rules of other groups that name this one as remote.
	MemberIPs []netip.Prefix
}

// SecurityGroupRule is one allow rule, as Neutron's.
type SecurityGroupRule struct {
	ID             string
	Direction      string // ingress or egress
	EtherType      string // IPv4 or IPv6
	Protocol       string // "", tcp, udp, icmp, icmpv6, or a number
	PortRangeMin   int    // 0 = any; for ICMP the type
	PortRangeMax   int    // 0 = any; for ICMP the code
	RemoteIPPrefix netip.Prefix
	RemoteGroupID  string
}

// Device names, as upstream builds them: a prefix and the first 11 characters of the
// resource ID, within Linux's 15-character interface names.
func BridgeName(networkID string) string { return "brq" + short(networkID) }

// TapName is the root-namespace end of a port: the instance's tap, or the bridge
// side of a namespace's veth pair.
func TapName(portID string) string { return "tap" + short(portID) }

// DHCPDeviceName is the qdhcp namespace's end of the DHCP port's veth pair.
func DHCPDeviceName(portID string) string { return "ns-" + short(portID) }

// RouterInterfaceName is a router's tenant-side device in its namespace.
func RouterInterfaceName(portID string) string { return "qr-" + short(portID) }

// RouterGatewayName is a router's external-side device in its namespace.
func RouterGatewayName(portID string) string { return "qg-" + short(portID) }

// VXLANName is the VXLAN device of a network with that VNI.
func VXLANName(vni int) string { return "vxlan-" + strconv.Itoa(vni) }

// DHCPNamespace and RouterNamespace are the namespaces upstream names.
func DHCPNamespace(networkID string) string  { return "qdhcp-" + networkID }
func RouterNamespace(routerID string) string { return "qrouter-" + routerID }

func short(id string) string {
	if len(id) > 11 {
		return id[:11]
	}
	return id
}
