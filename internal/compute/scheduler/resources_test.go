package scheduler

import "testing"

func TestResourceFilters(t *testing.T) {
	agg := func(kv ...string) []Aggregate {
		var out []Aggregate
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, Aggregate{Name: "agg" + kv[i+1], Metadata: map[string]string{kv[i]: kv[i+1]}})
		}
		return out
	}
	tests := []struct {
		name         string
		filter       string
		reserved     int // host memory MB
		reservedDisk int
		host         func(h *HostState)
		flavor       Flavor
		want         bool
	}{
		// RamFilter: limit total*1.5, used counts reserved.
		{"ram empty host", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB = 2048 }, Flavor{MemoryMB: 1024}, true},
		{"ram third 1024 on 2048 at 1.5", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 2048 }, Flavor{MemoryMB: 1024}, true},
		{"ram fourth 1024 on 2048 at 1.5", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 3072 }, Flavor{MemoryMB: 1024}, false},
		{"ram reserved 512 second fits", RamFilter, 512, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 1024 }, Flavor{MemoryMB: 1024}, true},
		{"ram reserved 512 third does not", RamFilter, 512, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 2048 }, Flavor{MemoryMB: 1024}, false},
		{"ram exact fit", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 2047 }, Flavor{MemoryMB: 1025}, true},
		{"ram one over", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed = 2048, 2048 }, Flavor{MemoryMB: 1025}, false},
		{"ram no overcommit against itself", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB = 2048 }, Flavor{MemoryMB: 3000}, false},
		{"ram host ratio overrides config", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed, h.RAMAllocationRatio = 2048, 3072, 2.0 }, Flavor{MemoryMB: 1024}, true},
		{"ram plain filter ignores aggregate", RamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed, h.Aggregates = 2048, 2048, agg(metaRAMRatio, "1.0") }, Flavor{MemoryMB: 1024}, true},
		{"aggregate ram ratio", AggregateRamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed, h.Aggregates = 2048, 2048, agg(metaRAMRatio, "1.0") }, Flavor{MemoryMB: 1024}, false},
		{"aggregate ram takes the minimum", AggregateRamFilter, 0, 0, func(h *HostState) {
			h.MemoryMB, h.MemoryMBUsed, h.Aggregates = 2048, 2048, agg(metaRAMRatio, "3.0", metaRAMRatio, "1.0")
		}, Flavor{MemoryMB: 1024}, false},
		{"aggregate ram bad value falls back", AggregateRamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed, h.Aggregates = 2048, 2048, agg(metaRAMRatio, "lots") }, Flavor{MemoryMB: 1024}, true},
		{"aggregate ram raises the ratio", AggregateRamFilter, 0, 0, func(h *HostState) { h.MemoryMB, h.MemoryMBUsed, h.Aggregates = 2048, 3072, agg(metaRAMRatio, "2") }, Flavor{MemoryMB: 1024}, true},

		// DiskFilter: MB, root+ephemeral in GB, swap in MB.
		{"disk exact with swap", DiskFilter, 0, 0, nil, Flavor{RootGB: 50, EphemeralGB: 40, SwapMB: 10240}, true},
		{"disk one MB of swap over", DiskFilter, 0, 0, nil, Flavor{RootGB: 50, EphemeralGB: 40, SwapMB: 10241}, false},
		{"disk used", DiskFilter, 0, 0, func(h *HostState) { h.DiskGBUsed = 91 }, Flavor{RootGB: 10}, false},
		{"disk used fits", DiskFilter, 0, 0, func(h *HostState) { h.DiskGBUsed = 90 }, Flavor{RootGB: 10}, true},
		{"disk reserved", DiskFilter, 0, 1024, nil, Flavor{RootGB: 100}, false},
		{"disk host ratio", DiskFilter, 0, 0, func(h *HostState) { h.DiskGBUsed, h.DiskAllocationRatio = 100, 2 }, Flavor{RootGB: 100}, true},
		{"disk no overcommit against itself", DiskFilter, 0, 0, func(h *HostState) { h.DiskAllocationRatio = 2 }, Flavor{RootGB: 101}, false},
		{"aggregate disk ratio", AggregateDiskFilter, 0, 0, func(h *HostState) { h.DiskGBUsed, h.Aggregates = 100, agg(metaDiskRatio, "2.0") }, Flavor{RootGB: 100}, true},
		{"boot from volume needs no disk", DiskFilter, 0, 0, func(h *HostState) { h.DiskGBUsed = 100 }, Flavor{}, true},

		// CoreFilter: 8 vCPUs at 16 is 128.
		{"core fits at limit", CoreFilter, 0, 0, func(h *HostState) { h.VCPUsUsed = 120 }, Flavor{VCPUs: 8}, true},
		{"core over limit", CoreFilter, 0, 0, func(h *HostState) { h.VCPUsUsed = 121 }, Flavor{VCPUs: 8}, false},
		{"core no overcommit against itself", CoreFilter, 0, 0, nil, Flavor{VCPUs: 9}, false},
		{"core host reports no vcpus", CoreFilter, 0, 0, func(h *HostState) { h.VCPUs = 0 }, Flavor{VCPUs: 64}, true},
		{"aggregate core ratio", AggregateCoreFilter, 0, 0, func(h *HostState) { h.VCPUsUsed, h.Aggregates = 9, agg(metaCPURatio, "2") }, Flavor{VCPUs: 8}, false},
		{"aggregate core ratio fits", AggregateCoreFilter, 0, 0, func(h *HostState) { h.VCPUsUsed, h.Aggregates = 8, agg(metaCPURatio, "2") }, Flavor{VCPUs: 8}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ReservedHostMemoryMB, cfg.ReservedHostDiskMB = tt.reserved, tt.reservedDisk
			h := testHost("h1")
			if tt.host != nil {
				tt.host(&h)
			}
			if got := passes(cfg, tt.filter, h, RequestSpec{Flavor: tt.flavor}); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

// TestOvercommitCount packs one host with Consume until Fits says no: the
// arithmetic the compute service's claims will see.
func TestOvercommitCount(t *testing.T) {
	tests := []struct {
		name     string
		memoryMB int
		ratio    float64
		reserved int
		flavorMB int
		want     int
	}{
		{"2048 at 1.5 takes three 1024", 2048, 1.5, 0, 1024, 3},
		{"2048 at 1.5 with 512 reserved takes two", 2048, 1.5, 512, 1024, 2},
		{"2048 at 1.0 takes two", 2048, 1.0, 0, 1024, 2},
		{"2048 at 1.0 with 512 reserved takes one", 2048, 1.0, 512, 1024, 1},
		{"8192 at 1.5 with 512 reserved takes 5 of 2048", 8192, 1.5, 512, 2048, 5},
		{"flavor larger than the host takes none", 1024, 16, 0, 2048, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.RAMAllocationRatio, cfg.ReservedHostMemoryMB = tt.ratio, tt.reserved
			h := testHost("h1")
			h.MemoryMB = tt.memoryMB
			f := Flavor{MemoryMB: tt.flavorMB}
			n := 0
			for Fits(cfg, h, f) && n < 100 {
				h.Consume(f, "")
				n++
			}
			if n != tt.want {
				t.Errorf("fitted %d, want %d", n, tt.want)
			}
		})
	}
}

func TestFitsChecksOnlyEnabledFilters(t *testing.T) {
	h := testHost("h1")
	h.VCPUsUsed = 128
	f := Flavor{VCPUs: 1, MemoryMB: 512, RootGB: 1}
	cfg := DefaultConfig()
	if !Fits(cfg, h, f) {
		t.Error("CoreFilter is not enabled by default, vCPUs must not count")
	}
	cfg.EnabledFilters = append(cfg.EnabledFilters, CoreFilter)
	if Fits(cfg, h, f) {
		t.Error("with CoreFilter, a host at 128 of 8x16 vCPUs must not fit")
	}
	h = testHost("h1")
	h.Aggregates = []Aggregate{{Metadata: map[string]string{metaRAMRatio: "0.5"}}}
	f = Flavor{MemoryMB: 4096}
	cfg = zeroReserved()
	if !Fits(cfg, h, f) {
		t.Error("RamFilter ignores aggregate ratios")
	}
	cfg.EnabledFilters = []string{AggregateRamFilter}
	h.MemoryMBUsed = 1
	if Fits(cfg, h, f) {
		t.Error("AggregateRamFilter must apply the aggregate's 0.5")
	}
}

func TestConsumeCopiesInstances(t *testing.T) {
	orig := map[string]bool{"a": true}
	h := testHost("h1")
	h.Instances = orig
	h.Consume(Flavor{VCPUs: 2, MemoryMB: 1024, RootGB: 10, EphemeralGB: 5, SwapMB: 512}, "b")
	if len(orig) != 1 {
		t.Error("Consume wrote into the caller's map")
	}
	if !h.Instances["a"] || !h.Instances["b"] {
		t.Errorf("Instances = %v", h.Instances)
	}
	if h.VCPUsUsed != 2 || h.MemoryMBUsed != 1024 || h.DiskGBUsed != 15 || h.NumInstances != 1 {
		t.Errorf("counters = %+v", h)
	}
}

func TestAggregateMin(t *testing.T) {
	tests := []struct {
		values []string
		want   float64
	}{
		{nil, 1.5},
		{[]string{"2.0"}, 2},
		{[]string{"3", "0.5", "1"}, 0.5},
		{[]string{"2", "abc"}, 1.5},
		{[]string{"NaN"}, 1.5},
		{[]string{"Inf"}, 1.5},
	}
	for _, tt := range tests {
		h := testHost("h1")
		for _, v := range tt.values {
			h.Aggregates = append(h.Aggregates, Aggregate{Metadata: map[string]string{metaRAMRatio: v}})
		}
		h.Aggregates = append(h.Aggregates, Aggregate{Metadata: map[string]string{"other": "1"}})
		if got := aggregateMin(&h, metaRAMRatio, 1.5); got != tt.want {
			t.Errorf("aggregateMin(%v) = %v, want %v", tt.values, got, tt.want)
		}
	}
}
