package backend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Manageable is the optional part of a backend that brings storage it holds
// but the service does not (a file an operator put in the pool, a volume
// unmanaged before) under the service's management and lets go of volumes
// without deleting them: upstream's ManageableVD (get_manageable_volumes,
// manage_existing_get_size, manage_existing, unmanage). The manager checks for
// it with a type assertion; a backend without it answers manage requests with
// error_managing. Every method is idempotent, as Backend's.
type Manageable interface {
	// ManageableVolumes lists the storage objects of the pool: managed holds
	// the ids of the volumes the service has on this backend, so those are
	// listed as not safe to manage with their cinder_id.
	ManageableVolumes(ctx context.Context, managed map[string]bool) ([]ManageableVolume, error)
	// ManageExistingGetSize is the size in GiB (rounded up) of the object ref
	// names.
	ManageExistingGetSize(ctx context.Context, ref map[string]any) (int, error)
	// ManageExisting makes the object ref names the volume v: afterwards the
	// backend holds it as it holds the volumes it created. Asked again after
	// it succeeded, it succeeds.
	ManageExisting(ctx context.Context, v Volume, ref map[string]any) error
	// Unmanage lets go of v (not exported) and keeps its data in the pool,
	// where ManageableVolumes lists it.
	Unmanage(ctx context.Context, v Volume) error
}

// ManageableVolume is one entry of a manageable-volumes listing, upstream's
// dict: reference, size (GiB), safe_to_manage, reason_not_safe, cinder_id,
// extra_info.
type ManageableVolume struct {
	Reference     map[string]string
	SizeGB        int
	SafeToManage  bool
	ReasonNotSafe string
	CinderID      string
	ExtraInfo     map[string]string
}

// ErrBadReference is returned for a reference that names nothing the backend
// could hold (upstream's ManageExistingInvalidReference).
var ErrBadReference = errors.New("backend: invalid manage reference")

// objectName is what a manage reference may name: one entry of the pool
// directory (no separator, no leading dot, so nothing above or hidden in
// the pool), as upstream's references are LV or file names.
var objectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// ReferenceName is the pool entry a reference names: {"source-name": name}
// or {"source-id": id} for upstream's volume-<id>. A name that could leave the
// pool directory, or a temporary file of a volume being made, is
// ErrBadReference.
func ReferenceName(ref map[string]any) (string, error) {
	var name string
	if v, ok := ref["source-name"].(string); ok {
		name = v
	} else if v, ok := ref["source-id"].(string); ok {
		name = "volume-" + v
	} else {
		return "", fmt.Errorf("%w: source-name or source-id is required", ErrBadReference)
	}
	if !objectName.MatchString(name) || strings.Contains(name, "..") || strings.HasSuffix(name, ".tmp") {
		return "", fmt.Errorf("%w: %q is not a name in the pool", ErrBadReference, name)
	}
	return name, nil
}

// GiBCeil is a byte size in whole GiB, rounded up (upstream's
// manage_existing_get_size rounds up so the data fits).
func GiBCeil(bytes int64) int {
	const gib = 1 << 30
	return int((bytes + gib - 1) / gib)
}

// ManageableSnapshots is the optional snapshot side of Manageable (upstream's
// ManageableSnapshotsVD): a snapshot the backend holds but the service does
// not is taken over under a snapshot's id, and a snapshot let go of keeps
// its data.
type ManageableSnapshots interface {
	// ManageableSnapshots lists the backend's snapshots; managed holds the ids
	// of the snapshots the service has on this backend.
	ManageableSnapshots(ctx context.Context, managed map[string]bool) ([]ManageableSnapshot, error)
	ManageExistingSnapshotGetSize(ctx context.Context, s Snapshot, ref map[string]any) (int, error)
	ManageExistingSnapshot(ctx context.Context, s Snapshot, ref map[string]any) error
	UnmanageSnapshot(ctx context.Context, s Snapshot) error
}

// ManageableSnapshot is one entry of a manageable-snapshots listing: a
// ManageableVolume's keys and the reference of its volume (nil when the
// backend cannot tell).
type ManageableSnapshot struct {
	ManageableVolume
	SourceReference map[string]string
}
