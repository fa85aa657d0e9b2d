package imageformat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// vmdk is VMware's disk. A "hosted sparse extent" starts with a 512-byte
// little-endian header ("KDMV", version, flags, capacity in sectors, grain,
// the embedded descriptor's offset and size in sectors, ..., the grain
// directory's offset at 56), followed by its text descriptor. A descriptor can
// also be a file of its own, whose extent lines name the files holding the
// data: "RW 2048 FLAT "/any/host/file" 0" makes qemu-img read that file
// (OSSA-2023-002, CVE-2022-47951).
//
// Safety, stricter than upstream's (which allows any extent name without a
// "/"): a sparse header with a capacity (so qemu reads the file itself as its
// one extent and never opens the descriptor's), createType monolithicSparse or
// streamOptimized, a descriptor with only lines upstream understands and
// exactly one extent, the embedded SPARSE one, named without a "/"; a text
// descriptor file on its own is always refused: every extent it has is
// another file. A streamOptimized image whose grain directory is at the end
// has a footer, which must agree with the header.
type vmdk struct {
	rs regions
	// sparse is set once a sparse header is read, text for a descriptor
	// file without one
	sparse     bool
	text       bool
	parsed     bool
	desc       string // the descriptor, lower case, up to its first NUL
	createType string
	descErr    string
}

const (
	vmdkDescOffset   = 0x200
	vmdkDescMaxSize  = 1<<20 - 1
	vmdkGDAtEnd      = 0xffffffffffffffff
	vmdkSparseHeader = 64 // what a hosted sparse extent header needs
	vmdkFooterLen    = 1536
	vmdkMarkerEOS    = 0
	vmdkMarkerFooter = 3
	vmdkMaxSectors   = 1 << 53
)

var errNotVMDK = errors.New("VMDK signature KDMV not found")

func newVMDK() *vmdk {
	v := &vmdk{}
	v.rs.add("header", &region{length: 512, min: vmdkSparseHeader})
	// where the descriptor is is known once the header is: until then it may
	// be the whole file
	v.rs.add("descriptor", &region{length: vmdkDescMaxSize, min: 4})
	return v
}

func (v *vmdk) name() string      { return VMDK }
func (v *vmdk) regions() *regions { return &v.rs }

// sparseHeader is the part of a hosted sparse extent header the checks read.
type sparseHeader struct {
	sig                     string
	version                 uint32
	sectors                 uint64
	descSector, descSectors uint64
	gdOffset                uint64
}

func parseSparseHeader(b []byte) sparseHeader {
	return sparseHeader{
		sig:         string(b[0:4]),
		version:     binary.LittleEndian.Uint32(b[4:8]),
		sectors:     binary.LittleEndian.Uint64(b[12:20]),
		descSector:  binary.LittleEndian.Uint64(b[28:36]),
		descSectors: binary.LittleEndian.Uint64(b[36:44]),
		gdOffset:    binary.LittleEndian.Uint64(b[56:64]),
	}
}

func isText(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f || c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
			return false
		}
	}
	return true
}

func (v *vmdk) post() error {
	if v.rs.complete("header") {
		if err := v.readHeader(); err != nil {
			return err
		}
	}
	if v.rs.complete("descriptor") && !v.parsed {
		v.parseDescriptor()
	}
	return nil
}

// readHeader decides, once, between a sparse extent and a descriptor file.
func (v *vmdk) readHeader() error {
	h := v.rs.get("header").data
	if v.sparse || v.text {
		return nil
	}
	hdr := parseSparseHeader(h)
	if hdr.sig != "KDMV" {
		if isText(h) {
			v.text = true
			v.rs.drop("header")
			return nil
		}
		return errNotVMDK
	}
	if hdr.version < 1 || hdr.version > 3 {
		return fmt.Errorf("unsupported VMDK version %d", hdr.version)
	}
	if hdr.descSector != vmdkDescOffset/512 {
		return errors.New("wrong VMDK descriptor location")
	}
	v.sparse = true
	size := vmdkDescMaxSize
	if hdr.descSectors < uint64(vmdkDescMaxSize/512+1) {
		size = min(int(hdr.descSectors)*512, vmdkDescMaxSize)
	}
	v.rs.add("descriptor", newRegion(vmdkDescOffset, size))
	if hdr.gdOffset == vmdkGDAtEnd {
		// the grain directory is in a footer, which takes precedence over
		// the header: keep it to check they agree
		v.rs.add("footer", endRegion(vmdkFooterLen))
	}
	return nil
}

func (v *vmdk) parseDescriptor() {
	v.parsed = true
	data := v.rs.get("descriptor").data
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	for _, c := range data {
		if c >= 0x80 {
			v.descErr = "VMDK descriptor is not ASCII"
			return
		}
	}
	v.desc = strings.ToLower(string(data))
	v.createType = "formatnotfound"
	const key = `createtype="`
	if i := strings.Index(v.desc, key); i >= 0 {
		rest := v.desc[i+len(key):]
		if j := strings.IndexByte(rest, '"'); j >= 0 && j < 64 {
			v.createType = rest[:j]
		}
	}
}

func (v *vmdk) match() bool {
	if v.text {
		return v.parsed && v.descErr == "" && v.createType != "formatnotfound"
	}
	return v.rs.complete("header") && bytes.HasPrefix(v.rs.get("header").data, []byte("KDMV"))
}

func (v *vmdk) allowedType() bool {
	return v.createType == "monolithicsparse" || v.createType == "streamoptimized"
}

func (v *vmdk) virtualSize() int64 {
	if v.text || !v.parsed || !v.allowedType() || !v.rs.complete("header") {
		return 0
	}
	if s := parseSparseHeader(v.rs.get("header").data).sectors; s < vmdkMaxSectors {
		return int64(s) * 512
	}
	return 0
}

func (v *vmdk) checks() []check {
	cs := []check{{name: "descriptor", run: v.checkDescriptor}}
	if v.rs.has("footer") {
		cs = append(cs, check{name: "footer", tail: true, run: v.checkFooter})
	}
	return cs
}

func (v *vmdk) checkDescriptor() error {
	if v.text {
		return violation("VMDK descriptor file without a sparse extent: its extents are other files")
	}
	if v.descErr != "" {
		return violation(v.descErr)
	}
	if !v.parsed || v.desc == "" {
		return violation("No descriptor found")
	}
	if !v.allowedType() {
		return violation(fmt.Sprintf("Unsupported subformat %q", v.createType))
	}
	hdr := parseSparseHeader(v.rs.get("header").data)
	if hdr.sectors == 0 || hdr.sectors >= vmdkMaxSectors {
		// qemu reads the descriptor's extents of a header without capacity
		return violation("VMDK sparse header has no capacity")
	}
	var extents []string
	for _, line := range strings.Split(v.desc, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "ddb"):
		case strings.Contains(line, "=") && !strings.Contains(strings.SplitN(line, "=", 2)[0], " "):
		case isExtentLine(line):
			extents = append(extents, line)
		default:
			return violation("Invalid VMDK descriptor data")
		}
	}
	if len(extents) != 1 {
		return violation(fmt.Sprintf("VMDK descriptor has %d extents; only the embedded one is allowed", len(extents)))
	}
	fields := strings.Fields(extents[0])
	if len(fields) < 4 || fields[2] != "sparse" {
		return violation("VMDK extent is not the embedded sparse one")
	}
	if strings.ContainsAny(extents[0], `/\`) {
		return violation("Invalid extent filenames found")
	}
	return nil
}

func isExtentLine(line string) bool {
	access, _, _ := strings.Cut(line, " ")
	return access == "rw" || access == "rdonly" || access == "noaccess"
}

// checkFooter holds the footer of a streamOptimized image against its header:
// a footer marker, a header copy that agrees, then the end-of-stream marker.
func (v *vmdk) checkFooter() error {
	f := v.rs.get("footer").data
	h := parseSparseHeader(v.rs.get("header").data)
	ft := parseSparseHeader(f[512:1024])
	switch {
	case h.sig != ft.sig:
		return violation("Header and footer signature do not match")
	case h.version != ft.version:
		return violation("Header and footer versions do not match")
	case h.descSector != ft.descSector || h.descSectors != ft.descSectors:
		return violation("Footer specifies a different descriptor than header")
	case ft.gdOffset == vmdkGDAtEnd:
		return violation("Footer indicates another footer")
	}
	marker := func(m []byte) (uint64, uint32, uint32, bool) {
		return binary.LittleEndian.Uint64(m[0:8]), binary.LittleEndian.Uint32(m[8:12]),
			binary.LittleEndian.Uint32(m[12:16]), allZero(m[16:512])
	}
	if _, size, typ, pad := marker(f[0:512]); size != 0 || typ != vmdkMarkerFooter || !pad {
		return violation("Footer marker is invalid")
	}
	if val, size, typ, pad := marker(f[1024:1536]); val != 0 || size != 0 || typ != vmdkMarkerEOS || !pad {
		return violation("End-of-stream marker is invalid")
	}
	return nil
}
