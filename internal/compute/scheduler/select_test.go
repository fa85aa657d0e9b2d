package scheduler

import (
	"bytes"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func names(c []Candidate) []string {
	out := make([]string, len(c))
	for i, x := range c {
		out[i] = x.Host
	}
	return out
}

// threeHosts has h1..h3 with 2, 6 and 4 GB of 8 GB used.
func threeHosts() []HostState {
	hs := []HostState{testHost("h1"), testHost("h2"), testHost("h3")}
	hs[0].MemoryMBUsed, hs[1].MemoryMBUsed, hs[2].MemoryMBUsed = 2048, 6144, 4096
	return hs
}

func TestSelect(t *testing.T) {
	flavor := Flavor{VCPUs: 1, MemoryMB: 1024, RootGB: 10}
	tests := []struct {
		name  string
		cfg   func(c *Config)
		hosts func(hs []HostState)
		spec  func(s *RequestSpec)
		want  []string
	}{
		{"most free RAM first", nil, nil, nil, []string{"h1", "h3", "h2"}},
		{"stacking with a negative multiplier", func(c *Config) { c.RAMWeightMultiplier = -1 }, nil, nil, []string{"h2", "h3", "h1"}},
		{"filtered host is left out", nil, func(hs []HostState) { hs[0].Up = false }, nil, []string{"h3", "h2"}},
		{"retry skips tried hosts", nil, nil, func(s *RequestSpec) { s.RetryHosts = []string{"h1"} }, []string{"h3", "h2"}},
		{"ignore hosts", nil, nil, func(s *RequestSpec) { s.IgnoreHosts = []string{"h3"} }, []string{"h1", "h2"}},
		{"forced host skips the filters", nil, func(hs []HostState) { hs[1].Enabled = false }, func(s *RequestSpec) { s.ForceHosts = []string{"h2"} }, []string{"h2"}},
		{"zone", nil, func(hs []HostState) { hs[1].Aggregates = []Aggregate{{AZ: "az1"}} }, func(s *RequestSpec) { s.AvailabilityZone = "az1" }, []string{"h2"}},
		{"ties keep input order", nil, func(hs []HostState) {
			for i := range hs {
				hs[i].MemoryMBUsed = 0
			}
		}, nil, []string{"h1", "h2", "h3"}},
		{"anti-affinity", nil, nil, func(s *RequestSpec) {
			s.ServerGroup = &ServerGroup{Policy: PolicyAntiAffinity, Hosts: []string{"h1"}}
		}, []string{"h3", "h2"}},
		{"affinity", nil, nil, func(s *RequestSpec) {
			s.ServerGroup = &ServerGroup{Policy: PolicyAffinity, Hosts: []string{"h2"}}
		}, []string{"h2"}},
		{"soft affinity beats free RAM", func(c *Config) { c.SoftAffinityWeightMultiplier = 2 }, nil, func(s *RequestSpec) {
			s.ServerGroup = &ServerGroup{Policy: PolicySoftAffinity, Hosts: []string{"h2"}}
		}, []string{"h2", "h1", "h3"}},
		{"core filter when enabled", func(c *Config) { c.EnabledFilters = append(c.EnabledFilters, CoreFilter) },
			func(hs []HostState) { hs[0].VCPUsUsed = 128 }, nil, []string{"h3", "h2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			hs := threeHosts()
			if tt.hosts != nil {
				tt.hosts(hs)
			}
			spec := RequestSpec{Flavor: flavor}
			if tt.spec != nil {
				tt.spec(&spec)
			}
			got, err := Select(cfg, hs, spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(names(got), tt.want) {
				t.Errorf("hosts = %v, want %v", names(got), tt.want)
			}
			for _, c := range got {
				if hs[c.Index].Name != c.Host {
					t.Errorf("candidate %s has Index %d (%s)", c.Host, c.Index, hs[c.Index].Name)
				}
			}
		})
	}
}

func TestSelectWeights(t *testing.T) {
	// Free RAM 5632, 1536 and 3584 MB (512 reserved): normalized 1, 0, 0.5.
	got, err := Select(DefaultConfig(), threeHosts(), RequestSpec{Flavor: Flavor{MemoryMB: 512}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Candidate{{"h1", 1, 0}, {"h3", 0.5, 2}, {"h2", 0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSelectNoValidHost(t *testing.T) {
	tests := []struct {
		name   string
		hosts  []HostState
		spec   RequestSpec
		filter string
		msg    string
	}{
		{"no hosts at all", nil, RequestSpec{}, "",
			"No valid host was found. There are not enough hosts available."},
		{"ram removes the last hosts", threeHosts(), RequestSpec{Flavor: Flavor{MemoryMB: 9000}}, RamFilter,
			"No valid host was found. There are not enough hosts available. Filter RamFilter returned 0 hosts. " +
				"Filter results: [RetryFilter: (start: 3, end: 3), AvailabilityZoneFilter: (start: 3, end: 3), RamFilter: (start: 3, end: 0)]"},
		{"zone", threeHosts(), RequestSpec{AvailabilityZone: "az9"}, AvailabilityZoneFilter,
			"No valid host was found. There are not enough hosts available. Filter AvailabilityZoneFilter returned 0 hosts. " +
				"Filter results: [RetryFilter: (start: 3, end: 3), AvailabilityZoneFilter: (start: 3, end: 0)]"},
		{"forced host not there", threeHosts(), RequestSpec{ForceHosts: []string{"h9"}}, "",
			"No valid host was found. There are not enough hosts available. No hosts matched force_hosts h9."},
		{"every host ignored", threeHosts()[:1], RequestSpec{IgnoreHosts: []string{"h1"}}, "",
			"No valid host was found. There are not enough hosts available."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Select(DefaultConfig(), tt.hosts, tt.spec)
			var nvh *NoValidHost
			if !errors.As(err, &nvh) {
				t.Fatalf("err = %v, want *NoValidHost", err)
			}
			if nvh.Filter != tt.filter {
				t.Errorf("Filter = %q, want %q", nvh.Filter, tt.filter)
			}
			if err.Error() != tt.msg {
				t.Errorf("message\n got %q\nwant %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestSelectInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.EnabledFilters = append(cfg.EnabledFilters, "RamFiter")
	_, err := Select(cfg, threeHosts(), RequestSpec{})
	var nvh *NoValidHost
	if err == nil || errors.As(err, &nvh) || !strings.Contains(err.Error(), "RamFiter") {
		t.Errorf("err = %v, want an unknown filter error", err)
	}
	cfg = DefaultConfig()
	cfg.EnabledWeighers = []string{"FooWeigher"}
	if _, err := Select(cfg, threeHosts(), RequestSpec{}); err == nil {
		t.Error("unknown weigher accepted")
	}
	cfg = DefaultConfig()
	cfg.RAMAllocationRatio = 0
	if _, err := Select(cfg, threeHosts(), RequestSpec{}); err == nil {
		t.Error("zero ratio accepted")
	}
}

func TestSelectLogsFilters(t *testing.T) {
	var buf bytes.Buffer
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, _ = Select(cfg, threeHosts(), RequestSpec{Flavor: Flavor{MemoryMB: 9000}})
	for _, line := range []string{"Filter RetryFilter returned 3 host(s)", "Filter RamFilter returned 0 host(s)"} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, buf.String())
		}
	}
}

func TestSelectBatch(t *testing.T) {
	flavor := Flavor{VCPUs: 1, MemoryMB: 1024, RootGB: 10}
	identical := func(n int) []HostState {
		var hs []HostState
		for i := range n {
			hs = append(hs, testHost("h"+string(rune('1'+i))))
		}
		return hs
	}
	tests := []struct {
		name   string
		cfg    func(c *Config)
		hosts  []HostState
		spec   RequestSpec
		picks  []string
		filter string // of the NoValidHost, when picks is nil
		failAt int
	}{
		{"batch spreads by free RAM", nil, identical(3), RequestSpec{Flavor: flavor, NumInstances: 3}, []string{"h1", "h2", "h3"}, "", 0},
		{"batch of one by default", nil, identical(2), RequestSpec{Flavor: flavor}, []string{"h1"}, "", 0},
		{"stacking fills the first host", func(c *Config) { c.RAMWeightMultiplier = -1 }, identical(3),
			RequestSpec{Flavor: flavor, NumInstances: 3}, []string{"h1", "h1", "h1"}, "", 0},
		{"overcommit: 2048 at 1.5 takes three", func(c *Config) { c.ReservedHostMemoryMB = 0 },
			[]HostState{func() HostState { h := testHost("h1"); h.MemoryMB = 2048; return h }()},
			RequestSpec{Flavor: flavor, NumInstances: 3}, []string{"h1", "h1", "h1"}, "", 0},
		{"overcommit: not a fourth", func(c *Config) { c.ReservedHostMemoryMB = 0 },
			[]HostState{func() HostState { h := testHost("h1"); h.MemoryMB = 2048; return h }()},
			RequestSpec{Flavor: flavor, NumInstances: 4}, nil, RamFilter, 3},
		{"anti-affinity batch spreads", nil, identical(3), RequestSpec{Flavor: flavor, NumInstances: 3,
			ServerGroup: &ServerGroup{Policy: PolicyAntiAffinity}, InstanceUUIDs: []string{"a", "b", "c"}},
			[]string{"h1", "h2", "h3"}, "", 0},
		{"anti-affinity batch too large", func(c *Config) { c.RAMWeightMultiplier = -1 }, identical(2), RequestSpec{Flavor: flavor, NumInstances: 3,
			ServerGroup: &ServerGroup{Policy: PolicyAntiAffinity}}, nil, ServerGroupAntiAffinityFilter, 2},
		{"anti-affinity two per host", func(c *Config) { c.RAMWeightMultiplier = -1 }, identical(2), RequestSpec{Flavor: flavor, NumInstances: 4,
			ServerGroup: &ServerGroup{Policy: PolicyAntiAffinity, MaxServerPerHost: 2}}, []string{"h1", "h1", "h2", "h2"}, "", 0},
		{"affinity batch stays together", nil, identical(3), RequestSpec{Flavor: flavor, NumInstances: 3,
			ServerGroup: &ServerGroup{Policy: PolicyAffinity}}, []string{"h1", "h1", "h1"}, "", 0},
		{"soft anti-affinity spreads against RAM", func(c *Config) { c.RAMWeightMultiplier = -1; c.SoftAntiAffinityWeightMultiplier = 2 },
			identical(2), RequestSpec{Flavor: flavor, NumInstances: 2, ServerGroup: &ServerGroup{Policy: PolicySoftAntiAffinity}},
			[]string{"h1", "h2"}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			before := append([]HostState(nil), tt.hosts...)
			var groupHosts []string
			if tt.spec.ServerGroup != nil {
				groupHosts = append(groupHosts, tt.spec.ServerGroup.Hosts...)
			}
			got, err := SelectBatch(cfg, tt.hosts, tt.spec)
			if !reflect.DeepEqual(before, tt.hosts) {
				t.Error("SelectBatch modified the caller's hosts")
			}
			if tt.spec.ServerGroup != nil && !reflect.DeepEqual(groupHosts, tt.spec.ServerGroup.Hosts) {
				t.Error("SelectBatch modified the caller's server group")
			}
			if tt.picks == nil {
				var nvh *NoValidHost
				if !errors.As(err, &nvh) || nvh.Filter != tt.filter || nvh.Instance != tt.failAt {
					t.Fatalf("err = %#v, want NoValidHost from %s at instance %d", err, tt.filter, tt.failAt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var picks []string
			for _, c := range got {
				picks = append(picks, c[0].Host)
			}
			if !reflect.DeepEqual(picks, tt.picks) {
				t.Errorf("picks = %v, want %v", picks, tt.picks)
			}
		})
	}
}
