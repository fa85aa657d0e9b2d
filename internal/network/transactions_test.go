package network

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
)

// TestWriteQueue: one project's writers take turns, other projects' do not wait for
// them, and a writer whose request ends stops waiting.
func TestWriteQueue(t *testing.T) {
	var q writeQueue
	var inside, most atomic.Int32
	errs := conctest.Burst(16, func(int) error {
		leave, err := q.enter(context.Background(), "p1")
		if err != nil {
			return err
		}
		defer leave()
		n := inside.Add(1)
		defer inside.Add(-1)
		if n > most.Load() {
			most.Store(n)
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if conctest.Count(errs) != 16 || most.Load() != 1 {
		t.Fatalf("%d of 16 entered, at most %d at once; want all, one at a time", conctest.Count(errs), most.Load())
	}

	leave, err := q.enter(context.Background(), "p1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := q.enter(context.Background(), "p2") // does not wait for p1's turn
	if err != nil {
		t.Fatal(err)
	}
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := q.enter(ctx, "p1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the request's end: %v", err)
	}
	leave()
	if len(q.lines) != 0 {
		t.Fatalf("lines left behind: %v", q.lines)
	}
}
