package dataplanetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// FakeRunner records the commands run and answers them from canned outputs keyed by
// "netns|command line" prefixes (the longest match wins); a command matching a
// Fail prefix fails.
type FakeRunner struct {
	mu      sync.Mutex
	Cmds    []string
	Outputs map[string]string
	Fail    map[string]bool
}

func (f *FakeRunner) Run(_ context.Context, ns, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := ns + "|" + name + " " + strings.Join(args, " ")
	f.Cmds = append(f.Cmds, line)
	for k := range f.Fail {
		if strings.HasPrefix(line, k) {
			return nil, fmt.Errorf("%s: failed", line)
		}
	}
	best := ""
	for k := range f.Outputs {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, nil
	}
	return []byte(f.Outputs[best]), nil
}

// Has reports whether a command starting with prefix ran.
func (f *FakeRunner) Has(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.Cmds {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// Take returns the commands run since the last Take and forgets them.
func (f *FakeRunner) Take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.Cmds
	f.Cmds = nil
	return c
}
