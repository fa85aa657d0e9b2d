package agent

import (
	"context"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// syncVolumes converges the volume disks of an instance without a task to its
// volumes (upstream's attach_volume, detach_volume and extend_volume): a
// running guest gets the missing disks hot-plugged, those of detaching (or
// unknown) volumes unplugged, and the new size of extended ones, found by
// comparing the guest's disks with the volumes (so an agent restarted mid-way
// finishes the job). A guest that does not run changes nothing: its next start
// has the disks of its volumes, at their size. The agent then reports what the
// guest has, when that moves an attach, a detach or an extend on (the service
// completes or deletes the volume's attachment). st is the guest's power state
// as this pass listed it.
func (a *Agent) syncVolumes(ctx context.Context, inst compute.AgentInstance, st virt.PowerState) {
	if len(inst.Volumes) == 0 {
		return // a disk is unplugged before its mapping goes: none is left
	}
	spec := a.Spec(inst)
	log := a.opts.Log.With("host", a.opts.Host, "instance", inst.UUID)
	var present, extended []string
	switch st {
	case virt.Running:
		have, err := a.opts.Driver.Volumes(ctx, spec)
		if err != nil {
			log.Debug("guest volumes", "error", err) // it stopped meanwhile: the next pass sees
			return
		}
		wanted := map[string]bool{}
		for _, v := range spec.Volumes {
			wanted[v.VolumeID] = true
		}
		had := map[string]bool{}
		for _, v := range have {
			had[v.VolumeID] = true
			if wanted[v.VolumeID] {
				present = append(present, v.VolumeID)
				continue
			}
			if err := a.opts.Driver.DetachVolume(ctx, spec, v.VolumeID); err != nil {
				log.Warn("detach volume", "volume", v.VolumeID, "error", err)
				present = append(present, v.VolumeID)
			}
		}
		for _, v := range spec.Volumes {
			if had[v.VolumeID] {
				continue
			}
			if err := a.opts.Driver.AttachVolume(ctx, spec, v); err != nil {
				log.Warn("attach volume", "volume", v.VolumeID, "error", err)
				continue
			}
			present = append(present, v.VolumeID)
		}
		for _, v := range inst.Volumes {
			if !v.Extend || !slices.Contains(present, v.Disk.VolumeID) {
				continue
			}
			if err := a.opts.Driver.ExtendVolume(ctx, spec, v.Disk.VolumeID, int64(v.SizeGB)<<30); err != nil {
				log.Warn("extend volume", "volume", v.Disk.VolumeID, "error", err)
				continue
			}
			extended = append(extended, v.Disk.VolumeID)
		}
	case virt.Paused, virt.Suspended:
		return // a guest that cannot take or let go of a device now: later
	default:
		for _, v := range inst.Volumes {
			if v.Status != compute.VolumeDetaching {
				present = append(present, v.Disk.VolumeID)
			}
			if v.Extend {
				extended = append(extended, v.Disk.VolumeID)
			}
		}
	}
	if !volumesMoved(inst.Volumes, present, extended) {
		return
	}
	if err := a.opts.Controller.ReportVolumes(ctx, compute.VolumeReport{Host: a.opts.Host, UUID: inst.UUID,
		Present: present, Extended: extended}); err != nil && ctx.Err() == nil {
		log.Warn("report volumes", "error", err)
	}
}

// volumesMoved says whether the report moves something on: an attaching
// volume the guest has, a detaching one it no longer has, an extend done.
func volumesMoved(volumes []compute.AgentVolume, present, extended []string) bool {
	for _, v := range volumes {
		has := slices.Contains(present, v.Disk.VolumeID)
		if v.Status == compute.VolumeAttaching && has || v.Status == compute.VolumeDetaching && !has ||
			v.Extend && slices.Contains(extended, v.Disk.VolumeID) {
			return true
		}
	}
	return false
}
