package imageformat

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// vhd is Microsoft's Virtual PC disk (qemu's vpc). A dynamic disk starts with a
// copy of its 512-byte big-endian footer ("conectix", the data offset at 16,
// the disk's size at 40, its type at 60, a checksum at 64), which points to a
// dynamic header ("cxsparse"); the footer itself ends the file. As upstream,
// only that layout is recognised: a fixed disk, whose only footer is at the
// end, reads as raw data.
//
// Safety: a dynamic disk (a differencing one names its parent's file), a
// footer whose checksum holds, a dynamic header qemu accepts, and the footer at
// the end the same as its copy in front.
type vhd struct{ rs regions }

const (
	vhdFooterLen       = 512
	vhdDynamicLen      = 1024
	vhdTypeFixed       = 2
	vhdTypeDynamic     = 3
	vhdTypeDiffering   = 4
	vhdMaxDynamicStart = 1 << 40
)

func newVHD() *vhd {
	v := &vhd{}
	v.rs.add("header", newRegion(0, vhdFooterLen))
	v.rs.add("footer", endRegion(vhdFooterLen))
	return v
}

func (v *vhd) name() string      { return VHD }
func (v *vhd) regions() *regions { return &v.rs }

func (v *vhd) header() []byte {
	if !v.rs.complete("header") {
		return nil
	}
	return v.rs.get("header").data
}

// post finds the dynamic header once the footer copy is in.
func (v *vhd) post() error {
	h := v.header()
	if h == nil || v.rs.has("dynamic") || !v.match() {
		return nil
	}
	// a dynamic header beyond any sane place is never captured: the image
	// then stays incomplete and is refused
	if off := binary.BigEndian.Uint64(h[16:24]); off >= vhdFooterLen && off < vhdMaxDynamicStart {
		v.rs.add("dynamic", newRegion(int64(off), vhdDynamicLen))
	}
	return nil
}

func (v *vhd) match() bool { return bytes.HasPrefix(v.header(), []byte("conectix")) }

func (v *vhd) virtualSize() int64 {
	if !v.match() {
		return 0
	}
	if size := binary.BigEndian.Uint64(v.header()[40:48]); size < 1<<62 {
		return int64(size)
	}
	return 0
}

func (v *vhd) checks() []check {
	return []check{
		{name: "footer", run: v.checkFooter},
		{name: "dynamic_header", run: v.checkDynamic},
		{name: "footer_copy", tail: true, run: v.checkFooterCopy},
	}
}

// vhdChecksum is the one's complement of the sum of the footer's bytes, its
// checksum field taken as zero.
func vhdChecksum(footer []byte) uint32 {
	var sum uint32
	for i, b := range footer {
		if i < 64 || i >= 68 {
			sum += uint32(b)
		}
	}
	return ^sum
}

func (v *vhd) checkFooter() error {
	h := v.header()
	if vhdChecksum(h) != binary.BigEndian.Uint32(h[64:68]) {
		return violation("VHD footer checksum is wrong")
	}
	switch t := binary.BigEndian.Uint32(h[60:64]); t {
	case vhdTypeDynamic:
		return nil
	case vhdTypeDiffering:
		return violation("VHD differencing disk: it names a parent disk's file")
	default:
		return violation(fmt.Sprintf("VHD disk type %d does not start with a footer copy", t))
	}
}

func (v *vhd) checkDynamic() error {
	if !v.rs.complete("dynamic") {
		return violation("VHD dynamic header not found")
	}
	d := v.rs.get("dynamic").data
	if string(d[:8]) != "cxsparse" {
		return violation("VHD dynamic header has no cxsparse cookie")
	}
	block := binary.BigEndian.Uint32(d[32:36])
	if block < 512 || block&(block-1) != 0 {
		return violation(fmt.Sprintf("VHD block size %d is not a power of two", block))
	}
	if !allZero(d[40:56]) { // parent's unique id: only differencing disks have one
		return violation("VHD dynamic header names a parent")
	}
	return nil
}

// checkFooterCopy compares the footer that ends the file with its copy in front.
func (v *vhd) checkFooterCopy() error {
	if !bytes.Equal(v.rs.get("footer").data, v.header()) {
		return violation("VHD footer at the end differs from its copy at the start")
	}
	return nil
}
