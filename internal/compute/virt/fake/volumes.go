package fake

import (
	"context"
	"fmt"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// guestVolumes is the volume disks of each guest, as a running one has them
// (the fake's own map, so that Spawn and PowerOn set it from the Spec).
func (d *Driver) guestVolumes() map[string][]virt.VolumeDisk {
	if d.volumes == nil {
		d.volumes = map[string][]virt.VolumeDisk{}
	}
	return d.volumes
}

// Volumes are the guest's volume disks; like a real hypervisor it has none to
// tell of unless the guest runs (or is paused).
func (d *Driver) Volumes(_ context.Context, s virt.Spec) ([]virt.VolumeDisk, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.guests[s.UUID]
	if !ok {
		return nil, virt.ErrNotFound
	}
	if st != virt.Running && st != virt.Paused {
		return nil, fmt.Errorf("fake: guest %s is %s", s.UUID, st)
	}
	return slices.Clone(d.guestVolumes()[s.UUID]), nil
}

func (d *Driver) AttachVolume(_ context.Context, s virt.Spec, v virt.VolumeDisk) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.guests[s.UUID]; st != virt.Running {
		return fmt.Errorf("fake: cannot hot-plug into guest %s: it is %s", s.UUID, st)
	}
	vols := d.guestVolumes()
	if slices.ContainsFunc(vols[s.UUID], func(have virt.VolumeDisk) bool { return have.VolumeID == v.VolumeID }) {
		return nil
	}
	vols[s.UUID] = append(vols[s.UUID], v)
	d.hotplugs = append(d.hotplugs, "attach-volume "+s.UUID+" "+v.VolumeID)
	return nil
}

func (d *Driver) DetachVolume(_ context.Context, s virt.Spec, volumeID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.guests[s.UUID]; st != virt.Running {
		return fmt.Errorf("fake: cannot hot-unplug from guest %s: it is %s", s.UUID, st)
	}
	vols := d.guestVolumes()
	before := len(vols[s.UUID])
	vols[s.UUID] = slices.DeleteFunc(vols[s.UUID], func(v virt.VolumeDisk) bool { return v.VolumeID == volumeID })
	if len(vols[s.UUID]) < before {
		d.hotplugs = append(d.hotplugs, "detach-volume "+s.UUID+" "+volumeID)
	}
	return nil
}

// ExtendVolume records the new size (Hotplugs shows it) of a disk the guest has.
func (d *Driver) ExtendVolume(_ context.Context, s virt.Spec, volumeID string, sizeBytes int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.ContainsFunc(d.guestVolumes()[s.UUID], func(v virt.VolumeDisk) bool { return v.VolumeID == volumeID }) {
		return fmt.Errorf("fake: guest %s has no volume %s", s.UUID, volumeID)
	}
	d.hotplugs = append(d.hotplugs, fmt.Sprintf("extend-volume %s %s %d", s.UUID, volumeID, sizeBytes))
	return nil
}
