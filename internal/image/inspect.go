package image

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
)

// headBytes is how much of an upload the format inspection looks at: every header
// it reads sits in the first sector.
const headBytes = 512

// headSniffer keeps the first bytes of a stream as it passes, so the image format can
// be inspected without buffering or reading the data twice. Once it holds the whole
// header (or the stream ends) it runs the safety check, and fails the read when the
// image is unsafe, so a refused upload stops at its first megabyte.
type headSniffer struct {
	r       io.Reader
	head    []byte
	checked bool
}

func (s *headSniffer) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if room := headBytes - len(s.head); room > 0 && n > 0 {
		s.head = append(s.head, p[:min(n, room)]...)
	}
	if !s.checked && (len(s.head) == headBytes || err == io.EOF) {
		s.checked = true
		if uerr := safetyCheck(s.head); uerr != nil {
			return n, uerr
		}
	}
	return n, err
}

// unsafeImageError says why an image is refused.
type unsafeImageError struct{ reason string }

func (e *unsafeImageError) Error() string { return e.reason }

// qcow2 incompatible feature bits (docs/interop/qcow2.txt in QEMU): dirty, corrupt,
// external data file, compression type. Upstream's inspector knows these four and
// refuses any other bit, as an unknown feature may change how the file is read.
const (
	qcow2FeatureDataFile = 1 << 2
	qcow2FeaturesKnown   = 1<<4 - 1
)

// safetyCheck refuses what upstream Glance's format inspector (oslo.utils'
// QcowInspector safety checks, on upload and import since 2024.2) refuses: a qcow2
// image with a backing file or an external data file (either makes whoever opens the
// image, qemu-img or a hypervisor, read a file of the host: CVE-2024-32498), or with
// incompatible features it does not know. It looks at the content whatever the
// disk_format says, as a qcow2 uploaded as "raw" is the same danger. A header too short
// or without the qcow2 magic is not refused: virtualSize then leaves the size unknown.
func safetyCheck(head []byte) error {
	if len(head) < 72 || string(head[:4]) != "QFI\xfb" {
		return nil
	}
	if binary.BigEndian.Uint64(head[8:16]) != 0 {
		return &unsafeImageError{"qcow2 image has a backing file"}
	}
	// The feature fields exist from version 3 on; in version 2 the header ends at 72.
	if binary.BigEndian.Uint32(head[4:8]) >= 3 && len(head) >= 80 {
		features := binary.BigEndian.Uint64(head[72:80])
		if features&qcow2FeatureDataFile != 0 {
			return &unsafeImageError{"qcow2 image has an external data file"}
		}
		if unknown := features &^ qcow2FeaturesKnown; unknown != 0 {
			return &unsafeImageError{fmt.Sprintf("qcow2 image has unknown incompatible features (%#x)", unknown)}
		}
	}
	return nil
}

// virtualSize is the size of the disk an image holds, as upstream Glance's format
// inspector reports it: from the header for qcow2 and vmdk, the data size for raw
// and iso. A header that does not parse (wrong magic, truncated) leaves it unknown
// (NULL), as upstream does when it cannot inspect; it never fails the upload.
func virtualSize(diskFormat string, head []byte, size int64) sql.NullInt64 {
	switch diskFormat {
	case "raw", "iso":
		return sql.NullInt64{Int64: size, Valid: true}
	case "qcow2":
		// "QFI\xfb", version, backing file offset and size, cluster bits, then the
		// virtual size as a big-endian uint64 at offset 24.
		if len(head) >= 32 && string(head[:4]) == "QFI\xfb" {
			if v := binary.BigEndian.Uint64(head[24:32]); v > 0 && v < 1<<62 {
				return sql.NullInt64{Int64: int64(v), Valid: true}
			}
		}
	case "vmdk":
		// A sparse extent: "KDMV", version, flags, then the capacity in 512-byte
		// sectors as a little-endian uint64 at offset 12.
		if len(head) >= 20 && string(head[:4]) == "KDMV" {
			if v := binary.LittleEndian.Uint64(head[12:20]); v > 0 && v < 1<<53 {
				return sql.NullInt64{Int64: int64(v) * 512, Valid: true}
			}
		}
	}
	return sql.NullInt64{}
}
