package imageformat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// maxRetained bounds what an inspector keeps, whatever it is fed: the largest
// region is a vmdk descriptor of 1 MiB.
const maxRetained = 2 << 20

func retained(in inspector) int {
	n := 0
	for _, r := range in.regions().byName {
		n += cap(r.data)
	}
	return n
}

// outcome is everything an inspector tells of a stream.
type outcome struct {
	err         string
	match       bool
	size        int64
	early, full string
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// inspect feeds stream to a new inspector in chunks of chunk bytes (with the
// bound on memory checked after each), and reads every answer it has.
func inspect(t *testing.T, newIn func() inspector, stream []byte, chunk int) outcome {
	t.Helper()
	in := newIn()
	var out outcome
	for pos := 0; pos < len(stream); pos += chunk {
		if err := feed(in, stream[pos:min(pos+chunk, len(stream))], int64(pos)); err != nil {
			out.err = err.Error()
			return out
		}
		if n := retained(in); n > maxRetained {
			t.Fatalf("%s keeps %d bytes", in.name(), n)
		}
	}
	if err := finish(in); err != nil {
		out.err = err.Error()
		return out
	}
	out.match, out.size = in.match(), in.virtualSize()
	out.early, out.full = errString(safety(in, false)), errString(safety(in, true))
	if out.size < 0 {
		t.Fatalf("%s: negative virtual size %d", in.name(), out.size)
	}
	return out
}

// fuzzInspector checks an inspector on one stream: no panic, bounded memory,
// and the same answers whether the stream comes whole or in small pieces.
func fuzzInspector(t *testing.T, newIn func() inspector, stream []byte, chunk uint16) {
	c := max(int(chunk)%4096+1, len(stream)/16) // a few pieces, so each run is quick
	whole := inspect(t, newIn, stream, len(stream)+1)
	cut := inspect(t, newIn, stream, c)
	if whole != cut {
		t.Fatalf("answers depend on the chunks (%d bytes):\nwhole %+v\ncut   %+v", c, whole, cut)
	}
}

// at places parts of a stream at offsets, zeros between them.
func at(parts ...any) []byte {
	var out []byte
	for i := 0; i+1 < len(parts); i += 2 {
		off, data := parts[i].(int), parts[i+1].([]byte)
		if len(out) < off {
			out = append(out, make([]byte, off-len(out))...)
		}
		out = append(out[:off], data...)
	}
	return out
}

func qcow2Seed(version uint32, backing uint64, features uint64) []byte {
	h := make([]byte, 512)
	copy(h, "QFI\xfb")
	binary.BigEndian.PutUint32(h[4:], version)
	binary.BigEndian.PutUint64(h[8:], backing)
	binary.BigEndian.PutUint32(h[20:], 16)
	binary.BigEndian.PutUint64(h[24:], 1<<30)
	binary.BigEndian.PutUint64(h[72:], features)
	return h
}

func FuzzQCOW2(f *testing.F) {
	f.Add(qcow2Seed(3, 0, 0), uint16(7))
	f.Add(qcow2Seed(2, 0x200, 0), uint16(100))
	f.Add(qcow2Seed(3, 0, 1<<2), uint16(511))
	f.Add(qcow2Seed(3, 0, 1<<40)[:80], uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newQCOW2() }, data, chunk)
	})
}

func vmdkSeed(desc string, gdAtEnd bool) []byte {
	h := make([]byte, 512)
	copy(h, "KDMV")
	binary.LittleEndian.PutUint32(h[4:], 1)
	binary.LittleEndian.PutUint64(h[12:], 2048)
	binary.LittleEndian.PutUint64(h[28:], 1)
	binary.LittleEndian.PutUint64(h[36:], 1)
	if gdAtEnd {
		binary.LittleEndian.PutUint64(h[56:], vmdkGDAtEnd)
	}
	d := make([]byte, 512)
	copy(d, desc)
	out := append(h, d...)
	if gdAtEnd {
		marker := make([]byte, 512)
		binary.LittleEndian.PutUint32(marker[12:], vmdkMarkerFooter)
		footer := bytes.Clone(h)
		binary.LittleEndian.PutUint64(footer[56:], 3)
		out = append(append(append(out, marker...), footer...), make([]byte, 512)...)
	}
	return out
}

func FuzzVMDK(f *testing.F) {
	sparse := "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\nRW 2048 SPARSE \"a.vmdk\"\nddb.adapterType = \"ide\"\n"
	f.Add(vmdkSeed(sparse, false), uint16(9))
	f.Add(vmdkSeed(strings.Replace(sparse, "monolithicSparse", "streamOptimized", 1), true), uint16(300))
	f.Add([]byte("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n"), uint16(3))
	f.Add(vmdkSeed(sparse+"RW 10 FLAT \"x\" 0\n", false), uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newVMDK() }, data, chunk)
	})
}

func vhdSeed(diskType uint32) []byte {
	footer := make([]byte, 512)
	copy(footer, "conectix")
	binary.BigEndian.PutUint64(footer[16:], 512)
	binary.BigEndian.PutUint64(footer[40:], 1<<20)
	binary.BigEndian.PutUint32(footer[60:], diskType)
	binary.BigEndian.PutUint32(footer[64:], vhdChecksum(footer))
	dyn := make([]byte, 1024)
	copy(dyn, "cxsparse")
	binary.BigEndian.PutUint32(dyn[32:], 2<<20)
	return append(append(bytes.Clone(footer), dyn...), footer...)
}

func FuzzVHD(f *testing.F) {
	f.Add(vhdSeed(3), uint16(5))
	f.Add(vhdSeed(4), uint16(512))
	f.Add(vhdSeed(2)[:700], uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newVHD() }, data, chunk)
	})
}

// FuzzVHDX fuzzes the region table, the metadata table and where it is: the
// fuzzer's inputs are laid out where a vhdx has them, zeros between.
func FuzzVHDX(f *testing.F) {
	table := make([]byte, 48)
	copy(table, "regi")
	binary.LittleEndian.PutUint32(table[8:], 1)
	copy(table[16:], vhdxMetadataRegion[:])
	binary.LittleEndian.PutUint64(table[32:], 1<<20)
	meta := make([]byte, 64)
	copy(meta, "metadata")
	binary.LittleEndian.PutUint16(meta[10:], 1)
	copy(meta[32:], vhdxVirtualDiskSize[:])
	binary.LittleEndian.PutUint32(meta[48:], 64<<10)
	binary.LittleEndian.PutUint32(meta[52:], 8)
	f.Add(table, meta, uint16(0), uint16(4096))
	f.Add(table[:20], meta[:40], uint16(1), uint16(100))
	f.Fuzz(func(t *testing.T, table, meta []byte, metaMiB, chunk uint16) {
		if len(table) > 64<<10 || len(meta) > 64<<10 {
			return
		}
		metaAt := 1<<20 + int(metaMiB%4)<<20
		vds := make([]byte, 8)
		binary.LittleEndian.PutUint64(vds, 1<<30)
		stream := at(0, []byte("vhdxfile"), 192<<10, table, metaAt, meta, metaAt+64<<10, vds)
		fuzzInspector(t, func() inspector { return newVHDX() }, stream, chunk|0x0fff)
	})
}

func FuzzVDI(f *testing.F) {
	h := make([]byte, 512)
	binary.LittleEndian.PutUint32(h[0x40:], vdiSignature)
	binary.LittleEndian.PutUint32(h[0x44:], vdiVersion11)
	binary.LittleEndian.PutUint32(h[0x48:], 0x190)
	binary.LittleEndian.PutUint32(h[0x4c:], 1)
	binary.LittleEndian.PutUint32(h[0x168:], 512)
	binary.LittleEndian.PutUint64(h[0x170:], 1<<20)
	binary.LittleEndian.PutUint32(h[0x178:], 1<<20)
	binary.LittleEndian.PutUint32(h[0x180:], 1)
	f.Add(h, uint16(3))
	f.Add(patch(h, 0x1b8, []byte{1}), uint16(512))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newVDI() }, data, chunk)
	})
}

// FuzzISO fuzzes the volume descriptor at 32 KiB.
func FuzzISO(f *testing.F) {
	pvd := make([]byte, 2048)
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	binary.LittleEndian.PutUint32(pvd[80:], 100)
	binary.BigEndian.PutUint32(pvd[84:], 100)
	binary.LittleEndian.PutUint16(pvd[128:], 2048)
	binary.BigEndian.PutUint16(pvd[130:], 2048)
	f.Add(pvd, uint16(4095))
	f.Add(append([]byte{2}, pvd[1:]...), uint16(17))
	f.Fuzz(func(t *testing.T, descriptor []byte, chunk uint16) {
		if len(descriptor) > 64<<10 {
			return
		}
		fuzzInspector(t, func() inspector { return newISO() }, at(32<<10, descriptor), chunk)
	})
}

func FuzzGPT(f *testing.F) {
	f.Add(mbr(0x80, 0x83)[:512], uint16(1))
	f.Add(mbr(0x00, 0xee)[:600], uint16(64))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newGPT() }, data, chunk)
	})
}

func FuzzLUKS(f *testing.F) {
	h := make([]byte, 592)
	copy(h, "LUKS\xba\xbe\x00\x01")
	f.Add(h, uint16(10))
	f.Add(patch(h, 7, []byte{2}), uint16(600))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newLUKS() }, data, chunk)
	})
}

func FuzzQED(f *testing.F) {
	f.Add(append([]byte("QED\x00"), make([]byte, 508)...), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		fuzzInspector(t, func() inspector { return newQED() }, data, chunk)
	})
}

// FuzzDetector runs every inspector at once and both rules: no panic, and the
// same verdicts whether the stream comes whole or in pieces.
func FuzzDetector(f *testing.F) {
	f.Add(qcow2Seed(3, 0, 0), uint16(7), "qcow2")
	f.Add(vmdkSeed("createType=\"monolithicSparse\"\nRW 8 SPARSE \"a\"\n", false), uint16(100), "raw")
	f.Add(vhdSeed(3), uint16(9), "vhd")
	f.Add(mbr(0x80, 0x83)[:1024], uint16(512), "iso")
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, disk string) {
		verdicts := func(d *Detector) string {
			formats, ferr := d.Format()
			up, uerr := Upload(disk, d)
			boot, berr := Boot(disk, d)
			return fmt.Sprint(d.Formats(), formats, ferr, up, uerr, boot, berr)
		}
		whole, cut := detect(data, 0), detect(data, max(int(chunk)%4096+1, len(data)/16))
		if a, b := verdicts(whole), verdicts(cut); a != b {
			t.Fatalf("verdicts depend on the chunks:\nwhole %s\ncut   %s", a, b)
		}
		early := NewDetector()
		_, _ = early.Write(data)
		_ = UploadRefused(disk, early)
	})
}
