package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/compute"
)

// bdmFormats are the file systems a block device mapping may ask for
// (upstream's libvirt is_supported_fs_format).
var bdmFormats = []string{"ext2", "ext3", "ext4", "xfs"}

// mkfsFormats are the file systems an ephemeral disk may get by default
// (default_ephemeral_format, or by the image's os_type as upstream's
// _DEFAULT_FS_BY_OSTYPE, vfat for any other): the only values that reach mkfs.
var mkfsFormats = []string{"ext2", "ext3", "ext4", "xfs", "vfat", "ntfs"}

// ephemeralFormat is what the host formats the local disk d with: swap; the
// file system its mapping named; else the host's default_ephemeral_format;
// else the one of the image's os_type (upstream's _create_ephemeral and
// configurable_mkfs).
func ephemeralFormat(d compute.LocalDisk, configured, osType string) (string, error) {
	switch {
	case d.Swap():
		return "swap", nil
	case d.GuestFormat != "":
		if !slices.Contains(bdmFormats, d.GuestFormat) {
			return "", fmt.Errorf("Block Device Mapping is Invalid: %s format is not supported", d.GuestFormat)
		}
		return d.GuestFormat, nil
	}
	f := configured
	if f == "" {
		f = map[string]string{"linux": "ext4", "windows": "ntfs"}[osType]
	}
	if f == "" {
		f = "vfat"
	}
	if !slices.Contains(mkfsFormats, f) {
		return "", fmt.Errorf("default_ephemeral_format %q: want one of %v", f, mkfsFormats)
	}
	return f, nil
}

// mkfsArgs is upstream's unprivileged_mkfs command line: mkswap, or mkfs -t
// with -F where mkfs would ask before writing to a regular file, and the
// label (-n for FAT).
func mkfsArgs(format, label, path string) []string {
	if format == "swap" {
		return []string{"mkswap", path}
	}
	args := []string{"mkfs", "-t", format}
	if slices.Contains([]string{"ext3", "ext4", "ntfs"}, format) {
		args = append(args, "-F")
	}
	if label != "" {
		if format == "vfat" || format == "msdos" {
			args = append(args, "-n", label)
		} else {
			args = append(args, "-L", label)
		}
	}
	return append(args, path)
}

// makeLocalDisk makes path, a raw file of the disk's size formatted as
// format, unless it exists (a guest's disk is never made twice: it keeps
// what the guest wrote across restarts and reboots). The file is made and
// formatted under a temporary name the service chose, never a path a
// tenant gave, and is renamed into place once complete: a crash leaves no
// half-formatted disk.
func makeLocalDisk(ctx context.Context, path string, d compute.LocalDisk, format string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("local disk %s: %w", d.Name, err)
	}
	err = f.Truncate(int64(d.SizeMB) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("local disk %s: %w", d.Name, err)
	}
	label := d.Label
	if format == "swap" {
		label = ""
	}
	args := mkfsArgs(format, label, tmp)
	if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("format local disk %s (%v): %w: %s", d.Name, args, err, out)
	}
	return os.Rename(tmp, path)
}

// localDisks makes the instance's ephemeral and swap disks in dir that it
// does not have yet.
func (h *LinuxHost) localDisks(ctx context.Context, inst compute.AgentInstance, dir string) error {
	configured := h.DefaultEphemeralFormat
	for _, d := range inst.LocalDisks {
		if !compute.ValidLocalDiskName(d.Name) {
			return fmt.Errorf("local disk name %q", d.Name)
		}
		format, err := ephemeralFormat(d, configured, inst.ImageProps["os_type"])
		if err != nil {
			return err
		}
		if err := makeLocalDisk(ctx, filepath.Join(dir, d.Name), d, format); err != nil {
			return err
		}
	}
	return nil
}

// errPreserveEphemeral is upstream's PreserveEphemeralNotSupported: its
// libvirt driver rebuilds by the default path, which refuses
// preserve_ephemeral before it touches the guest (the server goes to ERROR,
// its guest and disks as they were); without it the disks are made anew.
var errPreserveEphemeral = errors.New("The current driver does not support preserving ephemeral partitions.")
