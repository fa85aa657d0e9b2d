package virt

// Diagnostics are a guest's figures as its hypervisor counts them (upstream's
// nova.virt.diagnostics), for os-server-diagnostics.
type Diagnostics struct {
	State PowerState
	// Driver, Hypervisor and HypervisorOS name what runs the guest (qemu, tcg
	// or kvm, linux).
	Driver, Hypervisor, HypervisorOS string
	// UptimeSeconds is how long the guest's process has run.
	UptimeSeconds int64
	ConfigDrive   bool
	// MemoryMB is the guest's memory; MemoryUsedMB what its process holds.
	MemoryMB, MemoryUsedMB int
	CPUs                   []CPUStats
	Disks                  []DiskStats
	NICs                   []NICStats
}

// CPUStats is one vCPU: the time it has run, in nanoseconds.
type CPUStats struct {
	ID     int
	TimeNS int64
}

// DiskStats are one disk's counters; Name is the guest's device (vda, hdc).
type DiskStats struct {
	Name                                                       string
	ReadBytes, ReadRequests, WriteBytes, WriteRequests, Errors int64
}

// NICStats are one NIC's counters as the guest sees them (received is what
// its tap sent); Name is the tap.
type NICStats struct {
	Name, MAC                             string
	RxOctets, RxPackets, RxErrors, RxDrop int64
	TxOctets, TxPackets, TxErrors, TxDrop int64
}
