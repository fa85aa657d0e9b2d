package scheduler

import (
	"errors"
	"math"
	"testing"
)

// FuzzSelect feeds arbitrary extra specs, image versions and loads through
// Select: it must not panic, every candidate must fit by Fits (so a claim
// made with Fits agrees with the filters), and the order must be by weight.
func FuzzSelect(f *testing.F) {
	f.Add("capabilities:hypervisor_type", "s== kvm", ">=6.0, <6.3", 1024, 10, 2, 4096, 1.5)
	f.Add("vcpus_total", "<or> 8 <or> 16", "==6.2", 9000, 0, 9, 0, 1.0)
	f.Add("free_ram_mb", "= 100", "", 0, 100, 0, -5, 0.1)
	f.Fuzz(func(t *testing.T, key, req, version string, ram, disk, vcpus, used int, ratio float64) {
		if ratio <= 0 || ratio > 1000 || math.IsNaN(ratio) {
			ratio = 1.5
		}
		cfg := DefaultConfig()
		cfg.EnabledFilters = append(cfg.EnabledFilters, CoreFilter)
		cfg.EnabledWeighers = append(cfg.EnabledWeighers, CPUWeigher, DiskWeigher)
		cfg.RAMAllocationRatio = ratio
		hosts := threeHosts()
		hosts[1].MemoryMBUsed = used
		hosts[2].VCPUsUsed = used
		spec := RequestSpec{
			Flavor: Flavor{VCPUs: vcpus, MemoryMB: ram, RootGB: disk, ExtraSpecs: map[string]string{key: req}},
			Image:  map[string]string{"hypervisor_type": "kvm", "img_hv_requested_version": version},
		}
		cands, err := Select(cfg, hosts, spec)
		var nvh *NoValidHost
		if err != nil && !errors.As(err, &nvh) {
			t.Fatal(err)
		}
		for i, c := range cands {
			if !Fits(cfg, hosts[c.Index], spec.Flavor) {
				t.Errorf("%s passed the filters but not Fits", c.Host)
			}
			if math.IsNaN(c.Weight) || (i > 0 && c.Weight > cands[i-1].Weight) {
				t.Errorf("bad order or weight: %v", cands)
			}
		}
	})
}
