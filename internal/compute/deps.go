package compute

import (
	"context"
	"io"
	"net/netip"
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
	// Properties are the image's other properties: kernel_id, ramdisk_id,
	// os_command_line, architecture, hypervisor_type, hw_*...
	Properties map[string]string
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
}

// PortIP is a fixed IP of a port.
type PortIP struct {
	SubnetID string
	IP       netip.Addr
}

// PortRequest asks for a port for an instance.
type PortRequest struct {
	ProjectID      string
	NetworkID      string
	FixedIP        string // "" for any
	SecurityGroups []string
	DeviceID       string
	DeviceOwner    string
	HostID         string
	Name           string
}

// Network is the network service as compute uses it. The token-taking calls
// answer as the caller may see networks, ports and security groups; the others
// use the service's own credentials (port binding is an admin's act).
type Network interface {
	// Networks are the networks the caller's project may boot on (its own and
	// shared ones, no external ones), for a request that names none.
	Networks(ctx context.Context, token string) ([]NetworkInfo, error)
	GetNetwork(ctx context.Context, token, id string) (NetworkInfo, error)
	GetPort(ctx context.Context, token, id string) (Port, error)
	// SecurityGroupIDs resolves names or ids of the project's security groups.
	SecurityGroupIDs(ctx context.Context, token, project string, namesOrIDs []string) ([]string, error)
	CreatePort(ctx context.Context, req PortRequest) (Port, error)
	// BindPort sets the port's device and host (binding:host_id).
	BindPort(ctx context.Context, portID, deviceID, deviceOwner, host string) (Port, error)
	// UnbindPort clears the device and host of a port the user brought.
	UnbindPort(ctx context.Context, portID string) error
	DeletePort(ctx context.Context, portID string) error
	// PortsOf are the ports whose device is deviceID.
	PortsOf(ctx context.Context, deviceID string) ([]Port, error)
	PortStatus(ctx context.Context, portID string) (Port, error)
	// FloatingIPs are the floating IPs associated with the port.
	FloatingIPs(ctx context.Context, portID string) ([]netip.Addr, error)
}
