package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// ctrl is a conductor in memory: a fixed desired state, the reports it got.
type ctrl struct {
	mu      sync.Mutex
	want    []compute.AgentInstance
	reports []compute.AgentReport
	volumes []compute.VolumeReport
	active  map[string]bool
}

func (c *ctrl) ReportVolumes(_ context.Context, r compute.VolumeReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.volumes = append(c.volumes, r)
	return nil
}

func (c *ctrl) HostInstances(context.Context, string) ([]compute.AgentInstance, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.want), nil
}

func (c *ctrl) ReportInstance(_ context.Context, r compute.AgentReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, r)
	return nil
}

func (c *ctrl) ReportService(context.Context, compute.ServiceReport) error { return nil }

func (c *ctrl) PortActive(_ context.Context, id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active[id], nil
}

func (c *ctrl) Changes(string) <-chan struct{} { return make(chan struct{}) }

func (c *ctrl) take() []compute.AgentReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reports
	c.reports = nil
	slices.SortFunc(r, func(a, b compute.AgentReport) int {
		if a.UUID < b.UUID {
			return -1
		}
		return 1
	})
	return r
}

// TestAgentPass: one pass carries out each instance's task and reports it,
// reports a power state the hypervisor contradicts, leaves agreeing instances
// alone and destroys guests no instance owns; a spawn waits for its ports.
func TestAgentPass(t *testing.T) {
	ctx := context.Background()
	d := fake.New(virt.HostResources{})
	for _, id := range []string{"running", "stopped-behind-our-back", "orphan", "to-delete", "to-pause", "to-rebuild", "stopped-to-rebuild",
		"to-rescue", "to-unrescue", "to-resize", "stopped-to-resize", "to-revert", "resize-prep"} {
		if err := d.Spawn(ctx, virt.Spec{UUID: id}); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.PowerOff(ctx, virt.Spec{UUID: "stopped-behind-our-back"}, 0)
	_ = d.PowerOff(ctx, virt.Spec{UUID: "stopped-to-rebuild"}, 0)
	_ = d.PowerOff(ctx, virt.Spec{UUID: "stopped-to-resize"}, 0)
	c := &ctrl{active: map[string]bool{"p-ready": true}, want: []compute.AgentInstance{
		{UUID: "new", VMState: "building", TaskState: "spawning", Ports: []compute.AgentPort{{ID: "p-ready"}}},
		{UUID: "running", VMState: "active", PowerState: 1},
		{UUID: "stopped-behind-our-back", VMState: "active", PowerState: 1},
		{UUID: "to-delete", VMState: "active", TaskState: "deleting", PowerState: 1},
		{UUID: "to-pause", VMState: "active", TaskState: "pausing", PowerState: 1},
		{UUID: "to-rebuild", VMState: "active", TaskState: "rebuilding", PowerState: 1, Ports: []compute.AgentPort{{ID: "p-ready"}}},
		{UUID: "stopped-to-rebuild", VMState: "stopped", TaskState: "rebuilding", PowerState: 4},
		{UUID: "to-rescue", VMState: "active", TaskState: "rescuing", PowerState: 1, Rescue: &compute.AgentImage{ID: "img"}},
		{UUID: "to-unrescue", VMState: "rescued", TaskState: "unrescuing", PowerState: 1, Rescue: &compute.AgentImage{ID: "img"}},
		{UUID: "to-resize", VMState: "active", TaskState: "resize_migrating", PowerState: 1, MemoryMB: 2048},
		{UUID: "stopped-to-resize", VMState: "stopped", TaskState: "resize_migrating", PowerState: 4},
		{UUID: "to-revert", VMState: "resized", TaskState: "resize_reverting", PowerState: 1},
		{UUID: "resize-prep", VMState: "active", TaskState: "resize_prep", PowerState: 1}, // the conductor's: untouched
	}}
	a, err := New(Options{Host: "h1", Driver: d, Controller: c, InstancesDir: t.TempDir(), VIFWait: time.Second,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	a.wg.Wait()
	got := c.take()
	want := []compute.AgentReport{
		{Host: "h1", UUID: "new", Task: "spawning", PowerState: 1},
		{Host: "h1", UUID: "stopped-behind-our-back", PowerState: 4},
		{Host: "h1", UUID: "stopped-to-rebuild", Task: "rebuilding", PowerState: 4},
		{Host: "h1", UUID: "stopped-to-resize", Task: "resize_migrating", PowerState: 4},
		{Host: "h1", UUID: "to-delete", Task: "deleting"},
		{Host: "h1", UUID: "to-pause", Task: "pausing", PowerState: 3},
		{Host: "h1", UUID: "to-rebuild", Task: "rebuilding", PowerState: 1},
		{Host: "h1", UUID: "to-rescue", Task: "rescuing", PowerState: 1},
		{Host: "h1", UUID: "to-resize", Task: "resize_migrating", PowerState: 1},
		{Host: "h1", UUID: "to-revert", Task: "resize_reverting", PowerState: 1},
		{Host: "h1", UUID: "to-unrescue", Task: "unrescuing", PowerState: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reports\n got %+v\nwant %+v", got, want)
	}
	for id, wantState := range map[string]virt.PowerState{"orphan": virt.NoState, "to-delete": virt.NoState, "new": virt.Running, "running": virt.Running,
		"resize-prep": virt.Running, "stopped-to-resize": virt.Shutdown} {
		if st, _ := d.State(ctx, virt.Spec{UUID: id}); st != wantState {
			t.Errorf("%s: %s, want %s", id, st, wantState)
		}
	}

	// A spawn whose port is not wired waits, then fails when the wait is over.
	c.want = []compute.AgentInstance{{UUID: "unwired", VMState: "building", TaskState: "spawning", Ports: []compute.AgentPort{{ID: "p-down"}}}}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	a.wg.Wait()
	got = c.take()
	if len(got) != 1 || got[0].Error == "" || got[0].Task != "spawning" {
		t.Fatalf("spawn without a wired port: %+v", got)
	}
	if st, _ := d.State(ctx, virt.Spec{UUID: "unwired"}); st != virt.NoState {
		t.Errorf("a failed build left its guest behind: %s", st)
	}

	// While its port is wired the guest exists paused; it runs once the port is.
	c.want = []compute.AgentInstance{{UUID: "late", VMState: "building", TaskState: "spawning", Ports: []compute.AgentPort{{ID: "p-late"}}}}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	for st, deadline := virt.NoState, time.Now().Add(5*time.Second); st != virt.Paused; {
		if st == virt.Running {
			t.Fatal("a guest ran before its port was wired")
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest is %s while its port is not wired, want paused", st)
		}
		time.Sleep(time.Millisecond)
		st, _ = d.State(ctx, virt.Spec{UUID: "late"})
	}
	c.mu.Lock()
	c.active["p-late"] = true
	c.mu.Unlock()
	a.wg.Wait()
	if got := c.take(); len(got) != 1 || got[0].Error != "" || got[0].PowerState != int(virt.Running) {
		t.Fatalf("spawn once the port is wired: %+v", got)
	}
}

// TestSpecRescueDisk: a guest boots the rescue disk while rescuing and rescued,
// its own once unrescuing.
func TestSpecRescueDisk(t *testing.T) {
	a, err := New(Options{Host: "h1", Driver: fake.New(virt.HostResources{}), Controller: &ctrl{}, InstancesDir: "/srv/i",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	img := &compute.AgentImage{ID: "img"}
	for _, tc := range []struct {
		inst compute.AgentInstance
		want string
	}{
		{compute.AgentInstance{UUID: "u", VMState: "active"}, ""},
		{compute.AgentInstance{UUID: "u", VMState: "active", TaskState: "rescuing", Rescue: img}, "/srv/i/u/disk.rescue"},
		{compute.AgentInstance{UUID: "u", VMState: "rescued", Rescue: img}, "/srv/i/u/disk.rescue"},
		{compute.AgentInstance{UUID: "u", VMState: "rescued", TaskState: "unrescuing", Rescue: img}, ""},
	} {
		if got := a.Spec(tc.inst).RescueDisk; got != tc.want {
			t.Errorf("%s/%s: rescue disk %q, want %q", tc.inst.VMState, tc.inst.TaskState, got, tc.want)
		}
	}
}
