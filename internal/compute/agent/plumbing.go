package agent

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/image/imageformat"
)

// LinuxHost prepares guests on a Linux host, as upstream's libvirt driver
// does: the image cache in <instances>/_base (one raw file per image, named by
// the SHA-1 of its id and the hash of its data, downloaded, inspected and
// converted once), a qcow2 overlay per
// instance, the config drive, and a tap per port in the host's namespace for
// the L2 agent to wire.
type LinuxHost struct {
	InstancesDir  string
	HostNamespace string
	Images        ImageSource
	// Metadata renders the config drive (nil: instances get none).
	Metadata        metadata.Source
	MetadataOptions metadata.Options
	// DefaultEphemeralFormat is upstream's default_ephemeral_format: the file
	// system of an ephemeral disk whose mapping names none ("": by the
	// image's os_type, as upstream).
	DefaultEphemeralFormat string

	mu     sync.Mutex
	images map[string]*sync.Mutex // one download per image at a time
}

var _ Host = (*LinuxHost)(nil)

// ImageSource is where the image cache downloads from: compute.Images in the
// cloud's process, Remote on a joined host. Get answers the image's record as
// token may see it ("": the compute service's own credentials).
type ImageSource interface {
	Get(ctx context.Context, token, id string) (compute.Image, error)
	Download(ctx context.Context, id string, w io.Writer) error
}

// Prepare makes the instance's taps, disk and config drive (each step skipped
// when already done, so a prepare cut short by a crash is finished next time).
// The taps come first: the network agent wires a port once its tap exists, and
// does so while the disk and the config drive are made.
func (h *LinuxHost) Prepare(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	// Every tap is checked here, recorded or not: a host that rebooted has none.
	if err := h.plug(ctx, *spec, true); err != nil {
		return err
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return err
	}
	// a guest that has its disk, kernel and ramdisk needs neither the image
	// service nor the images again (they may be gone): only a new one fetches
	// A server booted from a volume has no root disk here.
	if spec.RootDisk != "" {
		if err := h.fromImage(ctx, spec.RootDisk, func(path string) error {
			base, err := h.cached(ctx, inst.ImageID, true)
			if err != nil {
				return err
			}
			return overlay(ctx, base, path, inst.DiskGB)
		}); err != nil {
			return err
		}
	}
	if err := h.localDisks(ctx, inst, spec.Dir); err != nil {
		return err
	}
	if k := inst.ImageProps["kernel_id"]; k != "" {
		spec.Kernel = filepath.Join(spec.Dir, "kernel")
		if err := h.fromImage(ctx, spec.Kernel, h.linkCached(ctx, k)); err != nil {
			return err
		}
		if r := inst.ImageProps["ramdisk_id"]; r != "" {
			spec.Ramdisk = filepath.Join(spec.Dir, "ramdisk")
			if err := h.fromImage(ctx, spec.Ramdisk, h.linkCached(ctx, r)); err != nil {
				return err
			}
		}
		spec.CommandLine = inst.ImageProps["os_command_line"]
	}
	if inst.ConfigDrive && h.Metadata != nil {
		path := filepath.Join(spec.Dir, "disk.config")
		if _, err := os.Stat(path); os.IsNotExist(err) {
			m, err := h.Metadata.Instance(ctx, inst.UUID)
			if err != nil {
				return fmt.Errorf("config drive: %w", err)
			}
			if err := metadata.BuildConfigDrive(ctx, m, h.MetadataOptions, path); err != nil {
				return err
			}
		}
		spec.ConfigDrive = path
	}
	return nil
}

// PrepareRescue makes the disk a rescued guest boots from: an overlay on the
// cached rescue image, made once.
func (h *LinuxHost) PrepareRescue(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	if inst.Rescue == nil || spec.RescueDisk == "" {
		return errors.New("no rescue image")
	}
	return h.fromImage(ctx, spec.RescueDisk, func(path string) error {
		base, err := h.cached(ctx, inst.Rescue.ID, true)
		if err != nil {
			return err
		}
		return overlay(ctx, base, path, 0)
	})
}

// fromImage makes the instance's file path with create unless it exists: the
// image cache (and with it the image service, which it asks what an image id
// holds now) is only for files an instance does not have yet.
func (h *LinuxHost) fromImage(ctx context.Context, path string, create func(string) error) error {
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		return err
	}
	return create(path)
}

// linkCached makes an instance's kernel or ramdisk: a link to the cached image
// (as upstream keeps them in the instance's directory), so the guest keeps them
// whatever becomes of the image.
func (h *LinuxHost) linkCached(ctx context.Context, imageID string) func(string) error {
	return func(path string) error {
		src, err := h.cached(ctx, imageID, false)
		if err != nil {
			return err
		}
		tmp := path + ".tmp"
		_ = os.Remove(tmp)
		if err := os.Link(src, tmp); err != nil {
			if err := copyFile(src, tmp); err != nil {
				return err
			}
		}
		return os.Rename(tmp, path)
	}
}

// overlay makes path a qcow2 overlay on the raw base image, grown to sizeGB when
// that is larger (0: the image's size); one that exists is left alone, and a
// crash leaves none half made.
func overlay(ctx context.Context, base, path string, sizeGB int) error {
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		return err
	}
	tmp := path + ".tmp"
	args := []string{"create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, tmp}
	if sizeGB > 0 {
		if size, err := fileSize(base); err == nil && size < int64(sizeGB)<<30 {
			args = append(args, strconv.Itoa(sizeGB)+"G")
		}
	}
	if out, err := exec.CommandContext(ctx, "qemu-img", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img create overlay: %v: %s", err, out)
	}
	return os.Rename(tmp, path)
}

// Release removes the instance's taps, those of its ports and any it still
// has of detached ones (its directory goes with the driver's Destroy).
func (h *LinuxHost) Release(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) error {
	taps := h.recordedTaps(spec.UUID)
	for _, nic := range spec.NICs {
		taps = append(taps, nic.Tap)
	}
	for _, tap := range taps {
		if err := h.deleteTap(ctx, tap); err != nil {
			return err
		}
	}
	return h.recordTaps(spec.UUID, nil)
}

func (h *LinuxHost) ip(ctx context.Context, args ...string) ([]byte, error) {
	if h.HostNamespace != "" {
		args = append([]string{"-n", h.HostNamespace}, args...)
	}
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

func (h *LinuxHost) linkExists(ctx context.Context, name string) bool {
	_, err := h.ip(ctx, "link", "show", "dev", name)
	return err == nil
}

// tap makes the port's persistent tap (QEMU opens it by name) with the
// network's MTU, up; the L2 agent puts it on the network's bridge.
func (h *LinuxHost) tap(ctx context.Context, nic virt.NIC) error {
	if !h.linkExists(ctx, nic.Tap) {
		if out, err := h.ip(ctx, "tuntap", "add", "dev", nic.Tap, "mode", "tap"); err != nil {
			return fmt.Errorf("create %s: %v: %s", nic.Tap, err, out)
		}
	}
	args := []string{"link", "set", "dev", nic.Tap, "up"}
	if nic.MTU > 0 {
		args = append(args, "mtu", strconv.Itoa(nic.MTU))
	}
	if out, err := h.ip(ctx, args...); err != nil {
		return fmt.Errorf("set %s up: %v: %s", nic.Tap, err, out)
	}
	return nil
}

// cached is the image's file in the cache, downloaded on first use. A disk
// (disk true) is inspected as it downloads and converted to raw (the kernel and
// ramdisk are not: QEMU reads them as plain files, as upstream Nova leaves them).
//
// Files are named by the image's id and the hash of its data (os_hash_value),
// never by the id alone: whatever an id comes to name, no image ever gets
// another's bytes from the cache (OSSN-0075). The data must match that hash,
// and a disk must be what its disk_format says and pass its format's safety
// checks (imageformat.Boot, upstream Nova's rules) before qemu-img opens it:
// a vmdk naming a host file as its extent, a qcow2 with a backing or data file
// are refused (OSSA-2023-002), and the instance fails with why. Writes go to a
// temporary name renamed into place, so a crash leaves no half image behind.
func (h *LinuxHost) cached(ctx context.Context, imageID string, disk bool) (string, error) {
	img, err := h.Images.Get(ctx, "", imageID)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", imageID, err)
	}
	digest, err := newContentDigest(img)
	if err != nil {
		return "", err
	}
	sum := sha1.Sum([]byte(imageID))
	path := filepath.Join(h.InstancesDir, "_base", hex.EncodeToString(sum[:])+"_"+digest.name())
	h.mu.Lock()
	if h.images == nil {
		h.images = map[string]*sync.Mutex{}
	}
	lock := h.images[path]
	if lock == nil {
		lock = &sync.Mutex{}
		h.images[path] = lock
	}
	h.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	part := path + ".part"
	f, err := os.Create(part)
	if err != nil {
		return "", err
	}
	detector := imageformat.NewDetector()
	sinks := []io.Writer{f, digest}
	if disk {
		sinks = append(sinks, detector)
	}
	err = h.Images.Download(ctx, imageID, io.MultiWriter(sinks...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = digest.verify(imageID)
	}
	if err != nil {
		_ = os.Remove(part)
		return "", fmt.Errorf("download image %s: %w", imageID, err)
	}
	if !disk {
		return path, os.Rename(part, path)
	}
	detector.Finish()
	raw := path + ".raw"
	err = toRaw(ctx, img, detector, part, raw)
	_ = os.Remove(part)
	if err != nil {
		_ = os.Remove(raw)
		return "", err
	}
	return path, os.Rename(raw, path)
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
