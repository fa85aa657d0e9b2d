package scheduler

import "testing"

func TestRetryAndComputeFilters(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		host   func(h *HostState)
		spec   RequestSpec
		want   bool
	}{
		{"retry no previous attempts", RetryFilter, nil, RequestSpec{}, true},
		{"retry other host tried", RetryFilter, nil, RequestSpec{RetryHosts: []string{"h2"}}, true},
		{"retry this host tried", RetryFilter, nil, RequestSpec{RetryHosts: []string{"h2", "h1"}}, false},
		{"compute enabled and up", ComputeFilter, nil, RequestSpec{}, true},
		{"compute disabled", ComputeFilter, func(h *HostState) { h.Enabled = false }, RequestSpec{}, false},
		{"compute down", ComputeFilter, func(h *HostState) { h.Up = false }, RequestSpec{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("h1")
			if tt.host != nil {
				tt.host(&h)
			}
			if got := passes(DefaultConfig(), tt.filter, h, tt.spec); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAvailabilityZoneFilter(t *testing.T) {
	tests := []struct {
		name       string
		aggregates []Aggregate
		hostAZ     string
		want       string
		pass       bool
		zone       string // HostAvailabilityZone
	}{
		{"no zone requested", nil, "", "", true, "nova"},
		{"default zone", nil, "", "nova", true, "nova"},
		{"default zone mismatch", nil, "", "az1", false, "nova"},
		{"aggregate metadata", []Aggregate{{Name: "rack1", Metadata: map[string]string{"availability_zone": "az1"}}}, "", "az1", true, "az1"},
		{"aggregate AZ field", []Aggregate{{Name: "rack1", AZ: "az1"}}, "", "az1", true, "az1"},
		{"aggregate zone hides the default", []Aggregate{{Name: "rack1", AZ: "az1"}}, "", "nova", false, "az1"},
		{"aggregate without zone", []Aggregate{{Name: "ssd", Metadata: map[string]string{"ssd": "true"}}}, "", "nova", true, "nova"},
		{"one of several aggregates", []Aggregate{{AZ: "az1"}, {AZ: "az2"}}, "", "az2", true, "az1"},
		{"host field when no aggregate", nil, "az3", "az3", true, "az3"},
		{"aggregate wins over host field", []Aggregate{{AZ: "az1"}}, "az3", "az3", false, "az1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("h1")
			h.Aggregates, h.AvailabilityZone = tt.aggregates, tt.hostAZ
			cfg := DefaultConfig()
			if got := passes(cfg, AvailabilityZoneFilter, h, RequestSpec{AvailabilityZone: tt.want}); got != tt.pass {
				t.Errorf("passes = %v, want %v", got, tt.pass)
			}
			if got := HostAvailabilityZone(cfg, h); got != tt.zone {
				t.Errorf("HostAvailabilityZone = %q, want %q", got, tt.zone)
			}
		})
	}
}

func TestComputeCapabilitiesFilter(t *testing.T) {
	tests := []struct {
		name  string
		specs map[string]string
		want  bool
	}{
		{"no extra specs", nil, true},
		{"other scopes are ignored", map[string]string{"hw:cpu_policy": "dedicated", "quota:disk_read_bytes_sec": "1", "trait:HW_CPU_X86_AVX": "required"}, true},
		{"scoped hypervisor type", map[string]string{"capabilities:hypervisor_type": "s== kvm"}, true},
		{"scoped hypervisor type mismatch", map[string]string{"capabilities:hypervisor_type": "xen"}, false},
		{"unscoped attribute", map[string]string{"vcpus_total": ">= 8"}, true},
		{"free ram at least", map[string]string{"free_ram_mb": "= 4096"}, true},
		{"free ram too little", map[string]string{"free_ram_mb": "= 9000"}, false},
		{"hypervisor version", map[string]string{"capabilities:hypervisor_version": ">= 6000000"}, true},
		{"cpu_info arch", map[string]string{"capabilities:cpu_info:arch": "x86_64"}, true},
		{"cpu_info features all-in", map[string]string{"capabilities:cpu_info:features": "<all-in> avx sse4_2"}, true},
		{"cpu_info feature missing", map[string]string{"capabilities:cpu_info:features": "<in> avx512f"}, false},
		{"stats", map[string]string{"capabilities:gpu": "<or> a100 <or> h100"}, true},
		{"nested stats", map[string]string{"capabilities:numa:nodes": "== 2"}, true},
		{"unknown unscoped key fails as upstream", map[string]string{"hw_rng": "True"}, false},
		{"unknown scoped key", map[string]string{"capabilities:nothing": "x"}, false},
		{"all must match", map[string]string{"capabilities:gpu": "h100", "vcpus_total": "8"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("h1")
			h.CPUInfo = map[string]string{"arch": "x86_64", "features": "[sse4_2, avx, avx2]"}
			h.Capabilities = map[string]string{"gpu": "a100", "numa:nodes": "2"}
			spec := RequestSpec{Flavor: Flavor{ExtraSpecs: tt.specs}}
			if got := passes(zeroReserved(), ComputeCapabilitiesFilter, h, spec); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestImagePropertiesFilter(t *testing.T) {
	tests := []struct {
		name  string
		host  func(h *HostState)
		image map[string]string
		want  bool
	}{
		{"no properties", nil, nil, true},
		{"unrelated properties", nil, map[string]string{"os_distro": "ubuntu", "hw_disk_bus": "virtio"}, true},
		{"architecture", nil, map[string]string{"architecture": "x86_64"}, true},
		{"modern name", nil, map[string]string{"hw_architecture": "x86_64"}, true},
		{"amd64 is x86_64", nil, map[string]string{"architecture": "AMD64"}, true},
		{"wrong architecture", nil, map[string]string{"architecture": "aarch64"}, false},
		{"kvm", nil, map[string]string{"hypervisor_type": "kvm"}, true},
		{"qemu image on kvm host", nil, map[string]string{"hypervisor_type": "qemu"}, true},
		{"kvm image on qemu host", func(h *HostState) { h.HypervisorType = "qemu" }, map[string]string{"img_hv_type": "kvm"}, false},
		{"hypervisor type case", func(h *HostState) { h.HypervisorType = "QEMU" }, map[string]string{"hypervisor_type": "qemu"}, true},
		{"wrong hypervisor", nil, map[string]string{"hypervisor_type": "xen"}, false},
		{"vm mode hvm", nil, map[string]string{"vm_mode": "hvm"}, true},
		{"vm mode hv alias", nil, map[string]string{"hw_vm_mode": "HV"}, true},
		{"vm mode exe", nil, map[string]string{"vm_mode": "exe"}, false},
		{"all three", nil, map[string]string{"architecture": "x86_64", "hypervisor_type": "kvm", "vm_mode": "hvm"}, true},
		{"host advertising nothing", func(h *HostState) { h.HypervisorType = "" }, map[string]string{"architecture": "x86_64"}, false},
		{"explicit supported instances", func(h *HostState) {
			h.SupportedInstances = []SupportedInstance{{"aarch64", "kvm", "hvm"}, {"x86_64", "lxc", "exe"}}
		}, map[string]string{"architecture": "x86_64", "vm_mode": "exe"}, true},
		{"properties must come from one triple", func(h *HostState) {
			h.SupportedInstances = []SupportedInstance{{"aarch64", "kvm", "hvm"}, {"x86_64", "lxc", "exe"}}
		}, map[string]string{"architecture": "x86_64", "hypervisor_type": "kvm"}, false},
		{"version satisfied", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": ">=6.0, <6.3"}, true},
		{"version equal with padding", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": "==6.2"}, true},
		{"version too old", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": ">=7.0"}, false},
		{"version upper bound", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": ">= 6.0, < 6.2"}, false},
		{"version not equal", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": "!=6.2.0"}, false},
		{"version garbage", nil, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": "6.2"}, false},
		{"version ignored without other properties", nil, map[string]string{"img_hv_requested_version": ">=7.0"}, true},
		{"host reporting no version passes", func(h *HostState) { h.HypervisorVersion = 0 }, map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": ">=7.0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("h1")
			if tt.host != nil {
				tt.host(&h)
			}
			if got := passes(DefaultConfig(), ImagePropertiesFilter, h, RequestSpec{Image: tt.image}); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServerGroupFilters(t *testing.T) {
	tests := []struct {
		name      string
		group     *ServerGroup
		instances []string // on h1
		uuid      string   // instance being placed
		anti, aff bool
	}{
		{"no group", nil, nil, "", true, true},
		{"soft policies do not filter", &ServerGroup{Policy: PolicySoftAntiAffinity, Hosts: []string{"h1"}}, nil, "", true, true},
		{"anti-affinity host used", &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h1"}}, nil, "", false, true},
		{"anti-affinity other host used", &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h2"}}, nil, "", true, true},
		{"anti-affinity by members", &ServerGroup{Policy: PolicyAntiAffinity, Members: []string{"m1"}}, []string{"m1"}, "", false, true},
		{"anti-affinity non-member on host", &ServerGroup{Policy: PolicyAntiAffinity, Members: []string{"m1"}}, []string{"x"}, "", true, true},
		{"anti-affinity max 2 with one", &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h1"}, MaxServerPerHost: 2}, nil, "", true, true},
		{"anti-affinity max 2 with two", &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h1", "h1"}, MaxServerPerHost: 2}, nil, "", false, true},
		{"anti-affinity hosts and members count once", &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h1"}, Members: []string{"m1"}, MaxServerPerHost: 2}, []string{"m1"}, "", true, true},
		{"anti-affinity move from this host", &ServerGroup{Policy: PolicyAntiAffinity, Members: []string{"m1"}}, []string{"m1"}, "m1", true, true},
		{"affinity first member", &ServerGroup{Policy: PolicyAffinity}, nil, "", true, true},
		{"affinity members being scheduled", &ServerGroup{Policy: PolicyAffinity, Members: []string{"new1", "new2"}}, nil, "new1", true, true},
		{"affinity on group host", &ServerGroup{Policy: PolicyAffinity, Hosts: []string{"h1"}}, nil, "", true, true},
		{"affinity elsewhere", &ServerGroup{Policy: PolicyAffinity, Hosts: []string{"h2"}}, nil, "", true, false},
		{"affinity by members", &ServerGroup{Policy: PolicyAffinity, Members: []string{"m1"}}, []string{"m1"}, "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost("h1")
			h.Instances = set(tt.instances)
			spec := RequestSpec{ServerGroup: tt.group}
			if tt.uuid != "" {
				spec.InstanceUUIDs = []string{tt.uuid}
			}
			if got := passes(DefaultConfig(), ServerGroupAntiAffinityFilter, h, spec); got != tt.anti {
				t.Errorf("anti-affinity = %v, want %v", got, tt.anti)
			}
			if got := passes(DefaultConfig(), ServerGroupAffinityFilter, h, spec); got != tt.aff {
				t.Errorf("affinity = %v, want %v", got, tt.aff)
			}
		})
	}
}
