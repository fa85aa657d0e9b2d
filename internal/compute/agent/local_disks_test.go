package agent

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// TestEphemeralFormat: swap is swap; a mapping's file system must be one
// upstream's libvirt driver supports (its message otherwise); without one the
// host's default_ephemeral_format, else the image's os_type's, else vfat.
func TestEphemeralFormat(t *testing.T) {
	eph := func(f string) compute.LocalDisk { return compute.LocalDisk{Name: "disk.eph0", GuestFormat: f} }
	tests := []struct {
		name               string
		disk               compute.LocalDisk
		configured, osType string
		want, err          string
	}{
		{"swap", compute.LocalDisk{Name: "disk.swap", GuestFormat: "swap"}, "ext4", "", "swap", ""},
		{"the mapping's", eph("xfs"), "ext4", "", "xfs", ""},
		{"the mapping's wins over the default", eph("ext3"), "vfat", "", "ext3", ""},
		{"a mapping's vfat is not supported", eph("vfat"), "ext4", "", "", "Block Device Mapping is Invalid: vfat format is not supported"},
		{"an unknown mapping format", eph("../../bin/sh"), "ext4", "", "", "../../bin/sh format is not supported"},
		{"the host's default", eph(""), "ext4", "windows", "ext4", ""},
		{"by os_type linux", eph(""), "", "linux", "ext4", ""},
		{"by os_type windows", eph(""), "", "windows", "ntfs", ""},
		{"no os_type", eph(""), "", "", "vfat", ""},
		{"a bad configured default", eph(""), "zfs", "", "", "default_ephemeral_format \"zfs\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ephemeralFormat(tt.disk, tt.configured, tt.osType)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestMkfsArgs: upstream's unprivileged_mkfs command lines.
func TestMkfsArgs(t *testing.T) {
	tests := []struct {
		format, label string
		want          string
	}{
		{"swap", "", "mkswap /d/disk.swap"},
		{"ext4", "ephemeral0", "mkfs -t ext4 -F -L ephemeral0 /d/disk.swap"},
		{"ext2", "ephemeral1", "mkfs -t ext2 -L ephemeral1 /d/disk.swap"},
		{"xfs", "ephemeral0", "mkfs -t xfs -L ephemeral0 /d/disk.swap"},
		{"vfat", "ephemeral0", "mkfs -t vfat -n ephemeral0 /d/disk.swap"},
		{"ntfs", "ephemeral0", "mkfs -t ntfs -F -L ephemeral0 /d/disk.swap"},
	}
	for _, tt := range tests {
		if got := strings.Join(mkfsArgs(tt.format, tt.label, "/d/disk.swap"), " "); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.format, got, tt.want)
		}
	}
}

// blkid is what blkid finds in path (TYPE, LABEL...).
func blkid(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", path).Output()
	if err != nil {
		t.Fatalf("blkid %s: %v", path, err)
	}
	got := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			got[k] = v
		}
	}
	return got
}

// TestLinuxHostLocalDisks: Prepare's local disks are raw files of their size
// in the instance's directory, formatted as asked (ext4 labelled
// ephemeral<n>, swap); made once, so what a guest wrote survives the next
// prepare; and a disk that cannot be formatted leaves no file behind.
func TestLinuxHostLocalDisks(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "mkswap", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	h := &LinuxHost{DefaultEphemeralFormat: "ext4"}
	inst := compute.AgentInstance{UUID: "u1", LocalDisks: []compute.LocalDisk{
		{Name: "disk.eph0", Device: "/dev/vdb", SizeMB: 64, Label: "ephemeral0"},
		{Name: "disk.eph1", Device: "/dev/vdc", SizeMB: 32, Label: "ephemeral1", GuestFormat: "ext2"},
		{Name: "disk.swap", Device: "/dev/vdd", SizeMB: 16, GuestFormat: "swap"},
	}}
	if err := h.localDisks(ctx, inst, dir); err != nil {
		t.Fatal(err)
	}
	for _, d := range inst.LocalDisks {
		path := filepath.Join(dir, d.Name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(d.SizeMB)<<20 {
			t.Errorf("%s: %d bytes, want %d MB", d.Name, fi.Size(), d.SizeMB)
		}
	}
	if got := blkid(t, filepath.Join(dir, "disk.eph0")); got["TYPE"] != "ext4" || got["LABEL"] != "ephemeral0" {
		t.Errorf("disk.eph0: %v", got)
	}
	if got := blkid(t, filepath.Join(dir, "disk.eph1")); got["TYPE"] != "ext2" || got["LABEL"] != "ephemeral1" {
		t.Errorf("disk.eph1: %v", got)
	}
	if got := blkid(t, filepath.Join(dir, "disk.swap")); got["TYPE"] != "swap" {
		t.Errorf("disk.swap: %v", got)
	}

	// What the guest wrote stays: a second prepare does not format again.
	mark := []byte("written by the guest")
	f, err := os.OpenFile(filepath.Join(dir, "disk.eph0"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(mark, 40<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := h.localDisks(ctx, inst, dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "disk.eph0"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[40<<20:40<<20+len(mark)], mark) {
		t.Error("a second prepare formatted disk.eph0 again")
	}

	// Refused: an unsupported format and a name that is not a local disk's.
	for _, bad := range []compute.LocalDisk{
		{Name: "disk.eph2", SizeMB: 8, GuestFormat: "vfat"},
		{Name: "../escape", SizeMB: 8},
	} {
		err := h.localDisks(ctx, compute.AgentInstance{LocalDisks: []compute.LocalDisk{bad}}, dir)
		if err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"disk.eph0", "disk.eph1", "disk.swap"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
}

// TestAgentRebuildPreserveEphemeral: upstream's libvirt driver refuses
// preserve_ephemeral before it touches the guest: the rebuild fails with
// PreserveEphemeralNotSupported's message and the guest runs on.
func TestAgentRebuildPreserveEphemeral(t *testing.T) {
	ctx := context.Background()
	d := fake.New(virt.HostResources{})
	if err := d.Spawn(ctx, virt.Spec{UUID: "vm"}); err != nil {
		t.Fatal(err)
	}
	c := &ctrl{want: []compute.AgentInstance{{UUID: "vm", VMState: "active", TaskState: "rebuilding", PowerState: 1,
		PreserveEphemeral: true}}}
	a, err := New(Options{Host: "h1", Driver: d, Controller: c, InstancesDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	a.wg.Wait()
	got := c.take()
	if len(got) != 1 || got[0].Task != "rebuilding" || got[0].PowerState != int(virt.Running) ||
		got[0].Error != "The current driver does not support preserving ephemeral partitions." {
		t.Fatalf("reports %+v", got)
	}
	if st, _ := d.State(ctx, virt.Spec{UUID: "vm"}); st != virt.Running {
		t.Errorf("the guest is %s, want running", st)
	}
}
