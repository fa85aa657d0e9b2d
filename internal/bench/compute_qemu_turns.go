package bench

import (
	"context"
	"time"
)

// turns makes the floor's and the cloud's boots alternate (floor 0, cloud 0,
// floor 1, ...): on a shared machine the background load moves by seconds of
// guest boot within minutes, and a side booted after the other would carry that
// drift into what Nimbus adds. Each side also measures the machine's busy cores
// during its own boots.
type turns struct {
	floor, cloud chan struct{}
}

func newTurns() *turns {
	t := &turns{floor: make(chan struct{}, 1), cloud: make(chan struct{}, 1)}
	t.floor <- struct{}{}
	return t
}

// side is one side's place in the alternation: wait for its turn, then hand it on.
type side struct {
	mine, next chan struct{}
	busy       busyMeter
}

func (t *turns) floorSide() *side { return &side{mine: t.floor, next: t.cloud} }
func (t *turns) cloudSide() *side { return &side{mine: t.cloud, next: t.floor} }

// boot runs one boot in this side's turn, counting the machine's busy cores
// during it when measured is set (not for warm-ups), and hands the turn on,
// whatever the boot's outcome.
func (s *side) boot(ctx context.Context, measured bool, fn func() error) error {
	select {
	case <-s.mine:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { s.next <- struct{}{} }()
	busy, t0 := startBusy(), time.Now()
	err := fn()
	if cores := busy(); measured && cores >= 0 {
		s.busy.add(cores, time.Since(t0))
	}
	return err
}

// done hands the turn on for good, until ctx ends: the other side never waits
// for a side that has ended (with an error or its last boot).
func (s *side) done(ctx context.Context) {
	go func() {
		for {
			select {
			case <-s.mine:
				s.next <- struct{}{}
			case <-ctx.Done():
				return
			}
		}
	}()
}

// busyMeter averages busy cores over the boots, weighted by their length.
type busyMeter struct {
	coreSeconds, seconds float64
}

func (m *busyMeter) add(cores float64, d time.Duration) {
	m.coreSeconds += cores * d.Seconds()
	m.seconds += d.Seconds()
}

// cores is the average, -1 when nothing was measured.
func (m busyMeter) cores() float64 {
	if m.seconds == 0 {
		return -1
	}
	return m.coreSeconds / m.seconds
}
