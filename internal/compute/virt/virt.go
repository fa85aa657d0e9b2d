// Package virt is the compute agent's hypervisor interface, as upstream's
// nova.virt.driver.ComputeDriver: one Driver per host (qemu for real VMs, fake for
// API and scale tests). A driver is level-triggered like the agent that calls it:
// every method is idempotent, takes what it needs from the Spec (the agent keeps
// no state a driver must remember), and an agent restarted next to running guests
// finds them again with List.
package virt

import (
	"context"
	"errors"
	"time"
)

// PowerState is what the hypervisor says of a guest (upstream's power_state).
type PowerState int

const (
	NoState   PowerState = 0 // unknown to the hypervisor
	Running   PowerState = 1
	Paused    PowerState = 3
	Shutdown  PowerState = 4 // defined but not running (stopped)
	Crashed   PowerState = 6
	Suspended PowerState = 7 // state saved to disk, no process
)

func (p PowerState) String() string {
	switch p {
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Shutdown:
		return "shutdown"
	case Crashed:
		return "crashed"
	case Suspended:
		return "suspended"
	}
	return "nostate"
}

// ErrNotFound is returned for a guest the driver does not know.
var ErrNotFound = errors.New("virt: no such instance")

// Spec is everything a driver needs to build and start a guest. The agent
// prepares the root disk (an overlay on the cached image) and the taps; the driver
// runs the guest on them.
type Spec struct {
	UUID string
	// Name is the hypervisor's name of the guest (upstream instance-%08x).
	Name     string
	VCPUs    int
	MemoryMB int
	// Dir is the instance's directory (upstream instances/<uuid>): the driver
	// keeps its files there (QMP and VNC sockets, pid file, console log, saved
	// state); Destroy removes it.
	Dir string
	// RootDisk is the qcow2 overlay the guest boots from (virtio-blk); empty for
	// a server booted from a volume, whose root is the Volumes entry with Boot.
	RootDisk string
	// RescueDisk, when set, is the disk a rescued guest boots from (upstream's
	// rescue image); RootDisk is then its second disk, for the rescuer to mend.
	RescueDisk string
	// LocalDisks are the guest's ephemeral and swap disks (raw files in Dir,
	// upstream's disk.eph<n> and disk.swap), virtio disks right after the
	// root disk, in this order, as libvirt orders them.
	LocalDisks []string
	// ConfigDrive, when set, is an ISO image attached as a CD-ROM.
	ConfigDrive string
	// Kernel, Ramdisk and CommandLine, when Kernel is set, boot the guest directly
	// (the image's kernel_id, ramdisk_id and os_command_line).
	Kernel, Ramdisk, CommandLine string
	NICs                         []NIC
	// Volumes are the block-storage volumes attached to the guest, so that a
	// spawn, reboot or resume brings them back (upstream's block_device_info).
	Volumes []VolumeDisk
	// Accelerator is auto, kvm or tcg.
	Accelerator string
	// Paused makes Spawn create the guest with its CPUs stopped; Unpause starts
	// them. The agent spawns so while the network wires the ports, as upstream's
	// libvirt driver creates the domain paused and resumes it at
	// network-vif-plugged: the guest's first packet finds its port wired.
	Paused bool
}

// NIC is one virtio network interface on an existing tap device.
type NIC struct {
	MAC string
	Tap string
	MTU int
}

// VolumeISCSI is VolumeDisk.Protocol of a volume read over iSCSI.
const VolumeISCSI = "iscsi"

// VolumeDisk is a block-storage volume the guest has as a virtio disk, read
// over NBD (or iSCSI) from the export the volume service made for this host
// (upstream's connection_info with driver_volume_type "nbd" or "iscsi").
type VolumeDisk struct {
	// VolumeID is the disk's serial, as upstream: the guest names it
	// /dev/disk/by-id/virtio-<its first 20 characters>.
	VolumeID string
	Host     string
	Port     int
	Export   string
	// TLSPSKIdentity and TLSPSKKey (hex), when set, are the export's TLS
	// pre-shared key: only the host that got them can connect.
	TLSPSKIdentity string
	TLSPSKKey      string
	ReadOnly       bool
	// Protocol is VolumeISCSI for an iSCSI target (driver_volume_type
	// "iscsi"; Host and Port are its portal), empty for NBD.
	Protocol string `json:",omitempty"`
	// Target and LUN are the iSCSI target's IQN and logical unit; User and
	// Password its CHAP credentials; InitiatorName the name QEMU logs in
	// with (the connector's initiator, which the target's ACL names).
	Target        string `json:",omitempty"`
	LUN           int    `json:",omitempty"`
	User          string `json:",omitempty"`
	Password      string `json:",omitempty"`
	InitiatorName string `json:",omitempty"`
	// Boot marks the root volume of a server booted from a volume.
	Boot bool
}

// Info is one guest as the driver sees it.
type Info struct {
	UUID  string
	State PowerState
}

// HostResources are the host's capacity as the driver reports it.
type HostResources struct {
	VCPUs    int
	MemoryMB int
	DiskGB   int
	// HypervisorType and HypervisorVersion are os-hypervisors' fields (QEMU, 7002000).
	HypervisorType    string
	HypervisorVersion int
	CPUInfo           string
}

// Driver runs guests on one host.
type Driver interface {
	// Spawn creates and starts the guest (paused with s.Paused); a guest that
	// exists is left alone.
	Spawn(ctx context.Context, s Spec) error
	// Destroy stops the guest at once and removes everything the driver made for
	// it (process, sockets, Dir); a guest that is not there is no error.
	Destroy(ctx context.Context, s Spec) error
	// PowerOff asks the guest to shut down (ACPI) and forces it off after timeout;
	// the guest stays defined (Shutdown). PowerOn starts a powered-off guest again.
	PowerOff(ctx context.Context, s Spec, timeout time.Duration) error
	PowerOn(ctx context.Context, s Spec) error
	// Reboot restarts the guest: soft asks the guest OS (ACPI power button, then
	// a hard reboot after the timeout, as upstream); hard resets it.
	Reboot(ctx context.Context, s Spec, hard bool, timeout time.Duration) error
	Pause(ctx context.Context, s Spec) error
	Unpause(ctx context.Context, s Spec) error
	// Suspend saves the guest's memory to disk and stops its process; Resume
	// starts it again from the saved state.
	Suspend(ctx context.Context, s Spec) error
	Resume(ctx context.Context, s Spec) error
	// State is the guest's power state (NoState and ErrNotFound when unknown).
	State(ctx context.Context, s Spec) (PowerState, error)
	// List is every guest the driver finds on this host, also ones it started
	// before a restart, so the agent can adopt them or remove orphans.
	List(ctx context.Context) ([]Info, error)
	// ConsoleOutput is the tail of the guest's serial console (all when lines <= 0).
	ConsoleOutput(ctx context.Context, s Spec, lines int) (string, error)
	// VNCSocket is the path of the guest's VNC server (a unix socket).
	VNCSocket(s Spec) string
	// Resources is the host's capacity.
	Resources(ctx context.Context) (HostResources, error)

	// Interfaces are the NICs the running guest has now, each with its MAC (the
	// port's identity) and, when the driver knows it, its tap; an error for a
	// guest that does not run. The agent compares them with Spec.NICs.
	Interfaces(ctx context.Context, s Spec) ([]NIC, error)
	// AttachInterface hot-plugs nic (its tap exists) into the running guest;
	// a NIC with that MAC already there is left alone (upstream's
	// attach_interface).
	AttachInterface(ctx context.Context, s Spec, nic NIC) error
	// DetachInterface hot-unplugs the guest's NIC with nic.MAC and waits until
	// the guest has let it go; a NIC that is not there is no error.
	DetachInterface(ctx context.Context, s Spec, nic NIC) error
	// Diagnostics are the running (or paused) guest's figures; an error for a
	// guest that does not run.
	Diagnostics(ctx context.Context, s Spec) (Diagnostics, error)

	// Volumes are the volume disks the running guest has now (VolumeID set;
	// the connection as far as the driver knows it); an error for a guest that
	// does not run. The agent compares them with Spec.Volumes.
	Volumes(ctx context.Context, s Spec) ([]VolumeDisk, error)
	// AttachVolume hot-plugs the volume into the running guest; a disk with
	// that VolumeID already there is left alone (upstream's attach_volume).
	AttachVolume(ctx context.Context, s Spec, v VolumeDisk) error
	// DetachVolume hot-unplugs the volume's disk, waits until the guest has
	// let it go and closes the connection; one that is not there is no error.
	DetachVolume(ctx context.Context, s Spec, volumeID string) error
	// ExtendVolume makes the guest see the volume's new size (the volume
	// service grew it), upstream's extend_volume.
	ExtendVolume(ctx context.Context, s Spec, volumeID string, sizeBytes int64) error
	// Snapshot writes the guest's root disk as it is now to dst (qcow2, its
	// backing chain flattened), pausing a running guest for a consistent copy
	// (upstream's snapshot).
	Snapshot(ctx context.Context, s Spec, dst string) error
}
