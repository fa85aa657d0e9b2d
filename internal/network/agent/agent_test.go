package agent

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

type fakeController struct {
	dhcpCalls int
	status    map[string]string
	changes   chan struct{}
}

func (f *fakeController) EnsureDHCPPorts(context.Context, string) error { f.dhcpCalls++; return nil }
func (f *fakeController) HostState(_ context.Context, h dataplane.Host, _ network.HostRoles) (dataplane.State, error) {
	return dataplane.State{Host: h}, nil
}
func (f *fakeController) SetPortStatus(_ context.Context, status string, ids ...string) error {
	for _, id := range ids {
		f.status[id] = status
	}
	return nil
}
func (f *fakeController) Changes() <-chan struct{} { return f.changes }

type fakePart struct {
	wired []string
	err   error
}

func (p *fakePart) Name() string { return "fake" }
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
	if !slices.Equal(a.wired, []string{"p2"}) {
		t.Fatalf("remembered %v after a failed pass", a.wired)
	}
}
