package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// objectTemp is an object's .data file while it is written. As upstream's
// diskfile (swift/obj/diskfile.py, DiskFileWriter.open and
// link_fd_to_path), it is an anonymous O_TMPFILE inode in the device's tmp
// directory, linked into its hash directory once written and synced: no
// temporary name to create in a directory every writer shares, none to
// rename or remove. Where the filesystem or kernel refuses O_TMPFILE, or
// there is no /proc to link from, it is a named temporary file renamed into
// place, as before.
type objectTemp struct {
	*os.File
	named   string // the named temporary file's path; "" for an anonymous inode
	sidecar []byte // metadata for a sidecar file, where the filesystem has no xattrs
}

// procFDs is where an anonymous inode is reachable by name for linkat.
const procFDs = "/proc/self/fd"

func createObjectTemp(tmpDir, prefix string) (*objectTemp, error) {
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(procFDs); err == nil {
		fd, err := unix.Open(tmpDir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return &objectTemp{File: os.NewFile(uintptr(fd), filepath.Join(tmpDir, prefix+"anonymous"))}, nil
		}
		// EOPNOTSUPP, EISDIR (a kernel that predates O_TMPFILE), EINVAL:
		// fall back to a named file below
	}
	f, err := os.CreateTemp(tmpDir, prefix)
	if err != nil {
		return nil, err
	}
	return &objectTemp{File: f, named: f.Name()}, nil
}

// setMetadata stores md with the file: in its extended attribute, or in a
// sidecar file beside the final name where the filesystem has none.
func (t *objectTemp) setMetadata(md map[string]string) error {
	if t.named != "" {
		return writeMetadata(t.named, t.File, md)
	}
	data, err := json.Marshal(md)
	if err != nil {
		return err
	}
	err = unix.Fsetxattr(int(t.Fd()), metadataXattr, data, 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("set %s on a new object file: %w", metadataXattr, err)
	}
	t.sidecar = data
	return nil
}

// commit gives the written and synced file its final name in dir, then
// syncs dir and each directory it had to create, as upstream's
// link_fd_to_path does, so the name survives a crash.
func (t *objectTemp) commit(dir, name string) error {
	final := filepath.Join(dir, name)
	created := 0
	if t.named != "" || t.sidecar != nil {
		n, err := mkdirCount(dir)
		if err != nil {
			return err
		}
		created = n
	}
	if t.named != "" {
		tmpSide := filepath.Join(filepath.Dir(t.named), sidecarPrefix+filepath.Base(t.named)+".metadata")
		if _, err := os.Stat(tmpSide); err == nil {
			if err := os.Rename(tmpSide, filepath.Join(dir, sidecarPrefix+name+".metadata")); err != nil {
				return err
			}
		}
		if err := os.Rename(t.named, final); err != nil {
			return err
		}
		t.named = ""
	} else {
		if t.sidecar != nil {
			if err := writeSidecar(final, t.sidecar); err != nil {
				return err
			}
		}
		if err := t.link(final, &created); err != nil {
			return err
		}
	}
	for range created + 1 {
		if err := syncDir(dir); err != nil {
			return err
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// link names the anonymous inode final: the hash directory is made when it
// does not exist yet (counted in created), and a file already there under
// that name (a retried write of the same timestamp) is replaced, as
// upstream retries linkat.
func (t *objectTemp) link(final string, created *int) error {
	src := procFDs + "/" + strconv.Itoa(int(t.Fd()))
	for attempt := 0; ; attempt++ {
		err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
		if err == nil || attempt == 2 {
			return err
		}
		switch {
		case errors.Is(err, syscall.ENOENT):
			n, err := mkdirCount(filepath.Dir(final))
			if err != nil {
				return err
			}
			*created += n
		case errors.Is(err, syscall.EEXIST):
			if err := os.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		default:
			return err
		}
	}
}

// discard closes the file and removes a named one that was not committed
// (an anonymous inode goes with its last descriptor).
func (t *objectTemp) discard() {
	_ = t.Close()
	if t.named != "" {
		_ = os.Remove(t.named)
	}
}

// mkdirCount makes dir and its missing parents, returning how many it made:
// each is a new entry in its parent, which must be synced too.
func mkdirCount(dir string) (int, error) {
	if _, err := os.Stat(dir); err == nil {
		return 0, nil
	}
	n := 0
	if parent := filepath.Dir(dir); parent != dir {
		var err error
		if n, err = mkdirCount(parent); err != nil {
			return 0, err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			return n, nil
		}
		return 0, err
	}
	return n + 1, nil
}
