package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// resizeCopy is the disk as it was before a resize, kept in the instance's
// directory until the resize is confirmed (dropped) or reverted (put back).
const resizeCopy = "disk.before-resize"

// resize moves the guest onto its new flavor: powered off cleanly, its disk
// copied and grown, and started again on the new vCPUs and memory if it ran
// (a stopped server stays stopped). Cut short, it starts over from the same
// copy.
func (a *Agent) resize(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	if err := a.opts.Driver.PowerOff(ctx, *spec, a.opts.ShutdownTimeout); err != nil && !errors.Is(err, virt.ErrNotFound) {
		return err
	}
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.ResizeDisk(ctx, inst, *spec); err != nil {
			return fmt.Errorf("resize disk: %w", err)
		}
	}
	return a.powerOnIfRan(ctx, inst, *spec)
}

// revertResize puts the guest back on its old flavor and its old disk
// (upstream destroys the resized guest at once).
func (a *Agent) revertResize(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	if err := a.opts.Driver.PowerOff(ctx, *spec, 0); err != nil && !errors.Is(err, virt.ErrNotFound) {
		return err
	}
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.FinishResize(ctx, *spec, true); err != nil {
			return fmt.Errorf("restore disk: %w", err)
		}
	}
	return a.powerOnIfRan(ctx, inst, *spec)
}

// powerOnIfRan starts the guest if the server was running when its task began
// (the database's power state changes only with the task's report).
func (a *Agent) powerOnIfRan(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) error {
	if inst.PowerState != int(virt.Running) {
		return nil
	}
	return a.opts.Driver.PowerOn(ctx, spec)
}

// dropResizeCopy removes the old disk of a confirmed resize: a server not
// waiting for confirmation has none.
func (a *Agent) dropResizeCopy(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) {
	if a.opts.Plumbing == nil || inst.VMState == "resized" {
		return
	}
	if err := a.opts.Plumbing.FinishResize(ctx, spec, false); err != nil {
		a.opts.Log.Warn("drop the disk of a confirmed resize", "instance", inst.UUID, "error", err)
	}
}

// ResizeDisk keeps a copy of the instance's disk (once: a resize started over
// keeps the first one) and grows the disk to the new flavor's size. Disks only
// grow: the conductor refuses a smaller flavor disk.
func (h *LinuxHost) ResizeDisk(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) error {
	if spec.RootDisk == "" {
		return nil // booted from a volume: the flavor's disk is not its root (upstream's resize leaves the volume)
	}
	keep := filepath.Join(spec.Dir, resizeCopy)
	if _, err := os.Stat(keep); errors.Is(err, fs.ErrNotExist) {
		if err := copyFile(spec.RootDisk, keep); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if inst.DiskGB <= 0 {
		return nil
	}
	size, err := virtualSize(ctx, spec.RootDisk)
	if err != nil {
		return err
	}
	if size >= int64(inst.DiskGB)<<30 {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "qemu-img", "resize", "-q", "-f", "qcow2", spec.RootDisk,
		strconv.Itoa(inst.DiskGB)+"G").CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img resize: %v: %s", err, out)
	}
	return nil
}

// FinishResize ends a resize on this host: a revert puts the copy back as the
// disk, a confirm drops it. Either is done once it has no copy.
func (h *LinuxHost) FinishResize(_ context.Context, spec virt.Spec, revert bool) error {
	if spec.RootDisk == "" {
		return nil // booted from a volume: no copy was kept
	}
	keep := filepath.Join(spec.Dir, resizeCopy)
	var err error
	if revert {
		err = os.Rename(keep, spec.RootDisk)
	} else {
		err = os.Remove(keep)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// virtualSize is the size of the disk the guest sees.
func virtualSize(ctx context.Context, path string) (int64, error) {
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", "-f", "qcow2", path).Output()
	if err != nil {
		return 0, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return 0, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	return info.VirtualSize, nil
}

// copyFile copies src to dst through a temporary name, so a crash leaves no
// half copy under dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
