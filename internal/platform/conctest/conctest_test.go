package conctest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestBurstOverlapsCalls(t *testing.T) {
	const n = 16
	var inside, most atomic.Int32
	release := make(chan struct{})
	errs := make(chan []error)
	go func() {
		errs <- Burst(n, func(i int) error {
			now := inside.Add(1)
			for {
				m := most.Load()
				if now <= m || most.CompareAndSwap(m, now) {
					break
				}
			}
			<-release
			inside.Add(-1)
			if i%2 == 0 {
				return errors.New("even")
			}
			return nil
		})
	}()
	for most.Load() < n { // all n calls are in flight at once before any returns
		runtime.Gosched()
	}
	close(release)
	got := <-errs
	if len(got) != n || Count(got) != n/2 {
		t.Fatalf("%d results, %d nil; want %d, %d", len(got), Count(got), n, n/2)
	}
	for i, err := range got {
		if (err == nil) != (i%2 == 1) {
			t.Errorf("result %d = %v: not at its index", i, err)
		}
	}
}

func TestRoundRobinSpreads(t *testing.T) {
	var hits [3]atomic.Int32
	rr := &RoundRobin{}
	for i := range hits {
		rr.Handlers = append(rr.Handlers, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits[i].Add(1) }))
	}
	Burst(30, func(int) error {
		rr.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		return nil
	})
	for i := range hits {
		if got := hits[i].Load(); got != 10 {
			t.Errorf("handler %d served %d of 30", i, got)
		}
	}
}
