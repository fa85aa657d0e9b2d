package backend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sync"
)

// idPattern is what a backend accepts as a volume, snapshot or attachment id:
// it becomes a file name, a QEMU id, an export or target name, so nothing that
// could climb out of the pool or break a tool's option syntax (upstream's ids
// are UUIDs).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ErrBadID is returned for an id that is not a safe name.
var ErrBadID = errors.New("backend: id must be 1-64 letters, digits, '-' or '_'")

// ValidID reports whether id is a safe name (idPattern).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// CheckIDs refuses any id that is not a safe name.
func CheckIDs(ids ...string) error {
	for _, id := range ids {
		if !ValidID(id) {
			return fmt.Errorf("%w: %q", ErrBadID, id)
		}
	}
	return nil
}

// CheckSize refuses sizes a volume cannot have.
func CheckSize(sizeGB int) error {
	if sizeGB <= 0 || sizeGB > 1<<20 {
		return fmt.Errorf("backend: bad size %d GiB", sizeGB)
	}
	return nil
}

// VolumeLocks serialize the operations on one volume; the zero value is ready.
type VolumeLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Lock takes the volume's lock and returns the unlock.
func (v *VolumeLocks) Lock(volumeID string) func() {
	v.mu.Lock()
	if v.locks == nil {
		v.locks = map[string]*sync.Mutex{}
	}
	l := v.locks[volumeID]
	if l == nil {
		l = &sync.Mutex{}
		v.locks[volumeID] = l
	}
	v.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// PathExists reports whether path names anything (a link is not followed).
func PathExists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ExportsByVolume groups the wanted exports by volume and adds the volumes
// exported now (whose exports may all be unwanted): the volumes a Reconcile
// visits, each with what it should serve. An unsafe id is refused.
func ExportsByVolume(want []Export, exported []string) (map[string][]Export, []string, error) {
	byVolume := map[string][]Export{}
	for _, e := range want {
		if err := CheckIDs(e.VolumeID, e.AttachmentID); err != nil {
			return nil, nil, err
		}
		byVolume[e.VolumeID] = append(byVolume[e.VolumeID], e)
	}
	volumes := slices.Clone(exported)
	for id := range byVolume {
		if !slices.Contains(volumes, id) {
			volumes = append(volumes, id)
		}
	}
	return byVolume, volumes, nil
}
