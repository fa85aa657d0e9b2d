package fake

import (
	"context"
	"errors"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestTransitions: the fake keeps each guest's power state as a hypervisor
// would, refuses transitions a real one refuses, and forgets destroyed guests.
func TestTransitions(t *testing.T) {
	ctx := context.Background()
	d := New(virt.HostResources{})
	g := virt.Spec{UUID: "g1"}
	if _, err := d.State(ctx, g); !errors.Is(err, virt.ErrNotFound) {
		t.Fatalf("state of an unknown guest: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
		want virt.PowerState
		fail bool
	}{
		{"spawn", func() error { return d.Spawn(ctx, g) }, virt.Running, false},
		{"unpause a running guest", func() error { return d.Unpause(ctx, g) }, virt.Running, true},
		{"pause", func() error { return d.Pause(ctx, g) }, virt.Paused, false},
		{"resume a paused guest", func() error { return d.Resume(ctx, g) }, virt.Paused, true},
		{"unpause", func() error { return d.Unpause(ctx, g) }, virt.Running, false},
		{"suspend", func() error { return d.Suspend(ctx, g) }, virt.Suspended, false},
		{"resume", func() error { return d.Resume(ctx, g) }, virt.Running, false},
		{"power off", func() error { return d.PowerOff(ctx, g, 0) }, virt.Shutdown, false},
		{"spawn again leaves it", func() error { return d.Spawn(ctx, g) }, virt.Shutdown, false},
		{"power on", func() error { return d.PowerOn(ctx, g) }, virt.Running, false},
		{"hard reboot", func() error { return d.Reboot(ctx, g, true, 0) }, virt.Running, false},
	}
	for _, s := range steps {
		err := s.do()
		if (err != nil) != s.fail {
			t.Fatalf("%s: error %v, want failure %v", s.name, err, s.fail)
		}
		if st, _ := d.State(ctx, g); st != s.want {
			t.Fatalf("%s: state %s, want %s", s.name, st, s.want)
		}
	}
	if list, _ := d.List(ctx); len(list) != 1 || list[0].UUID != "g1" {
		t.Errorf("list = %v", list)
	}
	if err := d.Destroy(ctx, g); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.List(ctx); len(list) != 0 {
		t.Errorf("list after destroy = %v", list)
	}
	if err := d.Pause(ctx, g); !errors.Is(err, virt.ErrNotFound) {
		t.Errorf("pause of a destroyed guest: %v", err)
	}
	d.FailSpawn = func(virt.Spec) bool { return true }
	if err := d.Spawn(ctx, g); err == nil {
		t.Error("FailSpawn did not fail the spawn")
	}
}
