package agent

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Local is the compute service in this process as its agents' Controller, and
// the agents as the service's HostCalls.
type Local struct {
	*compute.Service
	// Others reaches the agents of other hosts (nil: none).
	Others compute.HostCalls

	nudges nudges
	mu     sync.Mutex
	agents map[string]*Agent
}

var (
	_ Controller        = (*Local)(nil)
	_ compute.HostCalls = (*Local)(nil)
)

// NewLocal connects agents to svc in process.
func NewLocal(svc *compute.Service) *Local {
	l := &Local{Service: svc, agents: map[string]*Agent{}}
	svc.OnHostChange(l.nudges.nudge)
	svc.SetHostCalls(l)
	return l
}

// Add registers an agent for the HostCalls of its host.
func (l *Local) Add(a *Agent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.agents[a.opts.Host] = a
}

func (l *Local) Changes(host string) <-chan struct{} { return l.nudges.listen(host) }

// agent is the agent of host in this process (nil: none).
func (l *Local) agent(host string) *Agent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.agents[host]
}

func (l *Local) ConsoleOutput(ctx context.Context, host, uuid string, lines int) (string, error) {
	a := l.agent(host)
	if a == nil {
		if l.Others != nil {
			return l.Others.ConsoleOutput(ctx, host, uuid, lines)
		}
		return "", errNoAgent(host)
	}
	out, err := a.ConsoleOutput(ctx, uuid, lines)
	return out, notFoundAsAPI(err, uuid)
}

// notFoundAsAPI is the driver's "no such guest" as the API's 404.
func notFoundAsAPI(err error, uuid string) error {
	if errors.Is(err, virt.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "instance %s has no guest here", uuid)
	}
	return err
}

func (l *Local) VNCSocket(ctx context.Context, host, uuid string) (string, error) {
	a := l.agent(host)
	if a == nil {
		if l.Others != nil {
			return l.Others.VNCSocket(ctx, host, uuid)
		}
		return "", errNoAgent(host)
	}
	return a.opts.Driver.VNCSocket(virt.Spec{UUID: uuid, Dir: filepath.Join(a.opts.InstancesDir, uuid)}), nil
}

func (l *Local) Diagnostics(ctx context.Context, host, uuid string) (virt.Diagnostics, error) {
	a := l.agent(host)
	if a == nil {
		if l.Others != nil {
			return l.Others.Diagnostics(ctx, host, uuid)
		}
		return virt.Diagnostics{}, errNoAgent(host)
	}
	out, err := a.Diagnostics(ctx, uuid)
	return out, notFoundAsAPI(err, uuid)
}

func (l *Local) HostUptime(ctx context.Context, host string) (string, error) {
	a := l.agent(host)
	if a == nil {
		if l.Others != nil {
			return l.Others.HostUptime(ctx, host)
		}
		return "", errNoAgent(host)
	}
	return a.HostUptime()
}
