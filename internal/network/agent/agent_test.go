package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

type fakeController struct {
	dhcpCalls int
	status    map[string]string
	changes   chan struct{}
	reports   []string // agent type and configurations of each heartbeat
	state     dataplane.State
}

func (f *fakeController) ReportAgent(_ context.Context, agentType, binary, host string, conf map[string]any) error {
	f.reports = append(f.reports, fmt.Sprintf("%s %s %s %v", agentType, binary, host, conf))
	return nil
}

func (f *fakeController) EnsureDHCPPorts(context.Context, string) error { f.dhcpCalls++; return nil }
func (f *fakeController) HostState(_ context.Context, h dataplane.Host, _ network.HostRoles) (dataplane.State, error) {
	st := f.state
	st.Host = h
	return st, nil
}
func (f *fakeController) SetPortStatus(_ context.Context, status string, ids ...string) error {
	for _, id := range ids {
		f.status[id] = status
	}
	return nil
}
func (f *fakeController) Changes() <-chan struct{} { return f.changes }

type fakePart struct {
	name  string
	wired []string
	err   error
}

func (p *fakePart) Name() string {
	if p.name == "" {
		return "fake"
	}
	return p.name
}
func (p *fakePart) Converge(context.Context, dataplane.State) ([]string, error) {
	return p.wired, p.err
}

// TestPassReportsPortChanges checks that ports become ACTIVE once wired, DOWN once no
// longer wired, and that a failed pass reports again next time.
func TestPassReportsPortChanges(t *testing.T) {
	ctl := &fakeController{status: map[string]string{}, changes: make(chan struct{})}
	part := &fakePart{wired: []string{"p1", "p2"}}
	a := &Agent{Controller: ctl, Host: dataplane.Host{Name: "h"}, Roles: network.HostRoles{DHCP: true}, Parts: []Part{part}}
	ctx := context.Background()
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if ctl.status["p1"] != "ACTIVE" || ctl.status["p2"] != "ACTIVE" || ctl.dhcpCalls != 1 {
		t.Fatalf("after first pass: %v, dhcp calls %d", ctl.status, ctl.dhcpCalls)
	}
	part.wired = []string{"p2"}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if ctl.status["p1"] != "DOWN" {
		t.Fatalf("p1 = %s, want DOWN", ctl.status["p1"])
	}
	part.wired, part.err = []string{"p2", "p3"}, errors.New("boom")
	if err := a.Pass(ctx); err == nil {
		t.Fatal("a failing part did not fail the pass")
	}
	if !slices.Equal(a.wired[0], []string{"p2"}) {
		t.Fatalf("remembered %v after a failed pass", a.wired)
	}
}

// TestPassReportsAgents checks the heartbeats: one row per upstream agent the host
// runs (none for parts without one), sent again at once when what it reports
// changes, else only after ReportInterval.
func TestPassReportsAgents(t *testing.T) {
	ctl := &fakeController{status: map[string]string{}, changes: make(chan struct{})}
	clock := time.Unix(1e9, 0)
	a := &Agent{Controller: ctl, Roles: network.HostRoles{DHCP: true, L3: true},
		Host:  dataplane.Host{Name: "h", VTEP: netip.MustParseAddr("192.0.2.1")},
		Parts: []Part{&fakePart{name: "linuxbridge"}, &fakePart{name: "dhcp"}, &fakePart{name: "l3"}, &fakePart{name: "firewall"}},
		now:   func() time.Time { return clock }}
	ctx := context.Background()
	pass := func() []string {
		t.Helper()
		ctl.reports = nil
		if err := a.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		return ctl.reports
	}
	first := pass()
	if len(first) != 3 {
		t.Fatalf("first pass reported %q, want the L2, DHCP and L3 agents", first)
	}
	for i, want := range []string{"Linux bridge agent neutron-linuxbridge-agent h", "DHCP agent neutron-dhcp-agent h", "L3 agent neutron-l3-agent h"} {
		if !strings.HasPrefix(first[i], want) {
			t.Fatalf("report %d = %q, want %q...", i, first[i], want)
		}
	}
	if !strings.Contains(first[0], "tunneling_ip:192.0.2.1") {
		t.Fatalf("the L2 agent does not report its VTEP: %q", first[0])
	}
	if got := pass(); len(got) != 0 {
		t.Fatalf("an unchanged pass within the interval reported %q", got)
	}
	ctl.state.Routers = []dataplane.Router{{ID: "r1"}}
	if got := pass(); len(got) != 1 || !strings.Contains(got[0], "routers:1") {
		t.Fatalf("a new router reported %q, want the L3 agent's row only", got)
	}
	clock = clock.Add(ReportInterval)
	if got := pass(); len(got) != 3 {
		t.Fatalf("after the interval reported %q, want every agent", got)
	}
}

// observingPart records, when it converges, the status its controller has for a port.
type observingPart struct {
	ctl  *fakeController
	port string
	saw  string
}

func (p *observingPart) Name() string { return "observer" }
func (p *observingPart) Converge(context.Context, dataplane.State) ([]string, error) {
	p.saw = p.ctl.status[p.port]
	return []string{"router-port"}, nil
}

// TestPassReportsPortsBeforeRouting checks that the ports the Parts wired are
// ACTIVE by the time Routing runs, and that Routing's own ports are reported too.
func TestPassReportsPortsBeforeRouting(t *testing.T) {
	ctl := &fakeController{status: map[string]string{}, changes: make(chan struct{})}
	routing := &observingPart{ctl: ctl, port: "vm-port"}
	a := &Agent{Controller: ctl, Host: dataplane.Host{Name: "h"},
		Parts: []Part{&fakePart{wired: []string{"vm-port"}}}, Routing: []Part{routing}}
	if err := a.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if routing.saw != "ACTIVE" {
		t.Fatalf("routing ran with the VM's port %q, want it reported ACTIVE before", routing.saw)
	}
	if ctl.status["router-port"] != "ACTIVE" {
		t.Fatalf("routing's port is %q, want ACTIVE", ctl.status["router-port"])
	}
	// Each phase keeps its own record: one phase's ports are not the other's DOWN.
	if err := a.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ctl.status["vm-port"] != "ACTIVE" || ctl.status["router-port"] != "ACTIVE" {
		t.Fatalf("after a second pass: %v", ctl.status)
	}
}

// waitingPart is an L2 part with a port whose tap is missing.
type waitingPart struct {
	fakePart
	pending []string
}

func (p *waitingPart) Pending() []string { return p.pending }

// TestRunWakesForAPendingTap checks that a link naming the tap of a port the
// last pass could not wire starts a pass at once, and that other links do not.
func TestRunWakesForAPendingTap(t *testing.T) {
	ctl := &fakeController{status: map[string]string{}, changes: make(chan struct{})}
	part := &waitingPart{pending: []string{"0123456789abcdef"}}
	links := make(chan string)
	passes := make(chan struct{}, 10)
	a := &Agent{Controller: ctl, Host: dataplane.Host{Name: "h"}, Resync: time.Hour,
		Parts:      []Part{part, &countingPart{passes: passes}},
		WatchLinks: func(context.Context, string) (<-chan string, error) { return links, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-passes // the first pass
	links <- "brq0123456789a"
	links <- "tap9999999999a"
	select {
	case <-passes:
		t.Fatal("a link no port waits for started a pass")
	case <-time.After(50 * time.Millisecond):
	}
	links <- dataplane.TapName("0123456789abcdef")
	select {
	case <-passes:
	case <-time.After(10 * time.Second):
		t.Fatal("the pending port's tap did not start a pass")
	}
}

type countingPart struct{ passes chan struct{} }

func (p *countingPart) Name() string { return "counter" }
func (p *countingPart) Converge(context.Context, dataplane.State) ([]string, error) {
	p.passes <- struct{}{}
	return nil, nil
}

// TestPortOfBothPhasesIsDownOnlyOnceNeitherWiresIt: a router's port is wired by
// L2 (Parts) and L3 (Routing); one of them letting it go does not make it DOWN.
func TestPortOfBothPhasesIsDownOnlyOnceNeitherWiresIt(t *testing.T) {
	ctl := &fakeController{status: map[string]string{}, changes: make(chan struct{})}
	l2, l3 := &fakePart{wired: []string{"rp"}}, &fakePart{wired: []string{"rp"}}
	a := &Agent{Controller: ctl, Host: dataplane.Host{Name: "h"}, Parts: []Part{l2}, Routing: []Part{l3}}
	steps := []struct {
		l2, l3 []string
		want   string
	}{
		{[]string{"rp"}, []string{"rp"}, "ACTIVE"},
		{[]string{"rp"}, nil, "ACTIVE"},
		{nil, []string{"rp"}, "ACTIVE"},
		{nil, nil, "DOWN"},
		{nil, []string{"rp"}, "ACTIVE"},
	}
	for i, s := range steps {
		l2.wired, l3.wired = s.l2, s.l3
		if err := a.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := ctl.status["rp"]; got != s.want {
			t.Fatalf("step %d (L2 %v, L3 %v): %s, want %s", i, s.l2, s.l3, got, s.want)
		}
	}
}
