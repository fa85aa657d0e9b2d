package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// dirStore keeps backups in a directory as upstream's posix driver does:
// each backup's container is a directory <id[0:2]>/<id[2:4]>/<id> under the
// backup path (backup_posix_path), its objects files in it named
// volume_<volume id>_<timestamp>_backup_<id>-00001, ..._metadata and
// ..._sha256file. Every path is opened through an os.Root of the backup
// path, so no container, prefix or symbolic link leads outside it.
type dirStore struct {
	dir string
}

// NewDirectory is the chunked driver keeping backups under dir (created if
// missing), upstream's posix driver. Its default chunk is DefaultChunkSize,
// not upstream's backup_file_size of ~1.9 GB, as a chunk is held in memory.
func NewDirectory(dir string, o ChunkOptions) (*Chunked, error) {
	if dir == "" {
		return nil, errors.New("backup: the directory store needs its path")
	}
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return nil, err
	}
	return newChunked(&dirStore{dir: dir}, o)
}

func (s *dirStore) defaultContainer(b Spec) string {
	if len(b.ID) < 4 {
		return b.ID
	}
	return path.Join(b.ID[0:2], b.ID[2:4], b.ID)
}

func (s *dirStore) prefix(b Spec, now time.Time) string {
	return fmt.Sprintf("volume_%s_%s_backup_%s", b.VolumeID, now.Format("20060102150405"), b.ID)
}

// checkNames refuses a container that is not a relative path below the
// backup path, and a prefix that is not a file name: they come from the
// database (and the container from the user, upstream's --container).
func (s *dirStore) checkNames(container, prefix string) error {
	if container == "" || container == "." || !filepath.IsLocal(container) || strings.ContainsRune(container, 0) {
		return fmt.Errorf("%w: container %q is not a directory below the backup path", ErrInvalidBackup, container)
	}
	if prefix == "" || strings.ContainsAny(prefix, "/\x00") || len(prefix) > 200 {
		return fmt.Errorf("%w: object prefix %q is not a file name", ErrInvalidBackup, prefix)
	}
	return nil
}

func (s *dirStore) root() (*os.Root, error) { return os.OpenRoot(s.dir) }

func (s *dirStore) createContainer(_ context.Context, _ Auth, container string) error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	return root.MkdirAll(container, 0o770)
}

// put writes the object beside its name and renames it into place, so a
// crash leaves no object half written.
func (s *dirStore) put(_ context.Context, _ Auth, container, name string, data []byte) error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	final := path.Join(container, name)
	part := final + ".part"
	f, err := root.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o660)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(part, final)
	}
	if err != nil {
		_ = root.Remove(part)
	}
	return err
}

func (s *dirStore) open(_ context.Context, _ Auth, container, name string) (io.ReadCloser, error) {
	root, err := s.root()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(path.Join(container, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, container, name)
	}
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s/%s is not a file", ErrInvalidBackup, container, name)
	}
	return f, nil
}

func (s *dirStore) list(_ context.Context, _ Auth, container, prefix string) ([]string, error) {
	root, err := s.root()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	d, err := root.Open(container)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (s *dirStore) remove(_ context.Context, _ Auth, container, name string) error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.Remove(path.Join(container, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeContainer removes the backup's directory once empty (upstream leaves
// it: its TODO); one that still holds something stays.
func (s *dirStore) removeContainer(_ context.Context, _ Auth, container string) error {
	root, err := s.root()
	if err != nil {
		return err
	}
	defer root.Close()
	err = root.Remove(container)
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTEMPTY) {
		return nil
	}
	return err
}
