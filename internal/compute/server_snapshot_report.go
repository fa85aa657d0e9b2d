package compute

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// imageTasks are the task states of a snapshot or backup; shelvingTasks those
// of a shelve. The agent carries them out as one task that moves the task
// state on as upstream's compute manager does (pending upload, uploading).
var (
	imageTasks    = []string{taskImageSnapshotPending, taskImageSnapshot, taskImageBackup, taskImagePendingUpload, taskImageUploading}
	shelvingTasks = []string{taskShelving, taskShelvingImagePendingUpload, taskShelvingImageUploading}
)

// imageTaskEvents are the compute manager's event names of the actions
// (upstream's wrap_instance_event).
var imageTaskEvents = map[string]string{
	"createImage":   "compute_snapshot_instance",
	"createBackup":  "compute_backup_instance",
	"shelve":        "compute_shelve_instance",
	"shelveOffload": "compute_shelve_offload_instance",
	"unshelve":      "compute_unshelve_instance",
}

// agentSnapshotView adds to the agent's view what a snapshot, shelve or
// unshelve needs: the image to upload to, and for a shelved server spawning
// again, its shelved image as the one to boot.
func agentSnapshotView(in *instance, ai *AgentInstance) {
	if snap := in.Request.Snapshot; snap != nil && (slices.Contains(imageTasks, in.TaskState) || slices.Contains(shelvingTasks, in.TaskState)) {
		ai.Snapshot = &AgentImage{ID: snap.ImageID, DiskFormat: "qcow2"}
	}
	if in.VMState == vmShelvedOffloaded && in.Request.ShelvedImage != "" {
		ai.ImageID, ai.DiskFormat = in.Request.ShelvedImage, "qcow2"
	}
}

// reportImageTask applies an agent's report of a snapshot, backup, shelve,
// offload or unshelve (handled false: another task's, for ReportInstance).
// What must follow outside the transaction (rotating backups, deleting an
// image, unbinding ports) is set in after.
func (s *Service) reportImageTask(ctx context.Context, tx *db.Tx, in *instance, rep AgentReport, after *func(context.Context)) (bool, error) {
	snapshotting := slices.Contains(imageTasks, rep.Task)
	shelving := slices.Contains(shelvingTasks, rep.Task)
	if rep.Next != "" {
		if rep.Error != "" || !(snapshotting && slices.Contains(imageTasks, rep.Next) ||
			shelving && slices.Contains(shelvingTasks, rep.Next)) {
			return true, fmt.Errorf("report of task %q moving on to %q", rep.Task, rep.Next)
		}
		in.TaskState = rep.Next
		return true, nil
	}
	now := s.now()
	event := func(action string) error {
		return s.recordEvent(ctx, tx, in, rep, [2]string{action, imageTaskEvents[action]})
	}
	switch {
	case snapshotting || shelving:
		snap := in.Request.Snapshot
		in.Request.Snapshot = nil
		in.TaskState, in.PowerState = "", rep.PowerState
		action := "shelve"
		if snap != nil && snap.Action != "shelve" {
			action = snap.Action
		}
		if err := event(action); err != nil {
			return true, err
		}
		if rep.Error != "" || snap == nil {
			// As upstream: the task state reverted, the image deleted.
			if snap != nil {
				*after = func(ctx context.Context) { s.dropImage(ctx, "", snap.ImageID, in.UUID) }
			}
			return true, nil
		}
		if snapshotting {
			if snap.Action == "createBackup" {
				*after = func(ctx context.Context) { s.rotateBackups(ctx, in.UUID, snap.BackupType, snap.Rotation) }
			}
			return true, nil
		}
		in.VMState, in.Request.ShelvedImage, in.Request.ShelvedAt = vmShelved, snap.ImageID, stamp(now)
		if s.opts.ShelvedOffloadTime == 0 {
			// Offloaded at once, as upstream's shelve_instance does.
			in.TaskState = taskShelvingOffloading
			host := in.Host
			*after = func(context.Context) { s.kick(host) }
		}
		return true, nil
	case rep.Task == taskShelvingOffloading:
		in.TaskState, in.PowerState = "", rep.PowerState
		if err := s.recordEvent(ctx, tx, in, rep, [2]string{"shelveOffload", imageTaskEvents["shelveOffload"]}); err != nil {
			return true, err
		}
		// Upstream records the offload under the shelve action when shelve
		// offloaded at once; the latest of either gets the event.
		if rep.Error != "" {
			return true, nil
		}
		if err := releaseClaims(ctx, tx, in.UUID); err != nil {
			return true, err
		}
		in.VMState, in.PowerState, in.Host = vmShelvedOffloaded, powerNoState, ""
		off := *in
		*after = func(ctx context.Context) { s.unbindPortsFromHost(ctx, &off) }
		return true, nil
	case rep.Task == taskUnshelving:
		// A SHELVED server powered on where it is.
		in.TaskState, in.PowerState = "", rep.PowerState
		if err := event("unshelve"); err != nil {
			return true, err
		}
		if rep.Error == "" {
			in.VMState = vmActive
			s.unshelved(in, after)
		}
		return true, nil
	case rep.Task == taskSpawning && in.VMState == vmShelvedOffloaded:
		// A SHELVED_OFFLOADED server spawned on its new host from its image.
		if err := event("unshelve"); err != nil {
			return true, err
		}
		in.TaskState, in.PowerState = "", rep.PowerState
		if rep.Error != "" {
			// As upstream's failed unshelve: back to SHELVED_OFFLOADED, no host.
			if err := releaseClaims(ctx, tx, in.UUID); err != nil {
				return true, err
			}
			in.Host, in.PowerState = "", powerNoState
			in.Fault = &fault{Code: 500, Message: fmt.Sprintf("Unshelve of instance %s failed: %s", in.UUID, rep.Error),
				Created: stamp(now)}
			return true, nil
		}
		in.VMState, in.LaunchedAt = vmActive, stamp(now)
		s.unshelved(in, after)
		return true, nil
	}
	return false, nil
}

// unshelved forgets the shelved image of a server running again, and deletes
// it afterwards (upstream's _delete_snapshot_of_shelved_instance).
func (s *Service) unshelved(in *instance, after *func(context.Context)) {
	image := in.Request.ShelvedImage
	in.Request.ShelvedImage, in.Request.ShelvedAt = "", ""
	if image != "" {
		uuid := in.UUID
		*after = func(ctx context.Context) { s.dropImage(ctx, "", image, uuid) }
	}
}

// unbindPortsFromHost clears the binding host of an offloaded server's ports,
// which stay its own (device kept) for the unshelve to bind again.
func (s *Service) unbindPortsFromHost(ctx context.Context, in *instance) {
	owner := "compute:" + s.zoneOf(in)
	for _, p := range in.Request.Ports {
		if _, err := s.opts.Network.BindPort(ctx, p.ID, in.UUID, owner, ""); err != nil && !httpapi.IsStatus(err, 404) {
			s.log.Warn("unbind the port of an offloaded server", "instance", in.UUID, "port", p.ID, "error", err)
		}
	}
}

// offloadShelved starts the offload of servers shelved longer than
// shelved_offload_time (upstream's _poll_shelved_instances), when it is
// positive.
func (s *Service) offloadShelved(ctx context.Context) error {
	if s.opts.ShelvedOffloadTime <= 0 {
		return nil
	}
	shelved, err := db.QueryAll(ctx, s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances
		WHERE deleted = ? AND vm_state = ? AND task_state IS NULL`, false, vmShelved)
	if err != nil {
		return err
	}
	for _, in := range shelved {
		at := parseStamp(in.Request.ShelvedAt)
		if s.now().Sub(at) < time.Duration(s.opts.ShelvedOffloadTime)*time.Second {
			continue
		}
		var host string
		if err := s.db.InTx(ctx, func(tx *db.Tx) error {
			host = ""
			cur, err := loadInstance(ctx, tx, in.UUID)
			if err != nil || cur.Deleted || cur.VMState != vmShelved || cur.TaskState != "" {
				return err
			}
			cur.TaskState, cur.UpdatedAt, host = taskShelvingOffloading, stamp(s.now()), cur.Host
			return saveInstance(ctx, tx, cur)
		}); err != nil {
			return err
		}
		if host != "" {
			s.kick(host)
		}
	}
	return nil
}
