package cloud

import (
	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/network/agent"
)

// On a database that other processes serve the APIs from too (nimbus serve --role
// api), the desired state of this process's agents also changes there, and those
// processes' nudges come over the bus. The agents then listen to both: their own
// service's nudges, at once and in process, and the bus's. A change made here
// arrives twice (it is published too), which costs at most one more pass: a
// pending nudge stands for any number.

// nudgedCompute is this process's compute service as its agents' controller,
// nudged also by the compute services of other processes.
type nudgedCompute struct {
	*computeagent.Local
	bus *computeagent.Remote
}

func (n nudgedCompute) Changes(host string) <-chan struct{} {
	return mergeNudges(n.Local.Changes(host), n.bus.Changes(host))
}

// nudgedNetwork is this process's network service as its agent's controller,
// nudged also by the network services of other processes.
type nudgedNetwork struct {
	agent.Controller
	changes <-chan struct{}
}

func (n nudgedNetwork) Changes() <-chan struct{} { return n.changes }

// mergeNudges delivers a nudge whenever a or b does, coalesced as each of them
// is. Its goroutine lives as long as the process: nudge channels are never
// closed, and an agent listens until the process ends.
func mergeNudges(a, b <-chan struct{}) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-a:
			case <-b:
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}
