package volume

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Snapshot statuses (cinder/objects/fields.py SnapshotStatus).
const (
	snapshotCreating      = "creating"
	snapshotAvailable     = "available"
	snapshotDeleting      = "deleting"
	snapshotError         = "error"
	snapshotErrorDeleting = "error_deleting"
	snapshotBackingUp     = "backing-up"
	snapshotRestoring     = "restoring"
)

// snapshotStatuses are SnapshotStatus.ALL, what os-reset_status accepts.
var snapshotStatuses = []string{"error", "available", "creating", "deleting", "deleted", "updating",
	"error_deleting", "unmanaging", "backing-up", "restoring"}

// snapshot is one row of volume_snapshots with its metadata.
type snapshot struct {
	ID           string
	VolumeID     string
	ProjectID    string
	UserID       string
	Name         *string
	Description  *string
	Status       string
	Progress     *string
	VolumeSize   int
	VolumeTypeID *string
	Host         string
	UseQuota     bool
	FailReason   *string
	CreatedAt    string
	UpdatedAt    string

	Metadata map[string]string
}

const snapshotColumns = `id, volume_id, project_id, user_id, name, description, status, progress, volume_size,
	volume_type_id, host, use_quota, fail_reason, created_at, updated_at`

func scanSnapshot(sc db.Scanner) (*snapshot, error) {
	s := &snapshot{}
	err := sc.Scan(&s.ID, &s.VolumeID, &s.ProjectID, &s.UserID, &s.Name, &s.Description, &s.Status, &s.Progress,
		&s.VolumeSize, &s.VolumeTypeID, &s.Host, &s.UseQuota, &s.FailReason, &s.CreatedAt, &s.UpdatedAt)
	return s, err
}

func snapshotByID(ctx context.Context, q db.Querier, id string) (*snapshot, error) {
	s, err := scanSnapshot(q.QueryRowContext(ctx, `SELECT `+snapshotColumns+` FROM volume_snapshots WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	s.Metadata, err = keyValues(ctx, q, "volume_snapshot_metadata", "snapshot_id", id)
	return s, err
}

func snapshotTarget(s *snapshot) map[string]any { return map[string]any{"project_id": s.ProjectID} }

// visibleSnapshot loads a snapshot the caller may see (its project's; any
// for admins); another project's is not found, as upstream's project_only
// query.
func (s *Service) visibleSnapshot(r *http.Request, q db.Querier, id string) (*snapshot, error) {
	snap, err := snapshotByID(r.Context(), q, id)
	if db.IsNoRows(err) || err == nil && snap.ProjectID != callerProject(r) && !isAdmin(r) {
		return nil, notFound("Snapshot %s could not be found.", id)
	}
	return snap, err
}
