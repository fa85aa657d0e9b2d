package scheduler

// Aggregate is a host aggregate the host belongs to. Its metadata can set the
// host's availability zone and override allocation ratios and weigher
// multipliers, as upstream's Aggregate* filters read it.
type Aggregate struct {
	Name     string
	Metadata map[string]string
	// AZ is the aggregate's availability zone; it is the same thing as
	// Metadata["availability_zone"] (upstream keeps the AZ in the metadata),
	// kept as a field because the compute API models it that way.
	AZ string
}

// SupportedInstance is one (architecture, hypervisor type, VM mode) triple a
// host can run, as upstream's HostState.supported_instances.
type SupportedInstance struct {
	Arch   string
	HVType string
	VMMode string
}

// HostState is the scheduler's view of one compute host, loaded by the caller
// from its database. Used counters hold what instances have claimed; the
// reserved host memory and disk come from Config, not from here.
type HostState struct {
	Name string
	// AvailabilityZone is used when no aggregate sets one; when both are
	// empty the host is in Config.DefaultAvailabilityZone.
	AvailabilityZone string
	Aggregates       []Aggregate

	// Enabled is the nova-compute service's admin state, Up its liveness.
	Enabled bool
	Up      bool

	VCPUs, VCPUsUsed       int
	MemoryMB, MemoryMBUsed int
	DiskGB, DiskGBUsed     int
	NumInstances           int

	// Per-host allocation ratios (upstream's compute node fields); zero
	// means Config's value. Aggregate metadata wins over both when an
	// Aggregate*Filter is enabled.
	CPUAllocationRatio  float64
	RAMAllocationRatio  float64
	DiskAllocationRatio float64

	HypervisorType string
	// HypervisorVersion is encoded as upstream: 1000000*major + 1000*minor +
	// patch, so 6002000 is 6.2.0.
	HypervisorVersion int
	// CPUArch is the host's architecture (x86_64, aarch64, ...).
	CPUArch string
	// SupportedInstances lists what the host can run; when nil it is derived
	// from CPUArch and HypervisorType (a kvm host also runs qemu guests).
	SupportedInstances []SupportedInstance
	// CPUInfo answers capabilities:cpu_info:<key> extra specs.
	CPUInfo map[string]string
	// Capabilities answers any other extra spec key (upstream's stats); keys
	// of nested scopes are joined with ":" ("capabilities:foo:bar" looks up
	// "foo:bar").
	Capabilities map[string]string

	// Instances holds the UUIDs of the instances on the host, for server
	// group policies.
	Instances map[string]bool
}

// Flavor is the part of a flavor the scheduler reads.
type Flavor struct {
	VCPUs       int
	MemoryMB    int
	RootGB      int
	EphemeralGB int
	SwapMB      int
	ExtraSpecs  map[string]string
}

// Server group policies, as upstream's API spells them.
const (
	PolicyAffinity         = "affinity"
	PolicyAntiAffinity     = "anti-affinity"
	PolicySoftAffinity     = "soft-affinity"
	PolicySoftAntiAffinity = "soft-anti-affinity"
)

// ServerGroup is the server group the instance joins.
type ServerGroup struct {
	ID     string
	Policy string
	// Members are the UUIDs of the instances already in the group.
	Members []string
	// Hosts are the hosts members run on. A host may repeat, once per
	// member; the count of members on a host is the larger of its repeats
	// here and its Instances that are Members.
	Hosts []string
	// MaxServerPerHost is the anti-affinity rule max_server_per_host; zero
	// means upstream's default of 1.
	MaxServerPerHost int
}

// RequestSpec is what to place.
type RequestSpec struct {
	Flavor Flavor
	// Image holds the image's properties (architecture or hw_architecture,
	// hypervisor_type or img_hv_type, vm_mode or hw_vm_mode,
	// img_hv_requested_version).
	Image map[string]string
	// AvailabilityZone is the requested zone; empty means any.
	AvailabilityZone string
	ServerGroup      *ServerGroup
	// IgnoreHosts are dropped before filtering (upstream's ignore_hosts, set
	// by migrate and resize to skip the source host).
	IgnoreHosts []string
	// RetryHosts are the hosts already tried for this instance; the
	// RetryFilter removes them on a re-schedule.
	RetryHosts []string
	// ForceHosts, when set, restricts the request to these hosts and, as
	// upstream, skips the filters (an admin's az:host boot).
	ForceHosts []string
	// NumInstances is how many instances SelectBatch places (min 1).
	NumInstances int
	// InstanceUUIDs are the UUIDs of the instances being placed, in batch
	// order. They are optional; a move of an instance already on a host
	// passes that host's server group filters as upstream.
	InstanceUUIDs []string
}

// Candidate is a host that passed every filter, with its total weight.
type Candidate struct {
	Host   string
	Weight float64
	// Index is the host's position in the slice given to Select.
	Index int
}
