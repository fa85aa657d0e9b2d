package volume

import (
	"context"
	"net/http"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Backup statuses (cinder/objects/fields.py BackupStatus).
const (
	backupCreating      = "creating"
	backupAvailable     = "available"
	backupDeleting      = "deleting"
	backupRestoring     = "restoring"
	backupError         = "error"
	backupErrorDeleting = "error_deleting"
)

// backupResetStatuses are what os-reset_status accepts for a backup
// (validators.py _validate_backup_status).
var backupResetStatuses = []string{backupAvailable, backupError}

// backupRow is one row of volume_backups with its metadata.
type backupRow struct {
	ID                  string
	VolumeID            string
	SnapshotID          *string
	ProjectID           string
	UserID              string
	Name                *string
	Description         *string
	Status              string
	FailReason          *string
	Size                int
	ObjectCount         int
	Container           *string
	Service             *string
	AvailabilityZone    *string
	ParentID            *string
	NumDependentBackups int
	RestoreVolumeID     *string
	Host                string
	ServiceMetadata     *string
	DataTimestamp       *string
	CreatedAt           string
	UpdatedAt           string

	Metadata map[string]string
}

const backupColumns = `id, volume_id, snapshot_id, project_id, user_id, name, description, status, fail_reason, size,
	object_count, container, service, availability_zone, parent_id, num_dependent_backups, restore_volume_id, host,
	service_metadata, data_timestamp, created_at, updated_at`

func scanBackup(sc db.Scanner) (*backupRow, error) {
	b := &backupRow{}
	err := sc.Scan(&b.ID, &b.VolumeID, &b.SnapshotID, &b.ProjectID, &b.UserID, &b.Name, &b.Description, &b.Status,
		&b.FailReason, &b.Size, &b.ObjectCount, &b.Container, &b.Service, &b.AvailabilityZone, &b.ParentID,
		&b.NumDependentBackups, &b.RestoreVolumeID, &b.Host, &b.ServiceMetadata, &b.DataTimestamp, &b.CreatedAt,
		&b.UpdatedAt)
	return b, err
}

func backupByID(ctx context.Context, q db.Querier, id string) (*backupRow, error) {
	b, err := scanBackup(q.QueryRowContext(ctx, `SELECT `+backupColumns+` FROM volume_backups WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	b.Metadata, err = keyValues(ctx, q, "volume_backup_metadata", "backup_id", id)
	return b, err
}

func backupTarget(b *backupRow) map[string]any { return map[string]any{"project_id": b.ProjectID} }

// visibleBackup loads a backup the caller may see (its project's; any for
// admins); another project's is not found.
func (s *Service) visibleBackup(r *http.Request, q db.Querier, id string) (*backupRow, error) {
	b, err := backupByID(r.Context(), q, id)
	if db.IsNoRows(err) || err == nil && b.ProjectID != callerProject(r) && !isAdmin(r) {
		return nil, notFound("Backup %s could not be found.", id)
	}
	return b, err
}

// spec is the backup as its driver names it, with its chain of parents.
func backupSpec(ctx context.Context, q db.Querier, b *backupRow) (BackupSpec, error) {
	created, _ := time.Parse(time.RFC3339Nano, b.CreatedAt)
	spec := BackupSpec{ID: b.ID, VolumeID: b.VolumeID, AvailabilityZone: deref(b.AvailabilityZone),
		Name: deref(b.Name), Description: deref(b.Description), CreatedAt: created,
		Container: deref(b.Container), Prefix: deref(b.ServiceMetadata)}
	if b.ParentID != nil {
		parent, err := backupByID(ctx, q, *b.ParentID)
		if err != nil {
			return spec, err
		}
		ps, err := backupSpec(ctx, q, parent)
		if err != nil {
			return spec, err
		}
		spec.Parent = &ps
	}
	return spec, nil
}
