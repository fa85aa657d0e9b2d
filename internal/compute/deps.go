package compute

import (
	"context"
	"io"
	"net/netip"
	"net/url"
)

// Image is what compute needs to know of an image.
type Image struct {
	ID              string
	Name            string
	Status          string
	DiskFormat      string
	ContainerFormat string
	Size            int64
	VirtualSize     int64
	MinDisk         int // GB
	MinRAM          int // MB
	// Checksum (md5), HashAlgo and HashValue (os_hash_algo, os_hash_value)
	// name the image's data: the compute hosts' image cache is keyed by them.
	Checksum, HashAlgo, HashValue string
	// Properties are the image's other properties: kernel_id, ramdisk_id,
	// os_command_line, architecture, hypervisor_type, hw_*...
	Properties map[string]string
	// CreatedAt and UpdatedAt are the image service's timestamps (ISO 8601).
	CreatedAt, UpdatedAt string
}

// ImageProxy is the image service as compute's deprecated image proxy uses it
// (/images to 2.35, image metadata to 2.38), as the caller (token) may.
type ImageProxy interface {
	// ListImages lists images with Glance v2's filters and paging (name,
	// status, updated_at, properties; limit, marker).
	ListImages(ctx context.Context, token string, query url.Values) ([]Image, error)
	DeleteImage(ctx context.Context, token, id string) error
	// SetImageProperties makes props the image's properties, every other
	// property removed (upstream's update with purge_props).
	SetImageProperties(ctx context.Context, token, id string, props map[string]string) (Image, error)
	// ImageURL is the image API's public URL, for the images' alternate links.
	ImageURL() string
}

// Images is the image service as compute uses it. Get answers as the caller
// (token) may see the image, so visibility is the image service's; Download
// uses the service's own credentials.
type Images interface {
	Get(ctx context.Context, token, id string) (Image, error)
	Download(ctx context.Context, id string, w io.Writer) error
}

// NetworkInfo is a network as the server create request checks it.
type NetworkInfo struct {
	ID        string
	Name      string
	ProjectID string
	Shared    bool
	External  bool
	MTU       int
}

// Port is a network port as compute binds it.
type Port struct {
	ID          string
	NetworkID   string
	ProjectID   string
	MAC         string
	Status      string // DOWN until the host's agent wired it, then ACTIVE
	DeviceID    string
	DeviceOwner string
	HostID      string
	FixedIPs    []PortIP
	// SecurityGroups are the ids of the port's groups.
	SecurityGroups []string
	// PortSecurityEnabled and IPAllocation ("deferred" for an address given
	// later) decide whether groups can apply to the port at all.
	PortSecurityEnabled bool
	IPAllocation        string
}

// PortIP is a fixed IP of a port.
type PortIP struct {
	SubnetID string
	IP       netip.Addr
}

// PortRequest asks for a port for an instance, as its user may (upstream's
// minimal port): the binding (device owner, host) is BindPort's.
type PortRequest struct {
	ProjectID      string
	NetworkID      string
	FixedIP        string // "" for any
	SecurityGroups []string
	DeviceID       string
}

// Network is the network service as compute uses it. The token-taking calls
// answer as the caller may see networks, ports and security groups (and make
// ports as the caller may); the others use the service's own credentials
// (port binding is an admin's act).
type Network interface {
	// Networks are the networks the caller's project may boot on (its own and
	// shared ones, no external ones), for a request that names none.
	Networks(ctx context.Context, token string) ([]NetworkInfo, error)
	GetNetwork(ctx context.Context, token, id string) (NetworkInfo, error)
	GetPort(ctx context.Context, token, id string) (Port, error)
	// SecurityGroupIDs resolves names or ids of the project's security groups.
	SecurityGroupIDs(ctx context.Context, token, project string, namesOrIDs []string) ([]string, error)
	// CreatePort makes a port as the caller (token): a server's ports are made
	// with its user's token, never with compute's own credentials.
	CreatePort(ctx context.Context, token string, req PortRequest) (Port, error)
	// BindPort sets the port's device and host (binding:host_id).
	BindPort(ctx context.Context, portID, deviceID, deviceOwner, host string) (Port, error)
	// UnbindPort clears the device and host of a port the user brought.
	UnbindPort(ctx context.Context, portID string) error
	DeletePort(ctx context.Context, portID string) error
	PortStatus(ctx context.Context, portID string) (Port, error)
	// FloatingIPs are the floating IPs associated with the port.
	FloatingIPs(ctx context.Context, portID string) ([]netip.Addr, error)

	// DevicePorts are the ports of deviceID the caller may see.
	DevicePorts(ctx context.Context, token, deviceID string) ([]Port, error)
	// SetPortSecurityGroups replaces the port's groups, as the caller.
	SetPortSecurityGroups(ctx context.Context, token, portID string, groupIDs []string) (Port, error)
	SecurityGroupAPI
}

// SecurityGroupAPI is the network service's security groups as the caller
// (token) may see and change them: the service scopes everything to the
// token's project, so compute never widens what a user reaches.
type SecurityGroupAPI interface {
	SecurityGroups(ctx context.Context, token string, filter SecurityGroupFilter) ([]SecurityGroup, error)
	GetSecurityGroup(ctx context.Context, token, id string) (SecurityGroup, error)
	CreateSecurityGroup(ctx context.Context, token, name, description string) (SecurityGroup, error)
	UpdateSecurityGroup(ctx context.Context, token, id, name, description string) (SecurityGroup, error)
	DeleteSecurityGroup(ctx context.Context, token, id string) error
	GetSecurityGroupRule(ctx context.Context, token, id string) (SecurityGroupRule, error)
	CreateSecurityGroupRule(ctx context.Context, token string, rule SecurityGroupRule) (SecurityGroupRule, error)
	DeleteSecurityGroupRule(ctx context.Context, token, id string) error
}

// SecurityGroup is a network security group with its rules.
type SecurityGroup struct {
	ID          string
	Name        string
	Description string
	ProjectID   string
	Rules       []SecurityGroupRule
}

// SecurityGroupRule is a rule as the network service has it; "" and nil are
// its nulls.
type SecurityGroupRule struct {
	ID             string
	GroupID        string // security_group_id
	Direction      string // ingress or egress
	EtherType      string // IPv4 or IPv6
	Protocol       string
	PortMin        *int
	PortMax        *int
	RemoteIPPrefix string
	RemoteGroupID  string
}

// SecurityGroupFilter narrows a list; zero fields do not.
type SecurityGroupFilter struct {
	ProjectID string
	Name      string
	IDs       []string
}

// FloatingIP is a floating IP as Nova's deprecated os-floating-ips shows it.
type FloatingIP struct {
	ID, IP  string
	FixedIP string // "" when not associated
	PortID  string
	// DeviceID is the server of the associated port ("" when none).
	DeviceID string
	// Pool is the floating network's name (its id when it has none).
	Pool string
}

// NetworkProxy is the network service as compute's deprecated proxies use it
// (os-floating-ips and os-networks to 2.35, addFloatingIp and removeFloatingIp
// to 2.43), as the caller (token) may.
type NetworkProxy interface {
	// ListFloatingIPs are the project's floating IPs.
	ListFloatingIPs(ctx context.Context, token, project string) ([]FloatingIP, error)
	GetFloatingIP(ctx context.Context, token, id string) (FloatingIP, error)
	// FloatingIPByAddress is the floating IP of that address the caller sees.
	FloatingIPByAddress(ctx context.Context, token, address string) (FloatingIP, error)
	// CreateFloatingIP allocates one on the external network named (or with
	// the id) pool: 404 when there is none.
	CreateFloatingIP(ctx context.Context, token, pool string) (FloatingIP, error)
	DeleteFloatingIP(ctx context.Context, token, id string) error
	// AssociateFloatingIP points the floating IP at the port's fixed IP; an
	// empty portID disassociates it.
	AssociateFloatingIP(ctx context.Context, token, id, portID, fixedIP string) error
	// VisibleNetworks are every network the caller sees (os-networks).
	VisibleNetworks(ctx context.Context, token string) ([]NetworkInfo, error)
}
