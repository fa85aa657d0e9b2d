package image

import (
	"database/sql"
	"encoding/binary"
	"io"
)

// headBytes is how much of an upload the format inspection looks at: every header
// it reads sits in the first sector.
const headBytes = 512

// headSniffer keeps the first bytes of a stream as it passes, so the image format can
// be inspected without buffering or reading the data twice.
type headSniffer struct {
	r    io.Reader
	head []byte
}

func (s *headSniffer) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if room := headBytes - len(s.head); room > 0 && n > 0 {
		s.head = append(s.head, p[:min(n, room)]...)
	}
	return n, err
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
