// Package conctest is the concurrency test kit: it fires many API calls at once,
// spreads them over several instances of a service sharing one database (as
// several Nimbus processes on one PostgreSQL), and leaves the invariants to the
// caller to check afterwards. Services run it on SQLite and, with
// NIMBUS_TEST_DATABASE_URL set, on PostgreSQL (dbtest opens either).
package conctest

import (
	"net/http"
	"sync"
	"sync/atomic"
)

// Burst calls fn(i) for i in [0, n), all at once: every call waits at a barrier
// until all n goroutines are ready, so the calls overlap as much as the machine
// allows instead of trickling in as they are started. It returns when all are
// done, with each call's error at its index.
func Burst(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// RoundRobin spreads requests over several handlers in turn: each handler an
// instance of one service on the same database, as API processes behind a load
// balancer.
type RoundRobin struct {
	Handlers []http.Handler
	next     atomic.Uint64
}

func (rr *RoundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := rr.next.Add(1) - 1
	rr.Handlers[i%uint64(len(rr.Handlers))].ServeHTTP(w, r)
}

// Count is how many of errs are nil.
func Count(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}
