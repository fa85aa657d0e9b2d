package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// metadataXattr is the extended attribute holding a file's metadata, as
// upstream's user.swift.metadata (a JSON object here, a pickle there).
const metadataXattr = "user.swift.metadata"

// sidecarPrefix names the file holding metadata on filesystems without user
// extended attributes: ".<file>.metadata" beside it (dot files are no object
// files to the scans).
const sidecarPrefix = "."

// objectFiles is what one object's hash directory holds that counts: the
// newest .data or .ts, and the newest .meta after it.
type objectFiles struct {
	dir      string
	data     string // newest <ts>.data, "" when none wins
	tomb     string // newest <ts>.ts, "" when none wins
	meta     string // newest <ts>.meta newer than data
	dataTime swob.Timestamp
	tombTime swob.Timestamp
	metaTime swob.Timestamp
	obsolete []string // older files a write leaves behind
}

// scanObject lists dir as upstream's get_ondisk_files: the newest of .data and
// .ts wins; a .meta counts only if newer than the winning .data.
func scanObject(dir string) (objectFiles, error) {
	f := objectFiles{dir: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return f, nil
		}
		return f, err
	}
	type file struct {
		name string
		ts   swob.Timestamp
		ext  string
	}
	var files []file
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		ext := filepath.Ext(name)
		ts, err := swob.ParseTimestamp(strings.TrimSuffix(name, ext))
		if err != nil || (ext != ".data" && ext != ".ts" && ext != ".meta") {
			continue
		}
		files = append(files, file{name, ts, ext})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ts > files[j].ts })
	for _, fl := range files {
		switch {
		case fl.ext == ".meta" && f.data == "" && f.tomb == "" && f.meta == "":
			f.meta, f.metaTime = fl.name, fl.ts
		case (fl.ext == ".data" || fl.ext == ".ts") && f.data == "" && f.tomb == "":
			if fl.ext == ".data" {
				f.data, f.dataTime = fl.name, fl.ts
			} else {
				f.tomb, f.tombTime = fl.name, fl.ts
			}
		default:
			f.obsolete = append(f.obsolete, fl.name)
		}
	}
	if f.tomb != "" && f.meta != "" {
		f.obsolete = append(f.obsolete, f.meta)
		f.meta = ""
	}
	return f, nil
}

// newest is the timestamp of the newest state: the tombstone's, or the data's
// (a .meta updates metadata, not the object's existence).
func (f objectFiles) newest() swob.Timestamp { return max(f.dataTime, f.tombTime) }

// cleanup removes what a newer write made obsolete.
func (f objectFiles) cleanup() {
	for _, name := range f.obsolete {
		_ = os.Remove(filepath.Join(f.dir, name))
		_ = os.Remove(filepath.Join(f.dir, sidecarPrefix+name+".metadata"))
	}
}

// writeMetadata stores md on the open file f: in its extended attribute, or in
// a sidecar file where the filesystem has none.
func writeMetadata(path string, fd *os.File, md map[string]string) error {
	data, err := json.Marshal(md)
	if err != nil {
		return err
	}
	err = syscall.Setxattr(path, metadataXattr, data, 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EOPNOTSUPP) {
		return fmt.Errorf("set %s on %s: %w", metadataXattr, path, err)
	}
	return writeSidecar(path, data)
}

func writeSidecar(path string, data []byte) error {
	side := filepath.Join(filepath.Dir(path), sidecarPrefix+filepath.Base(path)+".metadata")
	sf, err := os.OpenFile(side, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := sf.Write(data); err != nil {
		sf.Close()
		return err
	}
	if err := sf.Sync(); err != nil {
		sf.Close()
		return err
	}
	return sf.Close()
}

// readMetadata reads what writeMetadata stored for path.
func readMetadata(path string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	n, err := syscall.Getxattr(path, metadataXattr, buf)
	var data []byte
	switch {
	case err == nil:
		data = buf[:n]
	case errors.Is(err, syscall.ENODATA) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP):
		// the sidecar of a filesystem without xattrs, or of a file renamed
		// from one (a sidecar travels under its file's final name)
		data, err = os.ReadFile(filepath.Join(filepath.Dir(path), sidecarPrefix+filepath.Base(path)+".metadata"))
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	md := map[string]string{}
	if err := json.Unmarshal(data, &md); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", path, err)
	}
	return md, nil
}

// renameInto moves a written temporary file (and its sidecar, if any) to its
// final name, and syncs the directory so the rename survives a crash.
func renameInto(tmp, dir, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	final := filepath.Join(dir, name)
	tmpSide := filepath.Join(filepath.Dir(tmp), sidecarPrefix+filepath.Base(tmp)+".metadata")
	if _, err := os.Stat(tmpSide); err == nil {
		if err := os.Rename(tmpSide, filepath.Join(dir, sidecarPrefix+name+".metadata")); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
