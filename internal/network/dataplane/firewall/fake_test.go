package firewall

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// fakeRunner records the commands run and answers them from canned outputs, keyed
// by "netns|command line" prefixes (the longest match wins).
type fakeRunner struct {
	mu      sync.Mutex
	cmds    []string
	outputs map[string]string
	fail    map[string]bool
}

func (f *fakeRunner) Run(_ context.Context, ns, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := ns + "|" + name + " " + strings.Join(args, " ")
	f.cmds = append(f.cmds, line)
	best := ""
	for k := range f.outputs {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	for k := range f.fail {
		if strings.HasPrefix(line, k) {
			return nil, fmt.Errorf("%s: failed", line)
		}
	}
	if best == "" {
		return nil, nil
	}
	return []byte(f.outputs[best]), nil
}

// has reports whether a command starting with prefix ran.
func (f *fakeRunner) has(prefix string) bool {
	for _, c := range f.cmds {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}
