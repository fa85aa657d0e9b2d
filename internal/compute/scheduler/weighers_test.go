package scheduler

import (
	"math"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want []float64
	}{
		{nil, nil},
		{[]float64{5}, []float64{0}},
		{[]float64{3, 3, 3}, []float64{0, 0, 0}},
		{[]float64{0, 5, 10}, []float64{0, 0.5, 1}},
		{[]float64{-512, 0, 1536}, []float64{0, 0.25, 1}},
	}
	for _, tt := range tests {
		got := append([]float64(nil), tt.in...)
		normalize(got)
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-9 {
				t.Errorf("normalize(%v) = %v, want %v", tt.in, got, tt.want)
				break
			}
		}
	}
}

// weightsOf weighs hosts h1..hn (one per mutation) for spec with weighers.
func weightsOf(cfg Config, spec RequestSpec, mut ...func(h *HostState)) []float64 {
	var hosts []*HostState
	for i, m := range mut {
		h := testHost(string(rune('1' + i)))
		h.Name = "h" + h.Name
		m(&h)
		hosts = append(hosts, &h)
	}
	w := make([]float64, len(hosts))
	weigh(newRequest(&cfg, &spec, 0, hosts), hosts, w)
	return w
}

func TestWeighers(t *testing.T) {
	ram := func(used int) func(h *HostState) { return func(h *HostState) { h.MemoryMBUsed = used } }
	tests := []struct {
		name     string
		weighers []string
		mult     func(c *Config)
		spec     RequestSpec
		hosts    []func(h *HostState)
		want     []float64
	}{
		{"ram spreads", []string{RAMWeigher}, nil, RequestSpec{}, []func(*HostState){ram(0), ram(4096), ram(8192)}, []float64{1, 0.5, 0}},
		{"ram negative multiplier stacks", []string{RAMWeigher}, func(c *Config) { c.RAMWeightMultiplier = -1 }, RequestSpec{}, []func(*HostState){ram(0), ram(8192)}, []float64{-1, 0}},
		{"ram multiplier 2", []string{RAMWeigher}, func(c *Config) { c.RAMWeightMultiplier = 2 }, RequestSpec{}, []func(*HostState){ram(0), ram(4096), ram(8192)}, []float64{2, 1, 0}},
		{"ram aggregate multiplier", []string{RAMWeigher}, nil, RequestSpec{}, []func(*HostState){
			func(h *HostState) {
				h.Aggregates = []Aggregate{{Metadata: map[string]string{"ram_weight_multiplier": "0.5"}}}
			}, ram(8192),
		}, []float64{0.5, 0}},
		{"single host is not weighed", []string{RAMWeigher}, nil, RequestSpec{}, []func(*HostState){ram(0)}, []float64{0}},
		{"equal hosts weigh zero", []string{RAMWeigher}, nil, RequestSpec{}, []func(*HostState){ram(0), ram(0)}, []float64{0, 0}},
		{"cpu after overcommit", []string{CPUWeigher}, nil, RequestSpec{}, []func(*HostState){
			func(h *HostState) { h.VCPUsUsed = 128 }, func(h *HostState) { h.VCPUsUsed = 64 }, func(h *HostState) {},
		}, []float64{0, 0.5, 1}},
		{"disk", []string{DiskWeigher}, nil, RequestSpec{}, []func(*HostState){
			func(h *HostState) { h.DiskGBUsed = 100 }, func(h *HostState) {},
		}, []float64{0, 1}},
		{"sum of weighers", []string{RAMWeigher, DiskWeigher}, nil, RequestSpec{}, []func(*HostState){
			func(h *HostState) { h.DiskGBUsed = 100 }, func(h *HostState) { h.MemoryMBUsed = 8192 },
		}, []float64{1, 1}},
		{"soft affinity prefers members", []string{ServerGroupSoftAffinityWeigher}, nil,
			RequestSpec{ServerGroup: &ServerGroup{Policy: PolicySoftAffinity, Hosts: []string{"h2", "h2", "h3"}}},
			[]func(*HostState){ram(0), ram(0), ram(0)}, []float64{0, 1, 0.5}},
		{"soft anti-affinity avoids members", []string{ServerGroupSoftAntiAffinityWeigher}, nil,
			RequestSpec{ServerGroup: &ServerGroup{Policy: PolicySoftAntiAffinity, Hosts: []string{"h2", "h2", "h3"}}},
			[]func(*HostState){ram(0), ram(0), ram(0)}, []float64{1, 0, 0.5}},
		{"soft weighers ignore other policies", []string{ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher}, nil,
			RequestSpec{ServerGroup: &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h2"}}},
			[]func(*HostState){ram(0), ram(0)}, []float64{0, 0}},
		{"soft anti-affinity multiplier outweighs ram", []string{RAMWeigher, ServerGroupSoftAntiAffinityWeigher},
			func(c *Config) { c.SoftAntiAffinityWeightMultiplier = 10 },
			RequestSpec{ServerGroup: &ServerGroup{Policy: PolicySoftAntiAffinity, Hosts: []string{"h1"}}},
			[]func(*HostState){ram(0), ram(8192)}, []float64{1, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := zeroReserved()
			cfg.EnabledWeighers = tt.weighers
			if tt.mult != nil {
				tt.mult(&cfg)
			}
			got := weightsOf(cfg, tt.spec, tt.hosts...)
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("weights = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
