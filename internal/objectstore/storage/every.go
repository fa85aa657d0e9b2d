package storage

import (
	"context"
	"time"
)

// runEvery runs pass every interval until ctx ends: the loop of each of the
// storage daemons (replicators, auditor, updater), which upstream's run
// forever with a pause between passes.
func runEvery(ctx context.Context, interval time.Duration, pass func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass()
		}
	}
}
