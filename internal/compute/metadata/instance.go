// Package metadata is Nova's metadata API (port 8775), which guests reach through
// the network service's proxy at 169.254.169.254: the OpenStack format
// (/openstack/<version>/meta_data.json, network_data.json, user_data,
// vendor_data.json, vendor_data2.json) and the EC2 format (/<version>/meta-data/...,
// /<version>/user-data), each instance seeing only its own; and the config drive,
// the same files on an ISO 9660 image labelled config-2.
package metadata

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrNotFound is what a Source answers for an unknown instance; the API then
// answers 404, as upstream.
var ErrNotFound = errors.New("instance not found")

// Instance is what the metadata of one instance is made of; the compute service
// fills it from its database (Source).
type Instance struct {
	UUID string
	// EC2ID is the integer behind the EC2 instance-id i-%08x (upstream's
	// ec2_instances mapping row); 0 derives it from the UUID's first 32 bits.
	EC2ID     int64
	Name      string // the display name
	Hostname  string // the guest's host name (from the display name)
	ProjectID string
	// ReservationID and LaunchIndex come from the create request (r-xxxxxxxx,
	// the index among min/max_count servers).
	ReservationID    string
	LaunchIndex      int
	AvailabilityZone string
	// InstanceType is the flavor name; ImageID the image booted from.
	InstanceType string
	ImageID      string
	KernelID     string
	RamdiskID    string
	// Keys are the instance's key pair (upstream exposes the one key_name).
	Keys           []KeyPair
	UserData       []byte // nil when none
	Metadata       map[string]string
	SecurityGroups []string
	LaunchedAt     time.Time
	// Host is the compute host's name (EC2 placement, not the guest's).
	Host  string
	Ports []Port
	// RootDeviceName is the guest's root disk (/dev/vda), for the EC2
	// block-device-mapping; "" gives upstream's defaults (sda1...).
	RootDeviceName string
	// Ephemerals are the devices of its ephemeral disks (ephemeral0...) and
	// Swap its swap disk's ("" when none), for the block-device-mapping.
	Ephemerals []string
	Swap       string
	// Volumes are the devices of its volumes (ebs0...).
	Volumes []string
	// Password is what the guest posted to /openstack/<version>/password (upstream
	// keeps it in the password_0..3 system metadata), "" when none.
	Password string
	// AdminPass is the create request's adminPass: as upstream, it is written to
	// the config drive's meta_data.json (admin_pass) and never served by the API.
	AdminPass string
}

// KeyPair is an SSH (or x509) public key.
type KeyPair struct {
	Name      string
	Type      string // ssh, x509
	PublicKey string
}

// Port is one of the instance's network ports, for network_data.json and the EC2
// local-ipv4 / public-ipv4.
type Port struct {
	ID        string
	NetworkID string
	MAC       string
	MTU       int
	FixedIPs  []FixedIP
	// FloatingIPs are the floating IPs associated with the port.
	FloatingIPs []netip.Addr
}

// FixedIP is an address of a port with its subnet's settings.
type FixedIP struct {
	IP             netip.Addr
	SubnetID       string
	CIDR           netip.Prefix
	Gateway        netip.Addr // invalid when none
	DNSNameservers []netip.Addr
	HostRoutes     []Route
	// IPv6AddressMode is slaac, dhcpv6-stateful, dhcpv6-stateless or "".
	IPv6AddressMode string
	// EnableDHCP is the subnet's enable_dhcp; DHCPServer the address of its DHCP
	// port (invalid when none). As upstream, either makes the network
	// ipv4_dhcp/ipv6_dhcp in network_data.json, and a DHCP port leaves the link's
	// MTU null (the guest learns it from DHCP).
	EnableDHCP bool
	DHCPServer netip.Addr
}

// Route is a subnet's host route.
type Route struct {
	Destination netip.Prefix
	NextHop     netip.Addr
}

// Source finds an instance by its UUID; an unknown one is ErrNotFound.
type Source interface {
	Instance(ctx context.Context, uuid string) (*Instance, error)
}

// PasswordStore is what a Source also implements to keep the password a guest
// posts to /openstack/<version>/password (cloudbase-init posts the encrypted
// admin password); without it such a POST answers 400.
type PasswordStore interface {
	SetPassword(ctx context.Context, uuid, password string) error
}
