package fake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Interfaces are the guest's NICs; like a real hypervisor it has none to tell
// of unless the guest runs (or is paused).
func (d *Driver) Interfaces(_ context.Context, s virt.Spec) ([]virt.NIC, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.guests[s.UUID]
	if !ok {
		return nil, virt.ErrNotFound
	}
	if st != virt.Running && st != virt.Paused {
		return nil, fmt.Errorf("fake: guest %s is %s", s.UUID, st)
	}
	return slices.Clone(d.nics[s.UUID]), nil
}

func (d *Driver) AttachInterface(_ context.Context, s virt.Spec, nic virt.NIC) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.guests[s.UUID]; st != virt.Running {
		return fmt.Errorf("fake: cannot hot-plug into guest %s: it is %s", s.UUID, st)
	}
	if slices.ContainsFunc(d.nics[s.UUID], func(n virt.NIC) bool { return strings.EqualFold(n.MAC, nic.MAC) }) {
		return nil
	}
	d.nics[s.UUID] = append(d.nics[s.UUID], nic)
	d.hotplugs = append(d.hotplugs, "attach "+s.UUID+" "+nic.MAC)
	return nil
}

func (d *Driver) DetachInterface(_ context.Context, s virt.Spec, nic virt.NIC) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.guests[s.UUID]; st != virt.Running {
		return fmt.Errorf("fake: cannot hot-unplug from guest %s: it is %s", s.UUID, st)
	}
	before := len(d.nics[s.UUID])
	d.nics[s.UUID] = slices.DeleteFunc(d.nics[s.UUID], func(n virt.NIC) bool { return strings.EqualFold(n.MAC, nic.MAC) })
	if len(d.nics[s.UUID]) < before {
		d.hotplugs = append(d.hotplugs, "detach "+s.UUID+" "+nic.MAC)
	}
	return nil
}

// Hotplugs are the hot-plugs and unplugs done so far, in order, as
// "attach <uuid> <mac>" and "detach <uuid> <mac>", for tests.
func (d *Driver) Hotplugs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.hotplugs)
}

// Diagnostics are a running guest's size and NICs, its counters all zero: a
// fake guest does nothing.
func (d *Driver) Diagnostics(_ context.Context, s virt.Spec) (virt.Diagnostics, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.guests[s.UUID]
	if !ok {
		return virt.Diagnostics{}, virt.ErrNotFound
	}
	if st != virt.Running && st != virt.Paused {
		return virt.Diagnostics{}, fmt.Errorf("fake: guest %s is %s", s.UUID, st)
	}
	size := d.sizes[s.UUID]
	out := virt.Diagnostics{State: st, Driver: "fake", Hypervisor: "fake", HypervisorOS: "fake",
		UptimeSeconds: int64(time.Since(d.started[s.UUID]).Seconds()), MemoryMB: size[1],
		Disks: []virt.DiskStats{{Name: "vda"}}}
	for i := range size[0] {
		out.CPUs = append(out.CPUs, virt.CPUStats{ID: i})
	}
	for _, n := range d.nics[s.UUID] {
		out.NICs = append(out.NICs, virt.NICStats{Name: n.Tap, MAC: n.MAC})
	}
	return out, nil
}
