package scheduler

// testHost is an enabled, up kvm x86_64 host with 8 vCPUs, 8 GB and 100 GB
// free, in no aggregate.
func testHost(name string) HostState {
	return HostState{
		Name: name, Enabled: true, Up: true,
		VCPUs: 8, MemoryMB: 8192, DiskGB: 100,
		HypervisorType: "kvm", HypervisorVersion: 6002000, CPUArch: "x86_64",
	}
}

// zeroReserved is the default config without reserved memory, so the
// arithmetic of a test reads directly.
func zeroReserved() Config {
	c := DefaultConfig()
	c.ReservedHostMemoryMB = 0
	return c
}

// passes runs one filter on one host.
func passes(cfg Config, filter string, h HostState, spec RequestSpec) bool {
	r := newRequest(&cfg, &spec, 0, []*HostState{&h})
	return filters[filter](r, &h)
}
