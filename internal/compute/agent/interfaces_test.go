package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

func TestDiffNICs(t *testing.T) {
	a, b, c := virt.NIC{MAC: "fa:16:3e:00:00:0a"}, virt.NIC{MAC: "fa:16:3e:00:00:0b"}, virt.NIC{MAC: "fa:16:3e:00:00:0c"}
	upper := virt.NIC{MAC: "FA:16:3E:00:00:0A"}
	tests := []struct {
		name                string
		want, have          []virt.NIC
		wantExtra, wantMiss []virt.NIC
	}{
		{"in step", []virt.NIC{a, b}, []virt.NIC{b, a}, nil, nil},
		{"one attached", []virt.NIC{a, b}, []virt.NIC{a}, nil, []virt.NIC{b}},
		{"one detached", []virt.NIC{a}, []virt.NIC{a, b}, []virt.NIC{b}, nil},
		{"both at once", []virt.NIC{a, c}, []virt.NIC{a, b}, []virt.NIC{b}, []virt.NIC{c}},
		{"MACs compare without case", []virt.NIC{a}, []virt.NIC{upper}, nil, nil},
		{"a guest without NICs", []virt.NIC{a}, nil, nil, []virt.NIC{a}},
	}
	for _, tt := range tests {
		extra, missing := diffNICs(tt.want, tt.have)
		if !slices.Equal(extra, tt.wantExtra) || !slices.Equal(missing, tt.wantMiss) {
			t.Errorf("%s: extra %v missing %v; want %v %v", tt.name, extra, missing, tt.wantExtra, tt.wantMiss)
		}
	}
}

// TestAgentInterfaces: a pass hot-plugs a port the instance gained and unplugs
// one it lost into its running guest, a second pass changes nothing, a stopped
// guest gets nothing hot-plugged but its next start has the NICs of its ports.
func TestAgentInterfaces(t *testing.T) {
	ctx := context.Background()
	d := fake.New(virt.HostResources{})
	p1 := compute.AgentPort{ID: "11111111-aaaa", MAC: "fa:16:3e:00:00:01"}
	p2 := compute.AgentPort{ID: "22222222-bbbb", MAC: "fa:16:3e:00:00:02"}
	p3 := compute.AgentPort{ID: "33333333-cccc", MAC: "fa:16:3e:00:00:03"}
	c := &ctrl{want: []compute.AgentInstance{
		{UUID: "vm", VMState: "active", PowerState: 1, Ports: []compute.AgentPort{p1}},
		{UUID: "off", VMState: "stopped", PowerState: 4, Ports: []compute.AgentPort{p1}},
	}}
	a, err := New(Options{Host: "h1", Driver: d, Controller: c, InstancesDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range c.want {
		if err := d.Spawn(ctx, a.Spec(inst)); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.PowerOff(ctx, virt.Spec{UUID: "off"}, 0)
	pass := func() {
		t.Helper()
		if err := a.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		a.wg.Wait()
	}
	macs := func(uuid string) []string {
		t.Helper()
		nics, err := d.Interfaces(ctx, virt.Spec{UUID: uuid})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nics {
			out = append(out, n.MAC)
		}
		return out
	}

	steps := []struct {
		name         string
		vm, off      []compute.AgentPort
		wantVM       []string
		wantHotplugs []string
	}{
		{"nothing changed", []compute.AgentPort{p1}, []compute.AgentPort{p1}, []string{p1.MAC}, nil},
		{"attach", []compute.AgentPort{p1, p2}, []compute.AgentPort{p1, p3}, []string{p1.MAC, p2.MAC},
			[]string{"attach vm " + p2.MAC}},
		{"again: no change", []compute.AgentPort{p1, p2}, []compute.AgentPort{p1, p3}, []string{p1.MAC, p2.MAC},
			[]string{"attach vm " + p2.MAC}},
		{"detach", []compute.AgentPort{p2}, []compute.AgentPort{p3}, []string{p2.MAC},
			[]string{"attach vm " + p2.MAC, "detach vm " + p1.MAC}},
	}
	for _, st := range steps {
		c.mu.Lock()
		c.want[0].Ports, c.want[1].Ports = st.vm, st.off
		c.mu.Unlock()
		pass()
		if got := macs("vm"); !slices.Equal(got, st.wantVM) {
			t.Errorf("%s: the guest's NICs are %v, want %v", st.name, got, st.wantVM)
		}
		if got := d.Hotplugs(); !slices.Equal(got, st.wantHotplugs) {
			t.Errorf("%s: hot-plugs %v, want %v", st.name, got, st.wantHotplugs)
		}
		if got := c.take(); len(got) != 0 {
			t.Errorf("%s: reports %+v, want none", st.name, got)
		}
	}
	// The stopped guest starts with the ports it has now.
	c.mu.Lock()
	c.want[1].TaskState = "powering-on"
	c.mu.Unlock()
	pass()
	if got := macs("off"); !slices.Equal(got, []string{p3.MAC}) {
		t.Errorf("the started guest's NICs are %v, want [%s]", got, p3.MAC)
	}
}
