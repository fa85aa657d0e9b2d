package scheduler

import (
	"fmt"
	"testing"
)

// benchHosts is n hosts in four zones with varied load, some down.
func benchHosts(n int) []HostState {
	hs := make([]HostState, n)
	for i := range hs {
		h := testHost(fmt.Sprintf("compute-%04d", i))
		h.MemoryMB = 262144
		h.MemoryMBUsed = (i * 7919) % 200000
		h.VCPUs, h.VCPUsUsed = 64, (i*31)%512
		h.DiskGB, h.DiskGBUsed = 2000, (i*13)%1500
		h.Aggregates = []Aggregate{{Name: fmt.Sprintf("rack%d", i%4), AZ: fmt.Sprintf("az%d", i%4)}}
		h.Up = i%50 != 0
		h.Capabilities = map[string]string{"ssd": "true"}
		h.Instances = map[string]bool{fmt.Sprintf("vm-%d", i): true}
		hs[i] = h
	}
	return hs
}

func benchSpec() RequestSpec {
	return RequestSpec{
		Flavor: Flavor{VCPUs: 4, MemoryMB: 8192, RootGB: 40, ExtraSpecs: map[string]string{
			"capabilities:ssd": "True", "hw:cpu_policy": "shared", "vcpus_total": ">= 16",
		}},
		Image:       map[string]string{"hw_architecture": "x86_64", "img_hv_type": "kvm"},
		ServerGroup: &ServerGroup{Policy: PolicySoftAntiAffinity, Members: []string{"vm-1", "vm-5"}},
	}
}

// BenchmarkSelect1000 is one Select over 1,000 hosts with every default
// filter, CoreFilter, and the default weighers plus CPU and disk.
func BenchmarkSelect1000(b *testing.B) {
	cfg := DefaultConfig()
	cfg.EnabledFilters = append(cfg.EnabledFilters, CoreFilter)
	cfg.EnabledWeighers = append(cfg.EnabledWeighers, CPUWeigher, DiskWeigher)
	hosts := benchHosts(1000)
	spec := benchSpec()
	spec.Flavor.ExtraSpecs["capabilities:ssd"] = "true"
	if c, err := Select(cfg, hosts, spec); err != nil || len(c) < 500 {
		b.Fatalf("%d candidates, %v: the benchmark must weigh most hosts", len(c), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Select(cfg, hosts, spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectBatch10 places ten instances over 1,000 hosts.
func BenchmarkSelectBatch10(b *testing.B) {
	cfg := DefaultConfig()
	hosts := benchHosts(1000)
	spec := benchSpec()
	spec.Flavor.ExtraSpecs["capabilities:ssd"] = "true"
	spec.NumInstances = 10
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SelectBatch(cfg, hosts, spec); err != nil {
			b.Fatal(err)
		}
	}
}
