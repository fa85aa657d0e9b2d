package imageformat

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// vhdx is Microsoft's Hyper-V disk: little-endian structures linked by offsets
// and named by GUIDs. "vhdxfile" starts the file; the region table at 192 KiB
// points to the metadata region, whose table (at most 2047 entries) points to
// the items, among them the virtual disk size (upstream's VHDXInspector).
//
// Safety: the metadata region and the virtual disk size item are found, and
// there is no parent locator (a differencing disk names its parent's file).
type vhdx struct {
	rs regions
	// the metadata table was read: its items are known
	parsed bool
	parent bool
}

const (
	vhdxRegionTableAt  = 192 << 10
	vhdxRegionTableLen = 64 << 10
	vhdxMaxEntries     = 2047
	vhdxMetaTableLen   = 32 * 2048
	vhdxItemMaxLen     = 32 * 2048
	vhdxRegionAlign    = 1 << 20
)

var (
	vhdxMetadataRegion    = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	vhdxVirtualDiskSize   = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	vhdxParentLocator     = guid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
	errVHDXRegionTable    = errors.New("VHDX region table signature not found")
	errVHDXMetadataHeader = errors.New("VHDX metadata region signature not found")
)

// guid is a Microsoft GUID as stored: its first three fields little-endian.
func guid(s string) [16]byte {
	var hex []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			hex = append(hex, s[i])
		}
	}
	var raw [16]byte
	for i := range raw {
		var b byte
		for _, c := range hex[2*i : 2*i+2] {
			switch {
			case c >= '0' && c <= '9':
				b = b<<4 | (c - '0')
			default:
				b = b<<4 | (c - 'A' + 10)
			}
		}
		raw[i] = b
	}
	var out [16]byte
	out[0], out[1], out[2], out[3] = raw[3], raw[2], raw[1], raw[0]
	out[4], out[5] = raw[5], raw[4]
	out[6], out[7] = raw[7], raw[6]
	copy(out[8:], raw[8:])
	return out
}

func newVHDX() *vhdx {
	v := &vhdx{}
	v.rs.add("ident", newRegion(0, 32))
	v.rs.add("header", newRegion(vhdxRegionTableAt, vhdxRegionTableLen))
	return v
}

func (v *vhdx) name() string      { return VHDX }
func (v *vhdx) regions() *regions { return &v.rs }

func (v *vhdx) match() bool {
	return v.rs.complete("ident") && string(v.rs.get("ident").data[:8]) == "vhdxfile"
}

// post follows the chain as its links arrive: region table, metadata table,
// virtual disk size.
func (v *vhdx) post() error {
	if !v.match() {
		if v.rs.complete("ident") {
			v.rs.drop("header") // not a vhdx: nothing more to keep
		}
		return nil
	}
	if v.rs.complete("header") && !v.rs.has("metadata") {
		if err := v.findMetadata(); err != nil {
			return err
		}
	}
	if v.rs.complete("metadata") && !v.parsed {
		return v.readMetadata()
	}
	return nil
}

func (v *vhdx) findMetadata() error {
	t := v.rs.get("header").data
	if binary.LittleEndian.Uint32(t[0:4]) != 0x69676572 { // "regi"
		return errVHDXRegionTable
	}
	count := binary.LittleEndian.Uint32(t[8:12])
	if count > vhdxMaxEntries {
		return fmt.Errorf("VHDX region count is %d (limit %d)", count, vhdxMaxEntries)
	}
	for i := range int(count) {
		e := t[16+32*i : 16+32*(i+1)]
		if [16]byte(e[:16]) == vhdxMetadataRegion {
			// regions are 1 MiB-aligned, after the 1 MiB of headers (so
			// always after the region table: a region never starts in data
			// already gone by, whatever the chunks)
			off := binary.LittleEndian.Uint64(e[16:24])
			if off < vhdxRegionAlign || off%vhdxRegionAlign != 0 || off > 1<<62 {
				return fmt.Errorf("VHDX metadata region offset %d is not valid", off)
			}
			// the table only: one 32-byte header and up to 2047 entries
			v.rs.add("metadata", newRegion(int64(off), vhdxMetaTableLen))
			return nil
		}
	}
	return nil
}

func (v *vhdx) readMetadata() error {
	m := v.rs.get("metadata")
	if string(m.data[:8]) != "metadata" {
		return errVHDXMetadataHeader
	}
	count := binary.LittleEndian.Uint16(m.data[10:12])
	if count > vhdxMaxEntries {
		return fmt.Errorf("VHDX metadata item count is %d (limit %d)", count, vhdxMaxEntries)
	}
	v.parsed = true
	for i := range int(count) {
		e := m.data[32+32*i : 32+32*(i+1)]
		id := [16]byte(e[:16])
		switch id {
		case vhdxParentLocator:
			v.parent = true
		case vhdxVirtualDiskSize:
			// items follow the 64 KiB table
			off := int64(binary.LittleEndian.Uint32(e[16:20]))
			length := min(int(binary.LittleEndian.Uint32(e[20:24])), vhdxItemMaxLen)
			if off < vhdxMetaTableLen || length < 8 {
				return fmt.Errorf("VHDX virtual disk size item at %d, %d bytes, is not valid", off, length)
			}
			if !v.rs.has("vds") {
				v.rs.add("vds", newRegion(m.off+off, 8))
			}
		}
	}
	return nil
}

func (v *vhdx) virtualSize() int64 {
	if !v.rs.complete("vds") {
		return 0
	}
	if size := binary.LittleEndian.Uint64(v.rs.get("vds").data); size < 1<<62 {
		return int64(size)
	}
	return 0
}

func (v *vhdx) checks() []check {
	return []check{
		{name: "metadata", run: func() error {
			if !v.parsed || !v.rs.complete("vds") {
				return violation("VHDX metadata or virtual disk size not found")
			}
			if v.virtualSize() == 0 {
				return violation("VHDX virtual disk size is not valid")
			}
			return nil
		}},
		{name: "parent", run: func() error {
			if v.parent {
				return violation("VHDX differencing disk: it names a parent disk's file")
			}
			return nil
		}},
	}
}
