package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Task states of a snapshot, backup or shelve (nova.compute.task_states), as
// the compute manager moves them on: the API's first state, then pending
// upload while the disk is copied, then uploading.
var (
	snapshotTasks = []string{"image_snapshot_pending", "image_snapshot", "image_backup", "image_pending_upload", "image_uploading"}
	shelveTasks   = []string{"shelving", "shelving_image_pending_upload", "shelving_image_uploading"}
)

// snapshotFile is where a snapshot's copy of the disk waits for its upload.
const snapshotFile = "disk.snapshot"

// ImageUploader is an image source that can also store an image's data (the
// compute service's credentials: the image was made as the user before).
type ImageUploader interface {
	Upload(ctx context.Context, id, path string) error
}

// snapshot copies the guest's disk and uploads it to inst.Snapshot's image,
// reporting the task states on the way (*task is the last one reported). A
// shelve powers the guest off first, as upstream. Cut short, it starts over:
// the copy is made again and uploaded again.
func (a *Agent) snapshot(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec, task *string) error {
	if inst.Snapshot == nil {
		return errors.New("no image to upload the snapshot to")
	}
	shelve := slices.Contains(shelveTasks, *task)
	if shelve {
		if err := a.opts.Driver.PowerOff(ctx, *spec, a.opts.ShutdownTimeout); err != nil && !errors.Is(err, virt.ErrNotFound) {
			return err
		}
	}
	pending, uploading := "image_pending_upload", "image_uploading"
	if shelve {
		pending, uploading = "shelving_image_pending_upload", "shelving_image_uploading"
	}
	if *task == "image_snapshot_pending" {
		if err := a.moveOn(ctx, inst, task, "image_snapshot"); err != nil {
			return err
		}
	}
	if err := a.moveOn(ctx, inst, task, pending); err != nil {
		return err
	}
	dst := ""
	if a.opts.Plumbing != nil {
		dst = filepath.Join(spec.Dir, snapshotFile)
		defer func() {
			if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
				a.opts.Log.Warn("remove a snapshot's copy", "instance", inst.UUID, "error", err)
			}
		}()
	}
	if err := a.opts.Driver.Snapshot(ctx, *spec, dst); err != nil {
		return err
	}
	if err := a.moveOn(ctx, inst, task, uploading); err != nil {
		return err
	}
	if a.opts.Plumbing == nil {
		return nil // the fake driver's guests have no disk to upload
	}
	return a.opts.Plumbing.UploadImage(ctx, inst.Snapshot.ID, dst)
}

// moveOn reports the task moving on to next.
func (a *Agent) moveOn(ctx context.Context, inst compute.AgentInstance, task *string, next string) error {
	if *task == next {
		return nil
	}
	if err := a.opts.Controller.ReportInstance(ctx, compute.AgentReport{Host: a.opts.Host, UUID: inst.UUID,
		Task: *task, Next: next}); err != nil {
		return fmt.Errorf("report task %s: %w", next, err)
	}
	*task = next
	return nil
}

// offload removes a shelved guest from this host: its QEMU, disk, config drive
// and taps (upstream's shelve_offload_instance destroys the guest).
func (a *Agent) offload(ctx context.Context, inst compute.AgentInstance) error {
	return a.destroy(ctx, inst)
}

// UploadImage stores the file at path as the image's data. An image that has
// its data already (an upload that finished before a crash) is left as it is.
func (h *LinuxHost) UploadImage(ctx context.Context, imageID, path string) error {
	up, ok := h.Images.(ImageUploader)
	if !ok {
		return errors.New("this host's image source cannot upload")
	}
	err := up.Upload(ctx, imageID, path)
	if httpapi.IsStatus(err, http.StatusConflict) {
		if img, gerr := h.Images.Get(ctx, "", imageID); gerr == nil && img.Status == "active" {
			return nil
		}
	}
	return err
}
