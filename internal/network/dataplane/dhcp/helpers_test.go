package dhcp

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// recorder runs commands for real and remembers those that change something.
type recorder struct {
	dataplane.Runner
	mu      sync.Mutex
	changes []string
}

func (r *recorder) Run(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	if mutating(name, args) {
		r.mu.Lock()
		r.changes = append(r.changes, ns+"| "+name+" "+strings.Join(args, " "))
		r.mu.Unlock()
	}
	return r.Runner.Run(ctx, ns, name, args...)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

func mutating(name string, args []string) bool {
	if name != "ip" && name != "bridge" {
		return true
	}
	s := " " + strings.Join(args, " ") + " "
	for _, w := range []string{" add ", " del ", " set ", " replace ", " append ", " flush "} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// timerFields are what changes by itself in `ip -d link` and `ip addr`: the bridge's
// running timers, and IPv6 duplicate address detection finishing ("tentative").
var timerFields = regexp.MustCompile(`\S*_timer\s+\S+| tentative`)

func timers(s string) string { return timerFields.ReplaceAllString(s, "") }

func itoa(i int) string { return strconv.Itoa(i) }
