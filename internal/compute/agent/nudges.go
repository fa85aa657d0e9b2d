package agent

import "sync"

// nudges fans the conductor's "host changed" signals out to the agents that
// asked for them (Changes), one pending signal per listener.
type nudges struct {
	mu sync.Mutex
	by map[string][]chan struct{}
}

// listen returns a channel nudged when host's desired state may have changed.
func (n *nudges) listen(host string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.by == nil {
		n.by = map[string][]chan struct{}{}
	}
	c := make(chan struct{}, 1)
	n.by[host] = append(n.by[host], c)
	return c
}

// nudge signals host's listeners ("" = every host's).
func (n *nudges) nudge(host string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h, chans := range n.by {
		if host != "" && h != host {
			continue
		}
		for _, c := range chans {
			select {
			case c <- struct{}{}:
			default: // one pending nudge stands for any number: a pass reads the whole state
			}
		}
	}
}
