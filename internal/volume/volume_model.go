package volume

import (
	"context"
	"database/sql"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Volume statuses (cinder/objects/fields.py VolumeStatus).
const (
	statusCreating        = "creating"
	statusAvailable       = "available"
	statusDeleting        = "deleting"
	statusError           = "error"
	statusErrorDeleting   = "error_deleting"
	statusErrorExtending  = "error_extending"
	statusExtending       = "extending"
	statusReserved        = "reserved"
	statusAttaching       = "attaching"
	statusInUse           = "in-use"
	statusDetaching       = "detaching"
	statusUploading       = "uploading"
	statusDownloading     = "downloading"
	statusBackingUp       = "backing-up"
	statusRestoringBackup = "restoring-backup"
	statusReverting       = "reverting"
	statusMaintenance     = "maintenance"
	statusErrorRestoring  = "error_restoring"
)

// Attach statuses (VolumeAttachStatus).
const (
	attachAttached       = "attached"
	attachAttaching      = "attaching"
	attachDetached       = "detached"
	attachReserved       = "reserved"
	attachDetaching      = "detaching"
	attachErrorAttaching = "error_attaching"
	attachErrorDetaching = "error_detaching"
)

// volume is one row of volumes with what its views show.
type volume struct {
	ID               string
	ProjectID        string
	UserID           string
	Name             *string
	Description      *string
	Size             int
	Status           string
	PreviousStatus   *string
	AttachStatus     string
	MigrationStatus  *string
	AvailabilityZone string
	VolumeTypeID     string
	Host             string
	SnapshotID       *string
	SourceVolID      *string
	BackupID         *string
	ImageID          *string
	Bootable         bool
	Multiattach      bool
	UseQuota         bool
	TargetSize       *int
	FailReason       *string
	CreatedAt        string
	UpdatedAt        string
	LaunchedAt       *string

	Metadata      map[string]string
	AdminMetadata map[string]string
	ImageMetadata map[string]string
	Attachments   []*attachment
	Type          *volumeType
}

const volumeColumns = `id, project_id, user_id, name, description, size, status, previous_status, attach_status,
	migration_status, availability_zone, volume_type_id, host, snapshot_id, source_volid, backup_id, image_id,
	bootable, multiattach, use_quota, target_size, fail_reason, created_at, updated_at, launched_at`

func scanVolume(sc db.Scanner) (*volume, error) {
	v := &volume{}
	var target sql.NullInt64
	err := sc.Scan(&v.ID, &v.ProjectID, &v.UserID, &v.Name, &v.Description, &v.Size, &v.Status, &v.PreviousStatus,
		&v.AttachStatus, &v.MigrationStatus, &v.AvailabilityZone, &v.VolumeTypeID, &v.Host, &v.SnapshotID,
		&v.SourceVolID, &v.BackupID, &v.ImageID, &v.Bootable, &v.Multiattach, &v.UseQuota, &target, &v.FailReason,
		&v.CreatedAt, &v.UpdatedAt, &v.LaunchedAt)
	if target.Valid {
		n := int(target.Int64)
		v.TargetSize = &n
	}
	return v, err
}

// volumeByID loads one volume row alone; db.ErrNoRows when absent.
func volumeByID(ctx context.Context, q db.Querier, id string) (*volume, error) {
	return scanVolume(q.QueryRowContext(ctx, `SELECT `+volumeColumns+` FROM volumes WHERE id = ?`, id))
}

// keyValues loads a volume's key/value table (metadata, admin metadata, image metadata).
func keyValues(ctx context.Context, q db.Querier, table, column, id string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM `+table+` WHERE `+column+` = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// setKeyValues replaces (or, with merge, updates) a key/value table's rows for id.
func setKeyValues(ctx context.Context, tx *db.Tx, table, column, id string, kv map[string]string, merge bool) error {
	if !merge {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+column+` = ?`, id); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(kv) {
		if merge {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+column+` = ? AND key = ?`, id, k); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+column+`, key, value) VALUES (?, ?, ?)`, id, k, kv[k]); err != nil {
			return err
		}
	}
	return nil
}

// loadDetails fills a volume's metadata, attachments and type.
func loadDetails(ctx context.Context, q db.Querier, v *volume) error {
	var err error
	if v.Metadata, err = keyValues(ctx, q, "volume_metadata", "volume_id", v.ID); err != nil {
		return err
	}
	if v.AdminMetadata, err = keyValues(ctx, q, "volume_admin_metadata", "volume_id", v.ID); err != nil {
		return err
	}
	if v.ImageMetadata, err = keyValues(ctx, q, "volume_glance_metadata", "volume_id", v.ID); err != nil {
		return err
	}
	if v.Attachments, err = attachmentsOf(ctx, q, v.ID); err != nil {
		return err
	}
	t, err := typeByID(ctx, q, v.VolumeTypeID)
	if err != nil && !db.IsNoRows(err) {
		return err
	}
	v.Type = t
	return nil
}

// attachment is one row of volume_attachments.
type attachment struct {
	ID             string
	VolumeID       string
	ProjectID      string
	InstanceUUID   *string
	AttachedHost   *string
	Mountpoint     *string
	AttachMode     string
	AttachStatus   string
	Connector      *string
	ConnectionInfo *string
	AttachTime     *string
	DetachTime     *string
	CreatedAt      string
	UpdatedAt      string
}

const attachmentColumns = `id, volume_id, project_id, instance_uuid, attached_host, mountpoint, attach_mode,
	attach_status, connector, connection_info, attach_time, detach_time, created_at, updated_at`

func scanAttachment(sc db.Scanner) (*attachment, error) {
	a := &attachment{}
	err := sc.Scan(&a.ID, &a.VolumeID, &a.ProjectID, &a.InstanceUUID, &a.AttachedHost, &a.Mountpoint, &a.AttachMode,
		&a.AttachStatus, &a.Connector, &a.ConnectionInfo, &a.AttachTime, &a.DetachTime, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

func attachmentsOf(ctx context.Context, q db.Querier, volumeID string) ([]*attachment, error) {
	return db.QueryAll(ctx, q, scanAttachment, `SELECT `+attachmentColumns+` FROM volume_attachments
		WHERE volume_id = ? ORDER BY created_at, id`, volumeID)
}

func attachmentByID(ctx context.Context, q db.Querier, id string) (*attachment, error) {
	return scanAttachment(q.QueryRowContext(ctx, `SELECT `+attachmentColumns+` FROM volume_attachments WHERE id = ?`, id))
}

// setStatus moves a volume to status, recording the time.
func setStatus(ctx context.Context, q db.Querier, id, status string, now time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, status, dbTime(now), id)
	return err
}

func strp(s string) *string { return &s }
