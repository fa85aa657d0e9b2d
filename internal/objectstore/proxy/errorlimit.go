package proxy

import (
	"strconv"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// Upstream's error_suppression_limit and error_suppression_interval: a node
// with more errors than the limit, each within the interval of the last, is
// skipped until the interval passes without one. A 507 (the device is not
// mounted) limits its node at once.
const (
	errorSuppressionLimit    = 10
	errorSuppressionInterval = 60 * time.Second
)

// errorLimiter counts failures per node (ip, port and device).
type errorLimiter struct {
	mu    sync.Mutex
	nodes map[string]*nodeErrors
	now   func() time.Time
}

type nodeErrors struct {
	count int
	last  time.Time
}

func newErrorLimiter() *errorLimiter {
	return &errorLimiter{nodes: map[string]*nodeErrors{}, now: time.Now}
}

func nodeKey(d *ring.Device) string { return d.IP + ":" + strconv.Itoa(d.Port) + "/" + d.Name }

// failed records one error of d; limit makes it skipped at once (a 507).
func (l *errorLimiter) failed(d *ring.Device, limit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := nodeKey(d)
	e := l.nodes[k]
	now := l.now()
	if e == nil || now.Sub(e.last) > errorSuppressionInterval {
		e = &nodeErrors{}
		l.nodes[k] = e
	}
	e.count++
	if limit {
		e.count = errorSuppressionLimit + 1
	}
	e.last = now
}

// limited reports whether d is being skipped.
func (l *errorLimiter) limited(d *ring.Device) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.nodes[nodeKey(d)]
	if e == nil {
		return false
	}
	if l.now().Sub(e.last) > errorSuppressionInterval {
		delete(l.nodes, nodeKey(d))
		return false
	}
	return e.count > errorSuppressionLimit
}
