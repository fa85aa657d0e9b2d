// Package bench drives load scenarios against a running Nimbus (or any Keystone v3)
// from the same machine and reports throughput and latency percentiles.
package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load bounds one scenario: how many workers, for how long, and at most how many
// requests. Warm-up requests open connections and fill caches; they are not counted.
type Load struct {
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	MaxRequests int64
}

// Stats are the figures of one scenario. Rate counts successful requests only.
type Stats struct {
	Name       string        `json:"name"`
	Requests   int64         `json:"requests"`
	Errors     int64         `json:"errors"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Rate       float64       `json:"req_per_s"`
	P50        time.Duration `json:"p50_ns"`
	P95        time.Duration `json:"p95_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	FirstError string        `json:"first_error,omitempty"`
	// Server is filled when the server's pid is known (same machine).
	Server *ProcessUsage `json:"server,omitempty"`
	// Client is the CPU the bench itself spent: on a small machine it competes with
	// the server for the same cores.
	Client *ProcessUsage `json:"client,omitempty"`
	// MachineCores is how many cores the whole machine kept busy; with the server
	// known, OtherCores is what neither the server nor the bench used: load from
	// elsewhere that disturbs the figures.
	MachineCores float64 `json:"machine_cores"`
	OtherCores   float64 `json:"other_cores,omitempty"`
}

// Op is one request of a scenario; worker is 0..Concurrency-1.
type Op func(ctx context.Context, worker int) error

// Run warms up, then measures: see Warm and Measure.
func Run(ctx context.Context, name string, l Load, op Op) Stats {
	Warm(ctx, l, op)
	return Measure(ctx, name, l, op)
}

// Warm runs op on Concurrency workers for Warmup without recording anything.
func Warm(ctx context.Context, l Load, op Op) {
	if l.Warmup > 0 {
		phase(ctx, max(l.Concurrency, 1), l.Warmup, l.MaxRequests, op, false)
	}
}

// Measure runs op on Concurrency workers until Duration has passed or MaxRequests
// were started, whichever comes first. Requests in flight when time is up finish and
// count; Elapsed runs until the last one returns.
func Measure(ctx context.Context, name string, l Load, op Op) Stats {
	st := phase(ctx, max(l.Concurrency, 1), l.Duration, l.MaxRequests, op, true)
	st.Name = name
	return st
}

// measureUsage is Measure with the CPU of the server (serverPIDs), of the bench and
// of the whole machine recorded in the stats.
func measureUsage(ctx context.Context, name string, l Load, op Op, serverPIDs ...int) Stats {
	server, client, machine := startUsage(serverPIDs...), startUsage(os.Getpid()), startMachine()
	st := Measure(ctx, name, l, op)
	st.Server, st.Client, st.MachineCores = server.stop(&st), client.stop(&st), machine.stop(&st)
	if st.Server != nil && st.Client != nil && st.MachineCores >= 0 {
		st.OtherCores = max(0, st.MachineCores-st.Server.Cores-st.Client.Cores)
	}
	return st
}

type workerResult struct {
	latencies []time.Duration
	errors    int64
	firstErr  error
}

func phase(ctx context.Context, concurrency int, d time.Duration, max int64, op Op, record bool) Stats {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var started atomic.Int64
	results := make([]workerResult, concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if max > 0 && started.Add(1) > max {
					return
				}
				t0 := time.Now()
				err := op(ctx, w)
				if !record {
					continue
				}
				res.latencies = append(res.latencies, time.Since(t0))
				if err != nil {
					res.errors++
					if res.firstErr == nil {
						res.firstErr = err
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := Stats{Elapsed: elapsed}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		st.Errors += r.errors
		if r.firstErr != nil && st.FirstError == "" {
			st.FirstError = r.firstErr.Error()
		}
	}
	st.Requests = int64(len(all))
	if elapsed > 0 {
		st.Rate = float64(st.Requests-st.Errors) / elapsed.Seconds()
	}
	slices.Sort(all)
	st.P50, st.P95, st.P99 = Percentile(all, 50), Percentile(all, 95), Percentile(all, 99)
	if len(all) > 0 {
		st.Max = all[len(all)-1]
	}
	return st
}

// Percentile is the nearest-rank percentile p (0 < p <= 100) of sorted latencies.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// findStats returns the stats of the scenario named name in ss, if it ran.
func findStats(ss []Stats, name string) *Stats {
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i]
		}
	}
	return nil
}

// failedScenarios is one error per scenario of ss that had failed requests.
func failedScenarios(ss []Stats) []error {
	var errs []error
	for _, s := range ss {
		if s.Errors > 0 {
			errs = append(errs, fmt.Errorf("%s: %d of %d failed: %s", s.Name, s.Errors, s.Requests, s.FirstError))
		}
	}
	return errs
}
