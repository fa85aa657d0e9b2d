package compute

// Issue 17: bursts of API calls at once (conctest), over one or two compute
// processes on one database, with conductors and agents running beside them;
// then the invariants, read from the database: no deleted server comes back,
// each host's usage is the sum of its live instances and within what the host
// has, no project is past its quota. They run on SQLite and, with
// NIMBUS_TEST_DATABASE_URL set, on PostgreSQL.

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
)

// unlimitedQuotas lifts the instance quotas, for tests of placement.
func unlimitedQuotas(o *Options) { o.Quotas = map[string]int{"instances": -1, "cores": -1, "ram": -1} }

// expectStatus is nil when status is one of want, else an error naming the call.
func expectStatus(call string, status int, raw []byte, want ...int) error {
	if slices.Contains(want, status) {
		return nil
	}
	return fmt.Errorf("%s: status %d, want one of %v: %s", call, status, want, raw)
}

func failOnErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestConcurrentCreatesNeverFail (finding 2): 200 creates at once over two
// processes all answer 202 (ids from MAX(id)+1 collided on PostgreSQL: 500s),
// and every instance has an id of its own (instance-%08x names its guest).
func TestConcurrentCreatesNeverFail(t *testing.T) {
	e := newTestEnv(t, unlimitedQuotas)
	e.secondProcess()
	const n = 200
	failOnErrors(t, conctest.Burst(n, func(i int) error {
		status, _, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"name": fmt.Sprintf("vm%d", i)}))
		return expectStatus("create", status, raw, 202)
	}))
	if got := e.count(`SELECT COUNT(DISTINCT id) FROM instances WHERE deleted = ?`, false); got != n {
		t.Errorf("%d distinct instance ids, want %d", got, n)
	}
}

// TestConcurrentRegistrationsGetTheirOwnIDs (finding 2): aggregates created
// at once, and compute hosts and conductors registering at once, each get an
// integer id of their own: no 409 for a name nobody else took, no host missing
// from the hypervisors (it vanished for a heartbeat when its number collided).
func TestConcurrentRegistrationsGetTheirOwnIDs(t *testing.T) {
	e := newTestEnv(t, nil)
	second := e.secondProcess()
	const n = 32
	ctx := context.Background()
	failOnErrors(t, conctest.Burst(n, func(i int) error {
		switch {
		case i == 0:
			return e.Compute.reportControlServices(ctx)
		case i == 1:
			return second.reportControlServices(ctx)
		case i%2 == 0:
			status, _, raw := e.Do("POST", "/v2.1/os-aggregates", e.AdminToken,
				map[string]any{"aggregate": map[string]any{"name": fmt.Sprintf("agg-%d", i)}})
			return expectStatus("create aggregate", status, raw, 200)
		default:
			return e.Compute.ReportService(ctx, ServiceReport{Host: fmt.Sprintf("host-%d", i), VCPUs: 4, MemoryMB: 4096,
				DiskGB: 100, HypervisorType: "QEMU"})
		}
	}))
	distinct := func(items []any, key string) int {
		seen := map[any]bool{}
		for _, it := range items {
			seen[it.(map[string]any)[key]] = true
		}
		return len(seen)
	}
	aggs := e.Must(200, "GET", "/v2.1/os-aggregates", e.AdminToken, nil)["aggregates"].([]any)
	if len(aggs) != n/2-1 || distinct(aggs, "id") != len(aggs) {
		t.Errorf("%d aggregates with %d ids, want %d", len(aggs), distinct(aggs, "id"), n/2-1)
	}
	hvs := e.Must(200, "GET", "/v2.1/os-hypervisors", e.AdminToken, nil)["hypervisors"].([]any)
	if len(hvs) != n/2-1 || distinct(hvs, "id") != len(hvs) {
		t.Errorf("%d hypervisors with %d ids, want %d", len(hvs), distinct(hvs, "id"), n/2-1)
	}
	services := e.Must(200, "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)
	if want := n/2 - 1 + 4; len(services) != want || distinct(services, "id") != want {
		t.Errorf("%d services with %d ids, want %d", len(services), distinct(services, "id"), want)
	}
}
