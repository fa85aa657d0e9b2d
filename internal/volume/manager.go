package volume

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// Manager is cinder-volume for one host: one backend.Backend per configured
// backend, each reported as host@backend in the services table. It is
// level-triggered, as compute's agent: every pass reads the rows of its
// backends in transitional states (creating, deleting, extending, reverting,
// uploading) and drives the backend to them, then converges the backend's
// exports to the attachments the database holds. Every backend step is
// idempotent and the row moves on only after it, so a crash at any point
// leaves a row the next pass finishes: after kill -9 the volume is still
// "creating" and is created, an export the database no longer wants is
// removed, and an attachment whose export vanished is exported again.
type Manager struct {
	db       *db.DB
	log      *slog.Logger
	host     string
	az       string
	backends map[string]backend.Backend // by volume_backend_name
	interval time.Duration
	images   Images
	compute  ComputeEvents
	scratch  string
	nudge    chan struct{}
	now      func() time.Time
	// busy keeps one pass at a time per manager (Run's loop and tests' Pass)
	busy sync.Mutex
	// backup stores backups (SetBackupDriver); nil: no cinder-backup here
	backup BackupDriver
	// quotas counts a managed volume's gigabytes (manager_manage.go)
	quotas *Service

	// exports serializes the convergence of exports with the API's exports
	// and unexports; inFlight are the exports InitializeConnection made whose
	// connection_info the API may not have committed yet, which a
	// convergence must keep: removing one would drop its port and key, and
	// the connection_info the API then stores would lead nowhere.
	exports  sync.Mutex
	inFlight map[string]inFlightExport
}

// inFlightExport is an export made for the API, not yet in the database.
type inFlightExport struct {
	backend string // volume_backend_name
	export  backend.Export
	since   time.Time
}

// inFlightFor is how long an export made for the API is kept without its row:
// far longer than the API's commit after it, short enough that an export whose
// request failed after Export is removed by a later pass.
const inFlightFor = 2 * time.Minute

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	DB     *db.DB
	Logger *slog.Logger
	// Host is this host's name, the "host" of host@backend#pool.
	Host             string
	AvailabilityZone string
	Backends         []backend.Backend
	// Interval is the heartbeat and convergence period (report_interval).
	Interval time.Duration
	// Images downloads images for volumes made from them and uploads volumes
	// to images, with the manager's own token (token "").
	Images Images
	// ScratchDir holds images while a volume is made from them.
	ScratchDir string
	// Compute, when set, is told of in-use volumes that grew.
	Compute ComputeEvents
	// Quotas are Options.Quotas, for the gigabytes a managed volume brings.
	Quotas map[string]int
}

// ComputeEvents is compute as the volume manager calls it.
type ComputeEvents interface {
	VolumeExtended(ctx context.Context, volumeID string, servers []string) error
}

// NewManager builds the manager of this host's backends.
func NewManager(o ManagerOptions) *Manager {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.AvailabilityZone == "" {
		o.AvailabilityZone = "nova"
	}
	m := &Manager{db: o.DB, log: o.Logger, host: o.Host, az: o.AvailabilityZone, backends: map[string]backend.Backend{},
		interval: o.Interval, images: o.Images, compute: o.Compute, scratch: o.ScratchDir, nudge: make(chan struct{}, 1), now: time.Now}
	for _, b := range o.Backends {
		m.backends[b.Name()] = b
	}
	m.quotas = &Service{db: o.DB, log: o.Logger, opts: Options{Quotas: o.Quotas}}
	return m
}

// Nudge wakes the loop for a pass now: the API calls it after writing a row
// the manager drives, so a volume becomes available without waiting for the
// next heartbeat.
func (m *Manager) Nudge() {
	select {
	case m.nudge <- struct{}{}:
	default:
	}
}

// Run passes until ctx ends: at once on start (converging what a crash left),
// then every interval and on each nudge.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		if err := m.Pass(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("volume manager pass failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.nudge:
		}
	}
}

// serviceHost is host@backend, the services row and the volumes' host prefix.
func (m *Manager) serviceHost(name string) string { return m.host + "@" + name }

// poolHost is host@backend#pool: every backend here has one pool, named as the backend.
func (m *Manager) poolHost(name string) string { return m.serviceHost(name) + "#" + name }

// Pass runs one heartbeat and convergence over every backend.
func (m *Manager) Pass(ctx context.Context) error {
	m.busy.Lock()
	defer m.busy.Unlock()
	var errs []error
	for _, name := range sortedKeys(m.backends) {
		b := m.backends[name]
		if err := m.heartbeat(ctx, name, b); err != nil {
			errs = append(errs, fmt.Errorf("%s heartbeat: %w", name, err))
		}
		if err := m.converge(ctx, name, b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	errs = append(errs, m.convergeSnapshotsAndBackups(ctx)) // manager_snapshots_backups.go
	errs = append(errs, m.convergeManaged(ctx))             // manager_manage.go
	return errors.Join(errs...)
}

// capabilities is what a backend reports on the heartbeat, as upstream's
// get_volume_stats: the backend's own keys and one pool.
type capabilities struct {
	VolumeBackendName string `json:"volume_backend_name"`
	VendorName        string `json:"vendor_name"`
	DriverVersion     string `json:"driver_version"`
	StorageProtocol   string `json:"storage_protocol"`
	Pools             []pool `json:"pools"`
}

type pool struct {
	PoolName                 string  `json:"pool_name"`
	TotalCapacityGB          float64 `json:"total_capacity_gb"`
	FreeCapacityGB           float64 `json:"free_capacity_gb"`
	ProvisionedCapacityGB    float64 `json:"provisioned_capacity_gb"`
	AllocatedCapacityGB      float64 `json:"allocated_capacity_gb"`
	ThinProvisioningSupport  bool    `json:"thin_provisioning_support"`
	ThickProvisioningSupport bool    `json:"thick_provisioning_support"`
	MaxOverSubscriptionRatio float64 `json:"max_over_subscription_ratio"`
	ReservedPercentage       float64 `json:"reserved_percentage"`
	Multiattach              bool    `json:"multiattach"`
	StorageProtocol          string  `json:"storage_protocol"`
}

// heartbeat upserts the backend's services row with its capacities.
func (m *Manager) heartbeat(ctx context.Context, name string, b backend.Backend) error {
	c, err := b.Capacity(ctx)
	if err != nil {
		return err
	}
	ratio := c.MaxOversubscriptionRatio
	if ratio <= 0 {
		ratio = 1
	}
	caps := capabilities{VolumeBackendName: name, VendorName: "Nimbus", DriverVersion: "1.0", StorageProtocol: c.Protocol,
		Pools: []pool{{PoolName: name, TotalCapacityGB: c.TotalGB, FreeCapacityGB: c.FreeGB,
			ProvisionedCapacityGB: c.ProvisionedGB, ThinProvisioningSupport: c.ThinProvisioning,
			ThickProvisioningSupport: !c.ThinProvisioning, MaxOverSubscriptionRatio: ratio, Multiattach: true,
			StorageProtocol: c.Protocol}}}
	data, err := json.Marshal(caps)
	if err != nil {
		return err
	}
	now := dbTime(m.now())
	host := m.serviceHost(name)
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE volume_services SET capabilities = ?, heartbeat_at = ?, updated_at = ?,
			availability_zone = ? WHERE host = ? AND binary_name = 'cinder-volume'`, string(data), now, now, m.az, host)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO volume_services (id, host, binary_name, topic, availability_zone, capabilities,
			heartbeat_at, created_at, updated_at) VALUES (?, ?, 'cinder-volume', 'cinder-volume', ?, ?, ?, ?, ?)`,
			uuid.NewString(), host, m.az, string(data), now, now, now)
		return err
	})
}

// converge drives the backend's volumes in transitional states, then its exports.
func (m *Manager) converge(ctx context.Context, name string, b backend.Backend) error {
	vols, err := db.QueryAll(ctx, m.db, scanVolume, `SELECT `+volumeColumns+` FROM volumes
		WHERE (host = ? OR host LIKE ?) AND status IN (?, ?, ?, ?, ?, ?) ORDER BY created_at`,
		m.serviceHost(name), m.serviceHost(name)+"#%", statusCreating, statusDeleting, statusExtending,
		statusReverting, statusUploading, statusDownloading)
	if err != nil {
		return err
	}
	var errs []error
	for _, v := range vols {
		if err := m.step(ctx, b, v); err != nil {
			errs = append(errs, fmt.Errorf("volume %s (%s): %w", v.ID, v.Status, err))
		}
	}
	if err := m.convergeExports(ctx, name, b); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func bv(v *volume) backend.Volume { return backend.Volume{ID: v.ID, SizeGB: v.Size} }

// step takes one volume one state forward.
func (m *Manager) step(ctx context.Context, b backend.Backend, v *volume) error {
	switch v.Status {
	case statusCreating:
		if err := m.create(ctx, b, v); err != nil {
			m.log.Warn("volume create failed", "volume", v.ID, "error", err)
			return m.fail(ctx, v.ID, statusError, err)
		}
		_, err := m.db.ExecContext(ctx, `UPDATE volumes SET status = ?, launched_at = ?, updated_at = ?
			WHERE id = ? AND status = ?`, statusAvailable, dbTime(m.now()), dbTime(m.now()), v.ID, statusCreating)
		return err
	case statusDeleting:
		exports, err := b.Exports(ctx)
		if err != nil {
			return err
		}
		for _, e := range exports {
			if e.VolumeID == v.ID {
				if err := b.Unexport(ctx, bv(v), e.AttachmentID); err != nil {
					return m.fail(ctx, v.ID, statusErrorDeleting, err)
				}
			}
		}
		// a cascaded delete took the snapshots with it (status deleting)
		snaps, err := db.QueryStrings(ctx, m.db, `SELECT id FROM volume_snapshots WHERE volume_id = ?`, v.ID)
		if err != nil {
			return err
		}
		for _, sid := range snaps {
			if err := b.DeleteSnapshot(ctx, backend.Snapshot{ID: sid, VolumeID: v.ID, SizeGB: v.Size}); err != nil {
				return m.fail(ctx, v.ID, statusErrorDeleting, err)
			}
			if _, err := m.db.ExecContext(ctx, `DELETE FROM volume_snapshots WHERE id = ?`, sid); err != nil {
				return err
			}
		}
		if err := b.Delete(ctx, bv(v)); err != nil {
			return m.fail(ctx, v.ID, statusErrorDeleting, err)
		}
		_, err = m.db.ExecContext(ctx, `DELETE FROM volumes WHERE id = ? AND status = ?`, v.ID, statusDeleting)
		return err
	case statusExtending:
		if v.TargetSize == nil {
			return m.fail(ctx, v.ID, statusErrorExtending, errors.New("no target size"))
		}
		if err := b.Extend(ctx, bv(v), *v.TargetSize); err != nil {
			return m.fail(ctx, v.ID, statusErrorExtending, err)
		}
		back := statusAvailable
		if v.PreviousStatus != nil && *v.PreviousStatus == statusInUse {
			back = statusInUse
		}
		_, err := m.db.ExecContext(ctx, `UPDATE volumes SET size = ?, target_size = NULL, status = ?, previous_status = NULL,
			updated_at = ? WHERE id = ? AND status = ?`, *v.TargetSize, back, dbTime(m.now()), v.ID, statusExtending)
		if err == nil && back == statusInUse && m.compute != nil {
			servers, qerr := db.QueryStrings(ctx, m.db, `SELECT instance_uuid FROM volume_attachments
				WHERE volume_id = ? AND attach_status = ? AND instance_uuid IS NOT NULL`, v.ID, attachAttached)
			if qerr == nil {
				qerr = m.compute.VolumeExtended(ctx, v.ID, servers)
			}
			if qerr != nil {
				// as upstream: logged; the volume did grow
				m.log.Warn("telling compute of an extended volume failed", "volume", v.ID, "error", qerr)
			}
		}
		return err
	case statusReverting:
		var snapID, snapStatus *string
		var snapSize int
		err := m.db.QueryRowContext(ctx, `SELECT s.id, s.status, s.volume_size FROM volumes v JOIN volume_snapshots s
			ON s.id = v.revert_snapshot_id WHERE v.id = ?`, v.ID).Scan(&snapID, &snapStatus, &snapSize)
		if err != nil {
			return m.fail(ctx, v.ID, statusError, fmt.Errorf("revert: snapshot: %w", err))
		}
		if err := b.RevertToSnapshot(ctx, bv(v), backend.Snapshot{ID: *snapID, VolumeID: v.ID, SizeGB: snapSize}); err != nil {
			return m.fail(ctx, v.ID, statusError, err)
		}
		now := dbTime(m.now())
		return m.db.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = 'available', updated_at = ? WHERE id = ? AND status = 'restoring'`,
				now, *snapID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, revert_snapshot_id = NULL, updated_at = ?
				WHERE id = ? AND status = ?`, statusAvailable, now, v.ID, statusReverting)
			return err
		})
	case statusDownloading:
		// re-image: the volume's data goes and the image's is written
		// (each step idempotent, so a crash between them is finished here)
		if v.ImageID == nil {
			return m.fail(ctx, v.ID, statusError, errors.New("re-image without an image"))
		}
		if err := b.Delete(ctx, bv(v)); err != nil {
			return m.fail(ctx, v.ID, statusError, err)
		}
		if err := m.createFromImage(ctx, b, v); err != nil {
			return m.fail(ctx, v.ID, statusError, err)
		}
		back := statusAvailable
		if v.PreviousStatus != nil && *v.PreviousStatus == statusReserved {
			back = statusReserved
		}
		_, err := m.db.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = NULL, updated_at = ?
			WHERE id = ? AND status = ?`, back, dbTime(m.now()), v.ID, statusDownloading)
		return err
	case statusUploading:
		if err := m.upload(ctx, b, v); err != nil {
			m.log.Warn("volume upload to image failed", "volume", v.ID, "error", err)
		}
		back := statusAvailable
		if v.PreviousStatus != nil && *v.PreviousStatus == statusInUse {
			back = statusInUse
		}
		_, err := m.db.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = NULL, upload_image_id = NULL,
			updated_at = ? WHERE id = ? AND status = ?`, back, dbTime(m.now()), v.ID, statusUploading)
		return err
	}
	return nil
}

// fail records a failed step: the volume in status (error, error_deleting,
// error_extending) with the reason, as upstream's manager does.
func (m *Manager) fail(ctx context.Context, id, status string, cause error) error {
	_, err := m.db.ExecContext(ctx, `UPDATE volumes SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ?`,
		status, cause.Error(), dbTime(m.now()), id)
	if err != nil {
		return err
	}
	return nil
}

func (m *Manager) create(ctx context.Context, b backend.Backend, v *volume) error {
	switch {
	case v.SnapshotID != nil:
		var size int
		if err := m.db.QueryRowContext(ctx, `SELECT volume_size FROM volume_snapshots WHERE id = ?`, *v.SnapshotID).Scan(&size); err != nil {
			return fmt.Errorf("snapshot %s: %w", *v.SnapshotID, err)
		}
		var srcVolume string
		_ = m.db.QueryRowContext(ctx, `SELECT volume_id FROM volume_snapshots WHERE id = ?`, *v.SnapshotID).Scan(&srcVolume)
		return b.CreateFromSnapshot(ctx, bv(v), backend.Snapshot{ID: *v.SnapshotID, VolumeID: srcVolume, SizeGB: size})
	case v.SourceVolID != nil:
		src, err := volumeByID(ctx, m.db, *v.SourceVolID)
		if err != nil {
			return fmt.Errorf("source volume %s: %w", *v.SourceVolID, err)
		}
		return b.CreateFromVolume(ctx, bv(v), bv(src))
	case v.BackupID != nil:
		return m.createFromBackup(ctx, b, v) // manager_snapshots_backups.go
	case v.ImageID != nil:
		return m.createFromImage(ctx, b, v)
	}
	return b.Create(ctx, bv(v))
}

// createFromImage downloads the image into the scratch directory and has the
// backend write it (which inspects it first), then marks the volume bootable
// with the image's properties as volume_image_metadata.
func (m *Manager) createFromImage(ctx context.Context, b backend.Backend, v *volume) error {
	if m.images == nil {
		return errors.New("no image service")
	}
	img, err := m.images.Get(ctx, "", *v.ImageID)
	if err != nil {
		return fmt.Errorf("image %s: %w", *v.ImageID, err)
	}
	if err := os.MkdirAll(m.scratch, 0o700); err != nil {
		return err
	}
	path := filepath.Join(m.scratch, "image-"+v.ID)
	defer os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	body, err := m.images.Download(ctx, "", *v.ImageID)
	if err != nil {
		f.Close()
		return err
	}
	_, err = io.Copy(f, body)
	body.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download image %s: %w", *v.ImageID, err)
	}
	format, _ := img["disk_format"].(string)
	if err := b.CreateFromImage(ctx, bv(v), backend.ImageSource{Path: path, Format: format}); err != nil {
		return err
	}
	meta := imageMetadata(img)
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		if err := setKeyValues(ctx, tx, "volume_glance_metadata", "volume_id", v.ID, meta, false); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE volumes SET bootable = ? WHERE id = ?`, true, v.ID)
		return err
	})
}

// imageMetadata is what upstream copies from an image into
// volume_image_metadata: its id, name, formats, sizes, checksum and
// properties (not its owner-side bookkeeping).
func imageMetadata(img map[string]any) map[string]string {
	out := map[string]string{}
	skip := map[string]bool{"status": true, "visibility": true, "protected": true, "os_hidden": true, "owner": true,
		"created_at": true, "updated_at": true, "self": true, "file": true, "schema": true, "tags": true,
		"locations": true, "direct_url": true, "virtual_size": true, "os_hash_algo": true, "os_hash_value": true,
		"stores": true}
	for k, val := range img {
		if skip[k] || val == nil {
			continue
		}
		switch x := val.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = fmt.Sprint(int64(x))
		case bool:
			out[k] = map[bool]string{true: "True", false: "False"}[x]
		}
	}
	if id, ok := out["id"]; ok {
		out["image_id"] = id
		delete(out, "id")
	}
	if name, ok := out["name"]; ok {
		out["image_name"] = name
		delete(out, "name")
	}
	return out
}

// upload sends the volume's bytes to the image the API created, with the
// manager's own token: raw as they are, other disk formats converted by
// qemu-img from a scratch copy (upstream's copy_volume_to_image).
func (m *Manager) upload(ctx context.Context, b backend.Backend, v *volume) error {
	var imageID *string
	if err := m.db.QueryRowContext(ctx, `SELECT upload_image_id FROM volumes WHERE id = ?`, v.ID).Scan(&imageID); err != nil {
		return err
	}
	if imageID == nil || m.images == nil {
		return errors.New("no image to upload to")
	}
	img, err := m.images.Get(ctx, "", *imageID)
	if err != nil {
		return err
	}
	data, err := b.Open(ctx, bv(v), "")
	if err != nil {
		return err
	}
	defer data.Close()
	format, _ := img["disk_format"].(string)
	if format == "" || format == "raw" {
		return m.images.Upload(ctx, "", *imageID, io.NewSectionReader(data, 0, data.Size()), data.Size())
	}
	converted, err := m.convert(ctx, v.ID, data, format)
	if err != nil {
		return err
	}
	defer os.Remove(converted)
	f, err := os.Open(converted)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	return m.images.Upload(ctx, "", *imageID, f, info.Size())
}

// uploadFormats are the disk formats an upload converts to, by qemu-img's
// name for them.
var uploadFormats = map[string]string{"qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc", "vhdx": "vhdx"}

// convert writes the volume's bytes to a raw scratch file (sparse: zero
// blocks are skipped) and has qemu-img convert it; both files are the
// manager's own, under its scratch directory.
func (m *Manager) convert(ctx context.Context, volumeID string, data backend.Data, format string) (string, error) {
	target, ok := uploadFormats[format]
	if !ok {
		return "", fmt.Errorf("cannot upload in disk format %q", format)
	}
	if err := os.MkdirAll(m.scratch, 0o700); err != nil {
		return "", err
	}
	raw := filepath.Join(m.scratch, "upload-"+volumeID+".raw")
	out := filepath.Join(m.scratch, "upload-"+volumeID+"."+format)
	defer os.Remove(raw)
	f, err := os.OpenFile(raw, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for off := int64(0); off < data.Size(); off += int64(len(buf)) {
		n, err := data.ReadAt(buf, off)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := f.WriteAt(buf[:n], off); werr != nil {
				f.Close()
				return "", werr
			}
		}
		if err != nil && err != io.EOF {
			f.Close()
			return "", err
		}
	}
	if err := f.Truncate(data.Size()); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "qemu-img", "convert", "-f", "raw", "-O", target, raw, out)
	m.log.Info("run", "cmd", cmd.String())
	if output, err := cmd.CombinedOutput(); err != nil {
		os.Remove(out)
		return "", fmt.Errorf("qemu-img convert: %w: %s", err, output)
	}
	return out, nil
}

// convergeExports makes the backend's exports the attachments the database
// wants: an attachment with a connection (attaching, attached, or reserved
// with a connector) of a volume here is exported, every other export removed.
func (m *Manager) convergeExports(ctx context.Context, name string, b backend.Backend) error {
	m.exports.Lock()
	defer m.exports.Unlock()
	type want struct {
		v *volume
		a *attachment
	}
	rows, err := db.QueryAll(ctx, m.db, func(sc db.Scanner) (want, error) {
		var w want
		w.v, w.a = &volume{}, &attachment{}
		err := sc.Scan(&w.v.ID, &w.v.Size, &w.a.ID, &w.a.AttachMode, &w.a.Connector)
		return w, err
	}, `SELECT v.id, v.size, a.id, a.attach_mode, a.connector FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id
		WHERE (v.host = ? OR v.host LIKE ?) AND a.connection_info IS NOT NULL AND a.attach_status IN (?, ?, ?)`,
		m.serviceHost(name), m.serviceHost(name)+"#%", attachAttaching, attachAttached, attachDetaching)
	if err != nil {
		return err
	}
	if r, ok := b.(reconciler); ok {
		want := make([]backend.Export, len(rows))
		for i, w := range rows {
			want[i] = exportOf(w.v, w.a)
		}
		return r.Reconcile(ctx, m.withInFlight(name, want))
	}
	have, err := b.Exports(ctx)
	if err != nil {
		return err
	}
	exported := map[string]bool{}
	for _, e := range have {
		exported[e.AttachmentID] = true
	}
	wanted := map[string]bool{}
	for _, e := range m.withInFlight(name, nil) {
		wanted[e.AttachmentID] = true
	}
	var errs []error
	for _, w := range rows {
		wanted[w.a.ID] = true
		if exported[w.a.ID] {
			continue
		}
		if _, err := b.Export(ctx, bv(w.v), exportOf(w.v, w.a)); err != nil {
			errs = append(errs, fmt.Errorf("export attachment %s: %w", w.a.ID, err))
		} else {
			m.log.Info("volume export restored", "volume", w.v.ID, "attachment", w.a.ID)
		}
	}
	for _, e := range have {
		if wanted[e.AttachmentID] {
			continue
		}
		if err := b.Unexport(ctx, backend.Volume{ID: e.VolumeID}, e.AttachmentID); err != nil {
			errs = append(errs, fmt.Errorf("unexport attachment %s: %w", e.AttachmentID, err))
		} else {
			m.log.Info("stale volume export removed", "volume", e.VolumeID, "attachment", e.AttachmentID)
		}
	}
	return errors.Join(errs...)
}

// reconciler is a backend that converges all its exports in one step (the
// file backend: it also restarts the export daemons a crash took down, on
// their ports and with their keys, so attached guests reconnect).
type reconciler interface {
	Reconcile(ctx context.Context, want []backend.Export) error
}

// exportOf is the export an attachment of v wants.
func exportOf(v *volume, a *attachment) backend.Export {
	return backend.Export{VolumeID: v.ID, AttachmentID: a.ID, ReadOnly: a.AttachMode == "ro",
		Connector: connectorOf(a.Connector)}
}

// connectorOf reads os-brick's connector as the backend needs it.
func connectorOf(raw *string) backend.Connector {
	var c struct {
		Host      string `json:"host"`
		IP        string `json:"ip"`
		Initiator string `json:"initiator"`
	}
	if raw != nil {
		_ = json.Unmarshal([]byte(*raw), &c)
	}
	return backend.Connector{Host: c.Host, IP: c.IP, Initiator: c.Initiator}
}

// backendFor finds the backend of a volume's host (host@backend#pool) on this host.
func (m *Manager) backendFor(host string) (backend.Backend, error) {
	h, rest, ok := strings.Cut(host, "@")
	if !ok || h != m.host {
		return nil, fmt.Errorf("volume host %q is not served here (%s)", host, m.host)
	}
	name, _, _ := strings.Cut(rest, "#")
	b, ok := m.backends[name]
	if !ok {
		return nil, fmt.Errorf("no backend %q on %s", name, m.host)
	}
	return b, nil
}

// InitializeConnection exports a volume for an attachment and returns its
// connection_info (upstream's synchronous initialize_connection and
// attachment_update RPC calls to the volume's manager).
func (m *Manager) InitializeConnection(ctx context.Context, host string, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error) {
	b, err := m.backendFor(host)
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	m.exports.Lock()
	defer m.exports.Unlock()
	info, err := b.Export(ctx, v, e)
	if err == nil {
		if m.inFlight == nil {
			m.inFlight = map[string]inFlightExport{}
		}
		m.inFlight[e.AttachmentID] = inFlightExport{backend: b.Name(), export: e, since: m.now()}
	}
	return info, err
}

// withInFlight is want (the database's exports) with the exports made for the
// API since, until their rows show them or they are too old to be coming;
// the caller holds m.exports.
func (m *Manager) withInFlight(name string, want []backend.Export) []backend.Export {
	seen := map[string]bool{}
	for _, e := range want {
		seen[e.AttachmentID] = true
	}
	for id, f := range m.inFlight {
		switch {
		case f.backend != name:
		case seen[id] || m.now().Sub(f.since) > inFlightFor:
			delete(m.inFlight, id)
		default:
			want = append(want, f.export)
		}
	}
	return want
}

// TerminateConnection removes an attachment's export.
func (m *Manager) TerminateConnection(ctx context.Context, host string, v backend.Volume, attachmentID string) error {
	b, err := m.backendFor(host)
	if err != nil {
		return err
	}
	m.exports.Lock()
	defer m.exports.Unlock()
	delete(m.inFlight, attachmentID)
	return b.Unexport(ctx, v, attachmentID)
}
