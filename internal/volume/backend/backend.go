// Package backend is the volume service's storage interface, as upstream's
// cinder.volume.driver.VolumeDriver: one Backend per configured backend
// (volume_backend_name), run by the volume manager of the host that owns it.
// Every method is idempotent (the manager is level-triggered and retries a step
// a crash interrupted), takes all it needs in its arguments, and keeps no state
// the manager must remember: what is on disk, and what Exports reports, is the
// backend's truth.
package backend

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned for a volume or snapshot the backend does not hold.
var ErrNotFound = errors.New("backend: no such volume or snapshot")

// ErrInUse is returned by operations a live export forbids (delete, revert).
var ErrInUse = errors.New("backend: volume is exported")

// Volume is one volume on its backend.
type Volume struct {
	ID     string
	SizeGB int
}

// Snapshot is one snapshot of a volume.
type Snapshot struct {
	ID       string
	VolumeID string
	SizeGB   int
}

// Capacity is what the backend reports on the volume service's heartbeat, as
// upstream's get_volume_stats (the scheduler's CapacityFilter and weigher).
type Capacity struct {
	TotalGB                  float64
	FreeGB                   float64
	ProvisionedGB            float64
	ThinProvisioning         bool
	MaxOversubscriptionRatio float64
	// Protocol is storage_protocol as upstream reports it: "NBD", "iSCSI".
	Protocol string
}

// Connector describes the host that attaches (os-brick's connector: the
// compute host's name and address, and its iSCSI initiator name).
type Connector struct {
	Host      string
	IP        string
	Initiator string `json:",omitempty"`
}

// ConnectionInfo is what the attaching host needs, upstream's connection_info:
// driver_volume_type "nbd" (or "iscsi") and its data. For "nbd" Data holds
// host, port, export_name and, when the export is protected, tls_psk_identity
// and tls_psk_key (hex): the key is the attachment's own secret, as iSCSI's
// CHAP credentials are, so only the host that received it can connect.
type ConnectionInfo struct {
	DriverVolumeType string         `json:"driver_volume_type"`
	Data             map[string]any `json:"data"`
}

// Export is one attachment's export of a volume.
type Export struct {
	VolumeID     string
	AttachmentID string
	Connector    Connector
	ReadOnly     bool
}

// Data is random access to a volume's (or a snapshot's) guest-visible bytes,
// for backups, restores and uploads to the image service.
type Data interface {
	io.ReaderAt
	io.WriterAt
	Size() int64
	io.Closer
}

// ImageSource is an image's data for a volume created from it.
type ImageSource struct {
	// Path is a local file holding the image's data as the image service
	// served it; Format is its disk_format (raw, qcow2, vmdk, ...). The backend
	// inspects the file before any host tool reads it: a qcow2 whose backing
	// file or data file names a host path is refused.
	Path   string
	Format string
}

// Backend stores volumes and serves them to hypervisors.
type Backend interface {
	// Name is the backend's volume_backend_name.
	Name() string
	Capacity(ctx context.Context) (Capacity, error)

	// Create makes a blank volume of v.SizeGB; one that exists is left alone.
	Create(ctx context.Context, v Volume) error
	CreateFromImage(ctx context.Context, v Volume, img ImageSource) error
	CreateFromSnapshot(ctx context.Context, v Volume, s Snapshot) error
	CreateFromVolume(ctx context.Context, v Volume, src Volume) error
	// Delete removes the volume and its snapshots' data; one that is not there
	// is no error.
	Delete(ctx context.Context, v Volume) error
	// Extend grows the volume to sizeGB, also while exported (the export's
	// clients see the new size).
	Extend(ctx context.Context, v Volume, sizeGB int) error

	// CreateSnapshot takes a crash-consistent snapshot, also of an exported
	// volume (upstream's force).
	CreateSnapshot(ctx context.Context, s Snapshot) error
	DeleteSnapshot(ctx context.Context, s Snapshot) error
	// RevertToSnapshot makes the volume's data the snapshot's (not exported).
	RevertToSnapshot(ctx context.Context, v Volume, s Snapshot) error

	// Export serves the volume to the attachment's host; exporting twice
	// returns the same connection.
	Export(ctx context.Context, v Volume, e Export) (ConnectionInfo, error)
	Unexport(ctx context.Context, v Volume, attachmentID string) error
	// Exports are the exports the backend serves now (after a restart too).
	Exports(ctx context.Context) ([]Export, error)

	// Open gives the volume's data, or its snapshot's when snapshotID is set
	// (read-only then).
	Open(ctx context.Context, v Volume, snapshotID string) (Data, error)
}
