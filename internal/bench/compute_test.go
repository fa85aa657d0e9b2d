package bench

import (
	"strings"
	"testing"
	"time"
)

// TestComputeReport: the table shows the boots, the walks, the deletes and the
// verdict against the aim; Check fails on failed requests and servers not ACTIVE.
func TestComputeReport(t *testing.T) {
	r := &ComputeReport{Target: "http://127.0.0.1:1/v2.1", User: "admin", Project: "admin", Concurrency: 16, Hosts: 10,
		Servers: 1000, Active: 1000, BootElapsed: 4 * time.Second, BootsPerSec: 250, Poll: 100 * time.Millisecond,
		Serial: &Stats{Name: "serial boot", Requests: 20, P50: 9 * time.Millisecond}, Speedup: 955,
		Scenarios: []Stats{{Name: CompScenarioCreate, Requests: 1000, Rate: 500}},
		Walks:     []Walk{{Name: CompScenarioWalkIndex, Servers: 10000, Pages: 10, Rounds: 5, Median: 470 * time.Millisecond}},
		Deleted:   10000, DeleteElapsed: 13 * time.Second, DeletesPerSec: 769}
	if err := r.Check(); err != nil {
		t.Fatalf("Check of a clean run: %v", err)
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"250 boots/s", "meets the aim of 100 boots/s", "walk /servers", "10000", "769 deletes/s",
		"one boot here, median 9.000ms: 955x faster"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	r.Active, r.Failed, r.BootsPerSec = 990, 10, 60
	r.Scenarios[0].Errors, r.Scenarios[0].FirstError = 1, "status 500"
	err := r.Check()
	if err == nil || !strings.Contains(err.Error(), "990 of 1000 servers reached ACTIVE") || !strings.Contains(err.Error(), "status 500") {
		t.Errorf("Check = %v", err)
	}
	b.Reset()
	_ = r.WriteTable(&b)
	if !strings.Contains(b.String(), "misses the aim") {
		t.Errorf("a slow run does not miss the aim:\n%s", b.String())
	}
}
