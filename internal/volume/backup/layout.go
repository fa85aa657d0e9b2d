package backup

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// driverVersion is the layout's version, upstream's DRIVER_VERSION: the only
// one its restore (_restore_v1) reads.
const driverVersion = "1.0.0"

// metadata is <prefix>_metadata, upstream's _write_metadata. Fields are in
// the order upstream's json.dumps(sort_keys=True) writes them.
type metadata struct {
	BackupDescription *string         `json:"backup_description"`
	BackupID          string          `json:"backup_id"`
	BackupName        *string         `json:"backup_name"`
	CreatedAt         string          `json:"created_at"`
	Objects           []storedObjects `json:"objects"`
	ParentID          *string         `json:"parent_id"`
	Version           string          `json:"version"`
	VolumeID          string          `json:"volume_id"`
	VolumeMeta        json.RawMessage `json:"volume_meta"`
}

// storedObjects is one entry of the objects list: upstream writes each as a
// map of one object name to its description.
type storedObjects map[string]storedObject

// storedObject describes one chunk: where its data goes in the volume, its
// length before compression, the compression and the md5 of the data before
// compression (upstream's _backup_chunk).
type storedObject struct {
	Compression string `json:"compression"`
	Length      int64  `json:"length"`
	MD5         string `json:"md5"`
	Offset      int64  `json:"offset"`
}

// sha256File is <prefix>_sha256file, upstream's _write_sha256file: the sha256
// of every block of ChunkSize bytes of the volume (the last one shorter).
type sha256File struct {
	BackupDescription *string  `json:"backup_description"`
	BackupID          string   `json:"backup_id"`
	BackupName        *string  `json:"backup_name"`
	ChunkSize         int64    `json:"chunk_size"`
	CreatedAt         string   `json:"created_at"`
	SHA256s           []string `json:"sha256s"`
	Version           string   `json:"version"`
	VolumeID          string   `json:"volume_id"`
}

// chunk is one object of a parsed metadata object.
type chunk struct {
	name        string
	offset      int64
	length      int64
	compression string
	md5         [16]byte
}

// maxBlockSize bounds the sha256 block size a stored sha256file may claim: a
// restore holds one block in memory.
const maxBlockSize = 64 << 20

// parseMetadata reads a metadata object of the backup with prefix, checking
// what a restore relies on: the version, names that are the backup's own
// chunks (so nothing else in the store is read), offsets and lengths that are
// not negative, md5s that are md5s, compressions that are known.
func parseMetadata(data []byte, prefix string) (metadata, []chunk, error) {
	var m metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return metadata{}, nil, fmt.Errorf("%w: metadata: %v", ErrInvalidBackup, err)
	}
	if m.Version != driverVersion {
		return metadata{}, nil, fmt.Errorf("%w: no support to restore backup version %q", ErrInvalidBackup, m.Version)
	}
	chunks := make([]chunk, 0, len(m.Objects))
	seen := make(map[string]bool, len(m.Objects))
	for i, entry := range m.Objects {
		if len(entry) != 1 {
			return metadata{}, nil, fmt.Errorf("%w: metadata: object %d names %d objects", ErrInvalidBackup, i, len(entry))
		}
		for name, o := range entry {
			if !isChunkName(name, prefix) || seen[name] {
				return metadata{}, nil, fmt.Errorf("%w: metadata: object %q is not one of the backup's chunks", ErrInvalidBackup, name)
			}
			seen[name] = true
			if o.Offset < 0 || o.Length <= 0 || o.Offset > 1<<62-o.Length {
				return metadata{}, nil, fmt.Errorf("%w: metadata: object %s: offset %d, length %d", ErrInvalidBackup, name, o.Offset, o.Length)
			}
			if _, err := decompressorFor(o.Compression); err != nil {
				return metadata{}, nil, fmt.Errorf("%w: metadata: object %s: %v", ErrInvalidBackup, name, err)
			}
			c := chunk{name: name, offset: o.Offset, length: o.Length, compression: o.Compression}
			if n, err := hex.Decode(c.md5[:], []byte(o.MD5)); err != nil || n != len(c.md5) || len(o.MD5) != 2*len(c.md5) {
				return metadata{}, nil, fmt.Errorf("%w: metadata: object %s: md5 %q", ErrInvalidBackup, name, o.MD5)
			}
			chunks = append(chunks, c)
		}
	}
	return m, chunks, nil
}

// parseSHA256File reads a sha256file: a block size within bounds and
// sha256s that are sha256s, decoded.
func parseSHA256File(data []byte) (sha256File, [][32]byte, error) {
	var f sha256File
	if err := json.Unmarshal(data, &f); err != nil {
		return sha256File{}, nil, fmt.Errorf("%w: sha256file: %v", ErrInvalidBackup, err)
	}
	if f.Version != driverVersion {
		return sha256File{}, nil, fmt.Errorf("%w: sha256file version %q", ErrInvalidBackup, f.Version)
	}
	if f.ChunkSize <= 0 || f.ChunkSize > maxBlockSize {
		return sha256File{}, nil, fmt.Errorf("%w: sha256file: block size %d", ErrInvalidBackup, f.ChunkSize)
	}
	sums := make([][32]byte, len(f.SHA256s))
	for i, s := range f.SHA256s {
		if n, err := hex.Decode(sums[i][:], []byte(s)); err != nil || n != 32 || len(s) != 64 {
			return sha256File{}, nil, fmt.Errorf("%w: sha256file: block %d: sha256 %q", ErrInvalidBackup, i, s)
		}
	}
	return f, sums, nil
}

// Object names: upstream's _metadata_filename, _sha256_filename and the
// chunks' '%s-%05d'.
func metadataName(prefix string) string   { return prefix + "_metadata" }
func sha256FileName(prefix string) string { return prefix + "_sha256file" }
func chunkName(prefix string, n int) string {
	return fmt.Sprintf("%s-%05d", prefix, n)
}

// isChunkName says name is prefix-NNNNN (five digits or more, from 1).
func isChunkName(name, prefix string) bool {
	digits, ok := strings.CutPrefix(name, prefix+"-")
	if !ok || len(digits) < 5 {
		return false
	}
	n, err := strconv.Atoi(digits)
	return err == nil && n >= 1 && strings.TrimLeft(digits, "0123456789") == ""
}

// isBackupObject says name is one of the objects a backup with prefix stores.
func isBackupObject(name, prefix string) bool {
	return name == metadataName(prefix) || name == sha256FileName(prefix) || isChunkName(name, prefix)
}

// nullable is s, or JSON's null for "" (upstream's None: a backup created
// without a name or description).
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// pythonTime writes t as upstream's str(created_at) of a UTC datetime does:
// 2026-12-07 21:22:18.123456+00:00, the fraction only when there is one.
func pythonTime(t time.Time) string {
	if t.IsZero() {
		return "None"
	}
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02 15:04:05.000000+00:00")
	}
	return t.Format("2006-01-02 15:04:05+00:00")
}
