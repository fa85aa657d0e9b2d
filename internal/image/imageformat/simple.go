package imageformat

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// qed is QEMU's enhanced disk format: recognised, never allowed (no one uses
// it, as upstream says, and it may name a backing file).
type qed struct{ rs regions }

func newQED() *qed {
	q := &qed{}
	q.rs.add("header", newRegion(0, 512))
	return q
}

func (q *qed) name() string       { return QED }
func (q *qed) regions() *regions  { return &q.rs }
func (q *qed) post() error        { return nil }
func (q *qed) virtualSize() int64 { return 0 }

func (q *qed) match() bool {
	return q.rs.complete("header") && bytes.HasPrefix(q.rs.get("header").data, []byte("QED\x00"))
}

func (q *qed) checks() []check {
	return []check{{name: "banned", run: func() error { return violation("This file format is not allowed") }}}
}

// vdi is VirtualBox's format: a 512-byte little-endian header with its
// signature at 0x40 and the disk size at 0x170 (qemu's block/vdi.c).
//
// Safety: a header qemu's vdi driver opens (version 1.1, sector-aligned
// offsets, 512-byte sectors, 1 MiB blocks, a disk its blocks can hold), of a
// normal or fixed image: no differencing or undo image, no parent or link.
type vdi struct{ rs regions }

const (
	vdiSignature     = 0xbeda107f
	vdiVersion11     = 0x00010001
	vdiTypeDynamic   = 1
	vdiTypeStatic    = 2
	vdiBlockSize     = 1 << 20
	vdiMaxBlocks     = 0xffffffff / 4
	vdiMinHeaderSize = 0x180
)

func newVDI() *vdi {
	v := &vdi{}
	v.rs.add("header", newRegion(0, 512))
	return v
}

func (v *vdi) name() string      { return VDI }
func (v *vdi) regions() *regions { return &v.rs }
func (v *vdi) post() error       { return nil }

func (v *vdi) header() []byte {
	if !v.rs.complete("header") {
		return nil
	}
	return v.rs.get("header").data
}

func (v *vdi) match() bool {
	h := v.header()
	return len(h) == 512 && binary.LittleEndian.Uint32(h[0x40:]) == vdiSignature
}

func (v *vdi) virtualSize() int64 {
	if !v.match() {
		return 0
	}
	if size := binary.LittleEndian.Uint64(v.header()[0x170:]); size <= vdiMaxBlocks*vdiBlockSize {
		return int64(size)
	}
	return 0
}

func (v *vdi) checks() []check { return []check{{name: "header", run: v.checkHeader}} }

func (v *vdi) checkHeader() error {
	h := v.header()
	le32 := func(off int) uint32 { return binary.LittleEndian.Uint32(h[off:]) }
	switch {
	case le32(0x44) != vdiVersion11:
		return violation(fmt.Sprintf("Unsupported VDI version %#x", le32(0x44)))
	case le32(0x48) < vdiMinHeaderSize:
		return violation("VDI header is too small")
	case le32(0x4c) != vdiTypeDynamic && le32(0x4c) != vdiTypeStatic:
		return violation(fmt.Sprintf("VDI image type %d is not allowed (only normal and fixed images)", le32(0x4c)))
	case le32(0x154)%512 != 0 || le32(0x158)%512 != 0:
		return violation("VDI offsets are not sector-aligned")
	case le32(0x168) != 512:
		return violation("VDI sector size is not 512")
	case le32(0x178) != vdiBlockSize:
		return violation("VDI block size is not 1 MiB")
	case le32(0x180) > vdiMaxBlocks:
		return violation("VDI has too many blocks")
	case binary.LittleEndian.Uint64(h[0x170:]) > uint64(le32(0x180))*vdiBlockSize:
		return violation("VDI disk size exceeds its blocks")
	case !allZero(h[0x1a8:0x1c8]):
		return violation("VDI image has a link or parent")
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// iso is ISO 9660 (and UDF, which keeps its layout): 16 sectors of 2 KiB for
// the system, then the volume descriptors. The primary volume descriptor gives
// the volume's size in blocks and the block size.
//
// Safety: none of its own upstream (an ISO names no other file); Nimbus also
// refuses a primary volume descriptor whose both-endian fields disagree, or
// whose block size is not a power of two from 512 to 2048 (a size that would
// overflow or lie).
type iso struct{ rs regions }

func newISO() *iso {
	i := &iso{}
	i.rs.add("system_area", newRegion(0, 32<<10))
	i.rs.add("header", newRegion(32<<10, 2<<10))
	return i
}

func (i *iso) name() string      { return ISO }
func (i *iso) regions() *regions { return &i.rs }
func (i *iso) post() error       { return nil }

func (i *iso) match() bool {
	if !i.rs.complete("system_area") || !i.rs.complete("header") {
		return false
	}
	sig := string(i.rs.get("header").data[1:6])
	return sig == "CD001" || sig == "NSR02" || sig == "NSR03"
}

// primary returns the volume's block count and block size from a primary
// volume descriptor (type 1), with whether the header is one.
func (i *iso) primary() (blocks, blockSize uint64, ok bool) {
	h := i.rs.get("header").data
	if h[0] != 1 {
		return 0, 0, false
	}
	return uint64(binary.LittleEndian.Uint32(h[80:84])), uint64(binary.LittleEndian.Uint16(h[128:130])), true
}

func (i *iso) virtualSize() int64 {
	if !i.match() {
		return 0
	}
	blocks, size, ok := i.primary()
	if !ok || size == 0 || size > 2048 {
		return 0
	}
	return int64(blocks * size)
}

func (i *iso) checks() []check { return []check{{name: "descriptor", run: i.checkDescriptor}} }

func (i *iso) checkDescriptor() error {
	blocks, size, ok := i.primary()
	if !ok {
		return nil
	}
	h := i.rs.get("header").data
	if uint64(binary.BigEndian.Uint32(h[84:88])) != blocks || uint64(binary.BigEndian.Uint16(h[130:132])) != size {
		return violation("ISO primary volume descriptor's both-endian fields disagree")
	}
	if size < 512 || size > 2048 || size&(size-1) != 0 {
		return violation(fmt.Sprintf("ISO logical block size %d is not allowed", size))
	}
	return nil
}

// gpt is a disk with a partition table: a protective MBR in front of a GPT, or
// a legacy MBR (GPT is a superset, and one inspector tells both). A FAT boot
// sector has the same signature and is not one.
//
// Safety (upstream's "mbr" check): valid boot flags, some partition, and a GPT
// protective entry only as the single partition, starting at LBA 1.
type gpt struct{ rs regions }

func newGPT() *gpt {
	g := &gpt{}
	g.rs.add("mbr", newRegion(0, 512))
	return g
}

func (g *gpt) name() string       { return GPT }
func (g *gpt) regions() *regions  { return &g.rs }
func (g *gpt) post() error        { return nil }
func (g *gpt) virtualSize() int64 { return 0 }

func (g *gpt) match() bool {
	if !g.rs.complete("mbr") {
		return false
	}
	m := g.rs.get("mbr").data
	// a FAT volume boot record: two FATs, fixed-disk media
	fat := m[0x10] == 2 && m[0x15] == 0xf8
	return binary.LittleEndian.Uint16(m[510:512]) == 0xaa55 && !fat
}

func (g *gpt) checks() []check { return []check{{name: "mbr", run: g.checkPartitions}} }

func (g *gpt) checkPartitions() error {
	m := g.rs.get("mbr").data
	var valid []int
	foundGPT := false
	for i := range 4 {
		pte := m[446+16*i : 446+16*(i+1)]
		boot, ostype := pte[0], pte[4]
		if boot != 0x00 && boot != 0x80 {
			return violation(fmt.Sprintf("MBR PTE %d has invalid boot flag", i))
		}
		if ostype != 0 {
			valid = append(valid, i)
		}
		if ostype == 0xee {
			foundGPT = true
			if pte[1] != 0x00 || pte[2] != 0x02 || pte[3] != 0x00 {
				return violation("GPT MBR has invalid start CHS")
			}
			if binary.LittleEndian.Uint32(pte[8:12]) != 1 {
				return violation("GPT MBR has invalid start LBA")
			}
		}
	}
	if foundGPT && (len(valid) != 1 || valid[0] != 0) {
		return violation("GPT MBR defines invalid extra partitions")
	}
	if len(valid) == 0 {
		return violation("GPT MBR has no partitions defined")
	}
	return nil
}

// luks is a LUKS encrypted volume: recognised so that it is never taken for
// raw; version 1 only, as upstream (Nimbus takes no passphrase, so it does not
// look inside).
type luks struct{ rs regions }

func newLUKS() *luks {
	l := &luks{}
	l.rs.add("header", newRegion(0, 592))
	return l
}

func (l *luks) name() string       { return LUKS }
func (l *luks) regions() *regions  { return &l.rs }
func (l *luks) post() error        { return nil }
func (l *luks) virtualSize() int64 { return 0 }

func (l *luks) match() bool {
	return l.rs.complete("header") && bytes.HasPrefix(l.rs.get("header").data, []byte("LUKS\xba\xbe"))
}

func (l *luks) checks() []check {
	return []check{{name: "version", run: func() error {
		if v := binary.BigEndian.Uint16(l.rs.get("header").data[6:8]); v != 1 {
			return violation(fmt.Sprintf("LUKS version %d is not supported", v))
		}
		return nil
	}}}
}
