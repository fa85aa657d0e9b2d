package imageformat

import (
	"encoding/binary"
	"fmt"
)

// qcow2 is QEMU's copy-on-write format (docs/interop/qcow2.txt in QEMU). Its
// big-endian header: "QFI\xfb", version (2 or 3), the backing file's offset
// and length, cluster bits, the virtual size at 24, and from version 3 the
// incompatible feature bits at 72.
//
// Safety: no backing file and no external data file (either makes qemu open a
// file the header names: CVE-2024-32498), no incompatible feature upstream
// does not know, version 2 or 3, and a header qemu would accept.
type qcow2 struct{ rs regions }

const (
	qcow2HeaderLen = 512
	// incompatible feature bits: dirty, corrupt, external data file,
	// compression type; upstream refuses any other (extended L2 included)
	qcow2FeatureDataFile = 1 << 2
	qcow2FeaturesKnown   = 1<<4 - 1
	// qemu's limits: clusters of 512 B to 2 MiB, a disk under 2^61 bytes
	qcow2MinClusterBits = 9
	qcow2MaxClusterBits = 21
	qcow2MaxSize        = 1 << 61
)

func newQCOW2() *qcow2 {
	q := &qcow2{}
	q.rs.add("header", newRegion(0, qcow2HeaderLen))
	return q
}

func (q *qcow2) name() string      { return QCOW2 }
func (q *qcow2) regions() *regions { return &q.rs }
func (q *qcow2) post() error       { return nil }

func (q *qcow2) header() []byte {
	if !q.rs.complete("header") {
		return nil
	}
	return q.rs.get("header").data
}

func (q *qcow2) match() bool {
	h := q.header()
	return len(h) >= 32 && string(h[:4]) == "QFI\xfb"
}

func (q *qcow2) virtualSize() int64 {
	if !q.match() {
		return 0
	}
	if v := binary.BigEndian.Uint64(q.header()[24:32]); v < qcow2MaxSize {
		return int64(v)
	}
	return 0
}

func (q *qcow2) checks() []check {
	return []check{
		{name: "backing_file", run: q.checkBackingFile},
		{name: "data_file", run: q.checkDataFile},
		{name: "unknown_features", run: q.checkUnknownFeatures},
		{name: "header", run: q.checkHeader},
	}
}

func (q *qcow2) version() uint32 { return binary.BigEndian.Uint32(q.header()[4:8]) }

func (q *qcow2) checkBackingFile() error {
	if binary.BigEndian.Uint64(q.header()[8:16]) != 0 {
		return violation("Image has a backing file")
	}
	return nil
}

// features are the incompatible feature bits; a version 2 header has none.
func (q *qcow2) features() (uint64, error) {
	h := q.header()
	if q.version() == 2 {
		return 0, nil
	}
	if len(h) < 80 {
		return 0, violation("qcow2 version 3 header is truncated")
	}
	return binary.BigEndian.Uint64(h[72:80]), nil
}

func (q *qcow2) checkDataFile() error {
	f, err := q.features()
	if err != nil {
		return err
	}
	if f&qcow2FeatureDataFile != 0 {
		return violation("Image has data_file set")
	}
	return nil
}

func (q *qcow2) checkUnknownFeatures() error {
	if v := q.version(); v != 2 && v != 3 {
		return violation("Unsupported qcow2 version")
	}
	f, err := q.features()
	if err != nil {
		return err
	}
	if unknown := f &^ qcow2FeaturesKnown; unknown != 0 {
		return violation(fmt.Sprintf("Unknown QCOW2 features found (%#x)", unknown))
	}
	return nil
}

// checkHeader refuses what qemu's qcow2 driver refuses to open, so that the
// size reported is the one qemu will see.
func (q *qcow2) checkHeader() error {
	bits := binary.BigEndian.Uint32(q.header()[20:24])
	if bits < qcow2MinClusterBits || bits > qcow2MaxClusterBits {
		return violation(fmt.Sprintf("Invalid cluster size (2^%d)", bits))
	}
	if binary.BigEndian.Uint64(q.header()[24:32]) >= qcow2MaxSize {
		return violation("Virtual size is too large")
	}
	return nil
}
