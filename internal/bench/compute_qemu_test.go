package bench

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSpreadOf: the median is nearest-rank (as Percentile), the extremes come
// from any order, and no timings give zeros.
func TestSpreadOf(t *testing.T) {
	s := func(ms ...int) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, v := range ms {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		times []time.Duration
		want  Spread
	}{
		{"none", nil, Spread{}},
		{"one", s(5000), Spread{N: 1, P50: 5 * time.Second, Min: 5 * time.Second, Max: 5 * time.Second}},
		{"odd, unsorted", s(5300, 5100, 5200), Spread{N: 3, P50: 5200 * time.Millisecond, Min: 5100 * time.Millisecond, Max: 5300 * time.Millisecond}},
		{"even", s(4, 1, 3, 2), Spread{N: 4, P50: 2 * time.Millisecond, Min: time.Millisecond, Max: 4 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := spreadOf(tc.times); got != tc.want {
				t.Errorf("spreadOf(%v) = %+v, want %+v", tc.times, got, tc.want)
			}
		})
	}
}

// TestQEMUReport: the table shows the four timings, the warm-ups, what Nimbus
// adds (signed, both ways) against the aim, and upstream's anchors.
func TestQEMUReport(t *testing.T) {
	base := func() *QEMUReport {
		return &QEMUReport{Target: "http://127.0.0.1:1/v2.1", Cores: 2, Boots: 3, Image: "abc", Flavor: "1 vCPU, 256 MB RAM, 1 GB disk",
			ConsolePoll: 50 * time.Millisecond, Aim: ComputeQEMUAimAdded, FloorWarmup: 7 * time.Second, FloorBusy: 1.1, CloudBusy: 1.4,
			Floor:      []time.Duration{5000 * time.Millisecond, 5200 * time.Millisecond, 5100 * time.Millisecond},
			FloorSpawn: []time.Duration{90 * time.Millisecond, 110 * time.Millisecond, 100 * time.Millisecond},
			ToActive:   []time.Duration{400 * time.Millisecond, 380 * time.Millisecond, 420 * time.Millisecond},
			ToMarker:   []time.Duration{5400 * time.Millisecond, 5350 * time.Millisecond, 5500 * time.Millisecond}}
	}
	for _, tc := range []struct {
		name   string
		modify func(*QEMUReport)
		added  time.Duration
		before time.Duration // AddedBeforeGuest
		want   []string
	}{
		{"at the aim: not under it", func(*QEMUReport) {}, 300 * time.Millisecond, 300 * time.Millisecond, []string{
			"floor: raw QEMU, Spawn to boot marker", "5100ms", "5000ms", "5200ms", "floor: raw QEMU, Spawn alone", "100ms",
			"cloud: POST /servers to ACTIVE", "400ms",
			"added before the guest runs: 300ms (POST→ACTIVE p50 400ms minus the floor's Spawn p50 100ms", "), over the aim",
			"cloud: POST /servers to boot marker", "5400ms",
			"added by Nimbus: 300ms", "over the aim of under 300ms",
			"Rally boot median 8600ms", "2800ms before QEMU starts", "3600ms waiting for Neutron", "22x faster",
			"machine: 1.10 of 2 cores busy during the floor, 1.40 during the cloud's boots"}},
		{"under the aim", func(r *QEMUReport) {
			r.ToMarker, r.ToActive = []time.Duration{5200 * time.Millisecond}, []time.Duration{250 * time.Millisecond}
		}, 100 * time.Millisecond, 150 * time.Millisecond,
			[]string{"added by Nimbus: 100ms", "within the aim of under 300ms", "added before the guest runs: 150ms", "), within the aim"}},
		{"a noisy floor above the cloud", func(r *QEMUReport) { r.ToMarker = []time.Duration{4900 * time.Millisecond} }, -200 * time.Millisecond, 300 * time.Millisecond,
			[]string{"added by Nimbus: -200ms", "within the aim"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.modify(r)
			r.summarize()
			if r.Added != tc.added || r.AddedBeforeGuest != tc.before {
				t.Errorf("Added = %s, AddedBeforeGuest = %s, want %s and %s", r.Added, r.AddedBeforeGuest, tc.added, tc.before)
			}
			var b strings.Builder
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("table lacks %q:\n%s", want, b.String())
				}
			}
			b.Reset()
			if err := r.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), `"added_ns"`) || !strings.Contains(b.String(), `"post_to_marker"`) {
				t.Errorf("JSON lacks the figures:\n%s", b.String())
			}
		})
	}
}

// TestTurnsAlternate: the floor boots first, then the sides alternate, and a side
// that has ended no longer holds the other up.
func TestTurnsAlternate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := newTurns()
	floor, cloud := tr.floorSide(), tr.cloudSide()
	var mu sync.Mutex
	var order []string
	run := func(s *side, name string, n int, done chan<- struct{}) {
		defer close(done)
		defer s.done(ctx)
		for i := range n {
			if err := s.boot(ctx, i > 0, func() error {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	fd, cd := make(chan struct{}), make(chan struct{})
	go run(cloud, "cloud", 2, cd)
	go run(floor, "floor", 4, fd)
	<-fd
	<-cd
	if got, want := strings.Join(order, " "), "floor cloud floor cloud floor floor"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func TestBusyMeterWeighsByDuration(t *testing.T) {
	var m busyMeter
	if m.cores() != -1 {
		t.Fatalf("empty meter = %v, want -1", m.cores())
	}
	m.add(2, 3*time.Second)
	m.add(0.5, time.Second)
	if got := m.cores(); got != 1.625 {
		t.Fatalf("cores = %v, want 1.625", got)
	}
}
