// Package fake is a virt.Driver without guests, for API and scale tests and hosts
// without QEMU (upstream's fake driver): it keeps each guest's power state in
// memory and reports a host of the configured size.
package fake

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

var _ virt.Driver = (*Driver)(nil)

// Driver is the fake hypervisor of one host.
type Driver struct {
	mu        sync.Mutex
	guests    map[string]virt.PowerState
	nics      map[string][]virt.NIC // each guest's NICs, as a running one has them
	sizes     map[string][2]int     // each guest's vCPUs and memory (MB)
	started   map[string]time.Time
	volumes   map[string][]virt.VolumeDisk // each guest's volume disks, as a running one has them
	hotplugs  []string                     // "attach <uuid> <mac>", "detach <uuid> <mac>", in order
	resources virt.HostResources
	incoming  map[string]incomingState // guests waiting for a live migration (migration.go)
	// FailSpawn, when set, fails the spawns it returns true for (reschedule tests).
	FailSpawn func(virt.Spec) bool
	// SpawnTime is how long a spawn takes.
	SpawnTime time.Duration
}

// New makes a host with the given capacity (zero: 8 vCPUs, 16 GiB, 500 GB, QEMU 7.2).
func New(r virt.HostResources) *Driver {
	if r.VCPUs == 0 {
		r.VCPUs = 8
	}
	if r.MemoryMB == 0 {
		r.MemoryMB = 16384
	}
	if r.DiskGB == 0 {
		r.DiskGB = 500
	}
	// It stands in for QEMU, so that images made for QEMU schedule onto it.
	if r.HypervisorType == "" {
		r.HypervisorType, r.HypervisorVersion = "QEMU", 7002000
	}
	return &Driver{guests: map[string]virt.PowerState{}, nics: map[string][]virt.NIC{}, sizes: map[string][2]int{},
		started: map[string]time.Time{}, resources: r}
}

func (d *Driver) set(s virt.Spec, from []virt.PowerState, to virt.PowerState) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.guests[s.UUID]
	if !ok {
		return virt.ErrNotFound
	}
	if from != nil {
		allowed := false
		for _, f := range from {
			allowed = allowed || f == cur
		}
		if !allowed {
			return fmt.Errorf("fake: guest %s is %s", s.UUID, cur)
		}
	}
	d.guests[s.UUID] = to
	return nil
}

func (d *Driver) Spawn(ctx context.Context, s virt.Spec) error {
	if d.SpawnTime > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d.SpawnTime):
		}
	}
	if d.FailSpawn != nil && d.FailSpawn(s) {
		return fmt.Errorf("fake: spawn of %s failed as asked", s.UUID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.guests[s.UUID]; !ok {
		d.guests[s.UUID] = virt.Running
		if s.Paused {
			d.guests[s.UUID] = virt.Paused
		}
		d.nics[s.UUID] = slices.Clone(s.NICs)
		d.guestVolumes()[s.UUID] = slices.Clone(s.Volumes)
		d.sizes[s.UUID] = [2]int{s.VCPUs, s.MemoryMB}
		d.started[s.UUID] = time.Now()
	}
	return nil
}

func (d *Driver) Destroy(_ context.Context, s virt.Spec) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.guests, s.UUID)
	delete(d.nics, s.UUID)
	delete(d.volumes, s.UUID)
	delete(d.sizes, s.UUID)
	delete(d.started, s.UUID)
	delete(d.incoming, s.UUID)
	return nil
}

func (d *Driver) PowerOff(_ context.Context, s virt.Spec, _ time.Duration) error {
	return d.set(s, nil, virt.Shutdown)
}

// PowerOn starts the guest again, with the NICs of its Spec as a real boot.
func (d *Driver) PowerOn(_ context.Context, s virt.Spec) error {
	if err := d.set(s, nil, virt.Running); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nics[s.UUID] = slices.Clone(s.NICs)
	d.guestVolumes()[s.UUID] = slices.Clone(s.Volumes)
	return nil
}

// RebootTime is how long a fake reboot takes: a real one takes seconds, and
// clients (gophercloud's acceptance tests) wait to see the REBOOT status.
const RebootTime = 2 * time.Second

func (d *Driver) Reboot(ctx context.Context, s virt.Spec, _ bool, _ time.Duration) error {
	if _, err := d.State(ctx, s); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(RebootTime):
	}
	return d.set(s, nil, virt.Running)
}

func (d *Driver) Pause(_ context.Context, s virt.Spec) error {
	return d.set(s, []virt.PowerState{virt.Running}, virt.Paused)
}

func (d *Driver) Unpause(_ context.Context, s virt.Spec) error {
	return d.set(s, []virt.PowerState{virt.Paused}, virt.Running)
}

func (d *Driver) Suspend(_ context.Context, s virt.Spec) error {
	return d.set(s, []virt.PowerState{virt.Running, virt.Paused}, virt.Suspended)
}

func (d *Driver) Resume(_ context.Context, s virt.Spec) error {
	return d.set(s, []virt.PowerState{virt.Suspended}, virt.Running)
}

func (d *Driver) State(_ context.Context, s virt.Spec) (virt.PowerState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.guests[s.UUID]
	if !ok {
		return virt.NoState, virt.ErrNotFound
	}
	return st, nil
}

func (d *Driver) List(context.Context) ([]virt.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]virt.Info, 0, len(d.guests))
	for id, st := range d.guests {
		out = append(out, virt.Info{UUID: id, State: st})
	}
	return out, nil
}

func (d *Driver) ConsoleOutput(_ context.Context, s virt.Spec, _ int) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.guests[s.UUID]; !ok {
		return "", virt.ErrNotFound
	}
	return "FAKE CONSOLE OUTPUT\n" + s.UUID + " booted\n", nil
}

func (d *Driver) VNCSocket(virt.Spec) string { return "" }

func (d *Driver) Resources(context.Context) (virt.HostResources, error) { return d.resources, nil }

// Snapshot writes a few bytes naming the guest to dst ("" writes nothing): the
// fake has no disks.
func (d *Driver) Snapshot(_ context.Context, s virt.Spec, dst string) error {
	d.mu.Lock()
	_, ok := d.guests[s.UUID]
	d.mu.Unlock()
	if !ok {
		return virt.ErrNotFound
	}
	if dst == "" {
		return nil
	}
	return os.WriteFile(dst, []byte("fake snapshot of "+s.UUID), 0o600)
}
