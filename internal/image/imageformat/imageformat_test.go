package imageformat

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/image/imageformat/imageformattest"
)

// detect runs a Detector over data in chunks of size chunk (0: at once).
func detect(data []byte, chunk int) *Detector {
	d := NewDetector()
	if chunk <= 0 {
		chunk = len(data) + 1
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		_, _ = d.Write(data[:n])
		data = data[n:]
	}
	d.Finish()
	return d
}

// qemuVirtualSize is what qemu-img info says of a file of qemu's format fmt.
func qemuVirtualSize(t *testing.T, path, format string) int64 {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", "-f", format, path).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatal(err)
	}
	return info.VirtualSize
}

// TestRealImages: images qemu-img makes in every format the cloud accepts are
// recognised as their format, with qemu's virtual size, however the stream is
// cut, and both Glance's and Nova's rules accept them as what they are.
func TestRealImages(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	rawPath := filepath.Join(dir, "disk.raw")
	rawData := bytes.Repeat([]byte("nimbus raw disk "), 1<<16) // 1 MiB
	if err := os.WriteFile(rawPath, rawData, 0o600); err != nil {
		t.Fatal(err)
	}
	isoPath := filepath.Join(dir, "disk.iso")
	if _, err := exec.LookPath("genisoimage"); err == nil {
		if out, err := exec.Command("genisoimage", "-quiet", "-o", isoPath, "-V", "cidata", rawPath).CombinedOutput(); err != nil {
			t.Fatalf("genisoimage: %v %s", err, out)
		}
	}
	for _, tc := range []struct {
		name, disk, qemu string
		path             string
	}{
		{"raw", "raw", "raw", rawPath},
		{"qcow2 v3", "qcow2", "qcow2", imageformattest.Convert(t, rawPath, dir, "v3.qcow2", "qcow2")},
		{"qcow2 v2", "qcow2", "qcow2", imageformattest.Convert(t, rawPath, dir, "v2.qcow2", "qcow2", "compat=0.10")},
		{"qcow2 compressed zstd, lazy refcounts", "qcow2", "qcow2",
			imageformattest.Create(t, dir, "zstd.qcow2", "qcow2", "64M", "compression_type=zstd", "lazy_refcounts=on")},
		{"vmdk monolithicSparse", "vmdk", "vmdk", imageformattest.Convert(t, rawPath, dir, "sparse.vmdk", "vmdk")},
		{"vmdk streamOptimized", "vmdk", "vmdk",
			imageformattest.Convert(t, rawPath, dir, "stream.vmdk", "vmdk", "subformat=streamOptimized")},
		{"vdi dynamic", "vdi", "vdi", imageformattest.Convert(t, rawPath, dir, "dynamic.vdi", "vdi")},
		{"vdi static", "vdi", "vdi", imageformattest.Create(t, dir, "static.vdi", "vdi", "2M", "static=on")},
		{"vhd dynamic", "vhd", "vpc", imageformattest.Convert(t, rawPath, dir, "dynamic.vhd", "vpc")},
		{"vhdx", "vhdx", "vhdx", imageformattest.Convert(t, rawPath, dir, "disk.vhdx", "vhdx")},
		{"iso", "iso", "raw", isoPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil {
				t.Skip("no image: ", err)
			}
			data := imageformattest.Read(t, tc.path)
			want := qemuVirtualSize(t, tc.path, tc.qemu)
			format := tc.disk
			if tc.disk == "iso" {
				// qemu reads an ISO as raw: its size is the file's, the
				// volume descriptor's is the volume's
				want = int64(len(data))
			}
			for _, chunk := range []int{0, 4096, 65536, 1 << 20, 511} {
				d := detect(data, chunk)
				if got := d.Formats(); !slices.Equal(got, []string{format}) {
					t.Fatalf("chunks of %d: formats %v, want %s", chunk, got, format)
				}
				v, err := Upload(tc.disk, d)
				if err != nil {
					t.Fatalf("chunks of %d: Upload(%s): %v", chunk, tc.disk, err)
				}
				if v.VirtualSize != want {
					t.Errorf("chunks of %d: virtual size %d, qemu says %d", chunk, v.VirtualSize, want)
				}
				q, err := Boot(tc.disk, d)
				if err != nil || q != tc.qemu {
					t.Fatalf("chunks of %d: Boot(%s) = %q, %v; want %s", chunk, tc.disk, q, err, tc.qemu)
				}
			}
		})
	}
}

// refusal is what a verdict should be: accepted, a *FormatError or a *SafetyError
// naming a check.
type refusal struct {
	format bool   // a FormatError
	check  string // a SafetyError with this failed check
}

func (w refusal) test(t *testing.T, what string, err error) {
	t.Helper()
	var fe *FormatError
	var se *SafetyError
	switch {
	case w.format:
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a format error", what, err)
		}
	case w.check != "":
		if !errors.As(err, &se) || se.Failures[w.check] == "" {
			t.Errorf("%s: %v, want the %s check to fail", what, err, w.check)
		}
	case err != nil:
		t.Errorf("%s: %v, want it accepted", what, err)
	}
}

var (
	accepted   = refusal{}
	mismatch   = refusal{format: true}
	failsCheck = func(name string) refusal { return refusal{check: name} }
)

// TestHostileImages: what makes qemu open a file of the host, or lies in its
// headers, is refused by both rules whatever the disk_format says; content that
// is not its disk_format is refused as upstream's rules say.
func TestHostileImages(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, bytes.Repeat([]byte("host secret "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	rawPath := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(rawPath, bytes.Repeat([]byte{0x5a}, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	sparseVMDK := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "sparse.vmdk", "vmdk"))
	cleanQCOW2 := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "clean.qcow2", "qcow2"))
	vhdData := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "d.vhd", "vpc"))
	vdiData := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "d.vdi", "vdi"))
	vhdxData := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "d.vhdx", "vhdx"))
	qedData := imageformattest.Read(t, imageformattest.Create(t, dir, "d.qed", "qed", "1M"))
	fixedVHD := imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, "fixed.vhd", "vpc", "subformat=fixed"))
	// a LUKS1 header as cryptsetup writes it (qemu-img's luks format spends
	// seconds of CPU benchmarking its key derivation)
	luksData := make([]byte, 1<<20)
	copy(luksData, "LUKS\xba\xbe\x00\x01aes\x00")
	copy(luksData[40:], "xts-plain64")
	copy(luksData[72:], "sha256")

	for _, tc := range []struct {
		name         string
		data         []byte
		disk         string
		upload, boot refusal
	}{
		{"vmdk monolithicFlat descriptor naming a host file", imageformattest.FlatVMDK(secret, 2048), "vmdk",
			failsCheck("descriptor"), failsCheck("descriptor")},
		{"the same declared raw", imageformattest.FlatVMDK(secret, 2048), "raw",
			failsCheck("descriptor"), failsCheck("descriptor")},
		{"vmdk descriptor file naming a relative file", imageformattest.FlatVMDK("other-image", 2048), "vmdk",
			failsCheck("descriptor"), failsCheck("descriptor")},
		{"vmdk descriptor file claiming monolithicSparse", bytes.Replace(imageformattest.FlatVMDK("x", 2048),
			[]byte("monolithicFlat"), []byte("monolithicSparse"), 1), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk whose descriptor adds a flat extent", vmdkWithDescriptor(t, sparseVMDK, func(d string) string {
			return strings.Replace(d, "# The Disk Data Base", `RW 2048 FLAT "secret" 0`+"\n# The Disk Data Base", 1)
		}), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk whose extent is flat", vmdkWithDescriptor(t, sparseVMDK, func(d string) string {
			return strings.Replace(d, "SPARSE", "FLAT", 1)
		}), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk with an extent path", vmdkWithDescriptor(t, sparseVMDK, func(d string) string {
			return strings.Replace(d, `SPARSE "`, `SPARSE "/etc/`, 1)
		}), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk claiming monolithicFlat", vmdkWithDescriptor(t, sparseVMDK, func(d string) string {
			return strings.Replace(d, "monolithicSparse", "monolithicFlat", 1)
		}), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk with an unknown descriptor line", vmdkWithDescriptor(t, sparseVMDK, func(d string) string {
			return d + "include /etc/passwd\n"
		}), "vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"sparse vmdk without capacity (qemu then opens its descriptor's extents)", patch(sparseVMDK, 12, make([]byte, 8)),
			"vmdk", failsCheck("descriptor"), failsCheck("descriptor")},
		{"streamOptimized vmdk with a footer that disagrees", streamWithFooter(t, sparseVMDK, true), "vmdk",
			failsCheck("footer"), failsCheck("footer")},
		{"streamOptimized vmdk with a good footer", streamWithFooter(t, sparseVMDK, false), "vmdk", accepted, accepted},

		{"qcow2 with a backing file", imageformattest.BackedQCOW2(t, dir, secret), "qcow2",
			failsCheck("backing_file"), failsCheck("backing_file")},
		{"qcow2 with a backing file declared raw", imageformattest.BackedQCOW2(t, dir, secret), "raw",
			failsCheck("backing_file"), failsCheck("backing_file")},
		{"qcow2 with a data file", imageformattest.DataFileQCOW2(t, dir, filepath.Join(dir, "data")), "qcow2",
			failsCheck("data_file"), failsCheck("data_file")},
		{"qcow2 with extended L2 (unknown to upstream)", imageformattest.Read(t, imageformattest.Create(t, dir, "l2.qcow2", "qcow2", "1M", "extended_l2=on")),
			"qcow2", failsCheck("unknown_features"), failsCheck("unknown_features")},
		{"qcow2 with a high unknown feature bit", patch(cleanQCOW2, 72, []byte{0x80}), "qcow2",
			failsCheck("unknown_features"), failsCheck("unknown_features")},
		{"qcow2 version 4", patch(cleanQCOW2, 4, []byte{0, 0, 0, 4}), "qcow2",
			failsCheck("unknown_features"), failsCheck("unknown_features")},
		{"qcow2 with absurd cluster bits", patch(cleanQCOW2, 20, []byte{0, 0, 0, 63}), "qcow2",
			failsCheck("header"), failsCheck("header")},
		// Glance stores a safe qcow2 declared raw (it will be read as raw);
		// Nova refuses to boot it
		{"clean qcow2 declared raw", cleanQCOW2, "raw", accepted, mismatch},
		{"raw declared qcow2", bytes.Repeat([]byte{1}, 4096), "qcow2", mismatch, mismatch},
		{"qcow2 declared vmdk", cleanQCOW2, "vmdk", mismatch, mismatch},
		{"qcow2 declared ami", cleanQCOW2, "ami", mismatch, accepted},
		{"raw declared ami", bytes.Repeat([]byte{1}, 4096), "ami", accepted, accepted},
		{"raw declared ploop", bytes.Repeat([]byte{1}, 4096), "ploop", accepted, mismatch},
		{"qcow2 header hiding an MBR signature", patch(cleanQCOW2, 510, []byte{0x55, 0xaa}), "qcow2", mismatch, mismatch},

		{"vhd differencing disk", vhdFooter(vhdData, func(f []byte) { binary.BigEndian.PutUint32(f[60:], 4) }), "vhd",
			failsCheck("footer"), failsCheck("footer")},
		{"vhd with a bad footer checksum", patch(vhdData, 64, []byte{1, 2, 3, 4}), "vhd",
			failsCheck("footer"), failsCheck("footer")},
		{"vhd whose footer at the end differs", patch(vhdData, len(vhdData)-512+40, []byte{0xff}), "vhd",
			failsCheck("footer_copy"), failsCheck("footer_copy")},
		// a fixed VHD has its footer only at the end: as upstream, it is raw
		{"fixed vhd", fixedVHD, "vhd", mismatch, mismatch},
		{"fixed vhd declared raw", fixedVHD, "raw", accepted, accepted},

		{"vdi with a parent", patch(vdiData, 0x1b8, []byte{1}), "vdi", failsCheck("header"), failsCheck("header")},
		{"vdi differencing image", patch(vdiData, 0x4c, []byte{4}), "vdi", failsCheck("header"), failsCheck("header")},
		{"vdi bigger than its blocks", patch(vdiData, 0x176, []byte{0x10}), "vdi", failsCheck("header"), failsCheck("header")},
		{"vhdx differencing disk", vhdxWithParent(t, vhdxData), "vhdx", failsCheck("parent"), failsCheck("parent")},
		{"vhdx without region table", patch(vhdxData, 192<<10, []byte("nope")), "vhdx", mismatch, mismatch},
		{"qed", qedData, "raw", failsCheck("banned"), failsCheck("banned")},
		{"mbr with a bad boot flag", mbr(0x7f, 0x83), "raw", failsCheck("mbr"), failsCheck("mbr")},
		{"mbr with no partition", mbr(0x80, 0), "raw", failsCheck("mbr"), failsCheck("mbr")},
		{"whole disk with a partition table declared raw", mbr(0x80, 0x83), "raw", accepted, accepted},
		{"empty upload declared qcow2", nil, "qcow2", mismatch, mismatch},
		// an encrypted volume is never taken for raw data: Glance stores it
		// declared raw (LUKS v1 is safe), Nova will not boot it as raw
		{"luks declared raw", luksData, "raw", accepted, mismatch},
		{"luks version 2", patch(luksData, 6, []byte{0, 2}), "raw", failsCheck("version"), failsCheck("version")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{0, 4096, 333} {
				d := detect(tc.data, chunk)
				_, err := Upload(tc.disk, d)
				tc.upload.test(t, "Upload", err)
				_, err = Boot(tc.disk, d)
				tc.boot.test(t, "Boot", err)
			}
		})
	}
}

// patch returns a copy of data with b written at off.
func patch(data []byte, off int, b []byte) []byte {
	out := bytes.Clone(data)
	copy(out[off:], b)
	return out
}

// vmdkWithDescriptor rewrites a sparse vmdk's embedded descriptor.
func vmdkWithDescriptor(t *testing.T, data []byte, edit func(string) string) []byte {
	t.Helper()
	size := int(binary.LittleEndian.Uint64(data[36:44])) * 512
	desc := data[512 : 512+size]
	text := string(desc[:bytes.IndexByte(desc, 0)])
	edited := edit(text)
	if len(edited) > size {
		t.Fatalf("descriptor of %d bytes does not fit %d", len(edited), size)
	}
	out := bytes.Clone(data)
	copy(out[512:512+size], make([]byte, size))
	copy(out[512:], edited)
	return out
}

// streamWithFooter makes a sparse vmdk's grain directory "at the end", with a
// footer after the data: a correct one, or one naming another descriptor.
func streamWithFooter(t *testing.T, data []byte, lie bool) []byte {
	t.Helper()
	out := bytes.Clone(data)
	header := bytes.Clone(data[:512])
	binary.LittleEndian.PutUint64(out[56:], vmdkGDAtEnd)
	if lie {
		binary.LittleEndian.PutUint64(header[36:], 99)
	}
	marker := make([]byte, 512)
	binary.LittleEndian.PutUint32(marker[12:], vmdkMarkerFooter)
	out = append(out, marker...)
	out = append(out, header...)
	return append(out, make([]byte, 512)...) // end-of-stream marker
}

// vhdFooter edits a dynamic vhd's footer (both copies), with a right checksum.
func vhdFooter(data []byte, edit func([]byte)) []byte {
	out := bytes.Clone(data)
	for _, off := range []int{0, len(out) - 512} {
		f := out[off : off+512]
		edit(f)
		binary.BigEndian.PutUint32(f[64:], vhdChecksum(f))
	}
	return out
}

// vhdxWithParent turns the first metadata item that is not the virtual disk
// size into a parent locator.
func vhdxWithParent(t *testing.T, data []byte) []byte {
	t.Helper()
	out := bytes.Clone(data)
	table := out[192<<10:]
	for i := range int(binary.LittleEndian.Uint32(table[8:12])) {
		e := table[16+32*i:]
		if [16]byte(e[:16]) == vhdxMetadataRegion {
			meta := out[binary.LittleEndian.Uint64(e[16:24]):]
			for j := range int(binary.LittleEndian.Uint16(meta[10:12])) {
				item := meta[32+32*j:]
				if [16]byte(item[:16]) != vhdxVirtualDiskSize {
					copy(item, vhdxParentLocator[:])
					return out
				}
			}
		}
	}
	t.Fatal("no metadata item to turn into a parent locator")
	return nil
}

// mbr is a 1 MiB disk with one MBR partition entry.
func mbr(boot, ostype byte) []byte {
	disk := make([]byte, 1<<20)
	pte := disk[446:]
	pte[0], pte[4] = boot, ostype
	binary.LittleEndian.PutUint32(pte[8:], 2048)
	binary.LittleEndian.PutUint32(pte[12:], 100)
	disk[510], disk[511] = 0x55, 0xaa
	return disk
}

// TestUploadRefusedEarly: an unsafe header is refused as soon as the formats are
// known, before the rest of the stream, and data that may still be accepted is
// not refused early.
func TestUploadRefusedEarly(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "base"), make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	backed := imageformattest.BackedQCOW2(t, dir, filepath.Join(dir, "base"))
	d := NewDetector()
	_, _ = d.Write(backed)
	_, _ = d.Write(make([]byte, 2<<20)) // past every head region but a text vmdk's
	if err := UploadRefused("qcow2", d); err == nil {
		t.Fatal("a qcow2 with a backing file is not refused early")
	}
	good := NewDetector()
	_, _ = good.Write(imageformattest.Read(t, imageformattest.Create(t, dir, "good.qcow2", "qcow2", "1M")))
	_, _ = good.Write(make([]byte, 2<<20))
	if err := UploadRefused("qcow2", good); err != nil {
		t.Fatalf("a clean qcow2 refused early: %v", err)
	}
	short := NewDetector()
	_, _ = short.Write(backed[:100])
	if short.Decided() || UploadRefused("qcow2", short) != nil {
		t.Fatal("decided on 100 bytes")
	}
}

// TestISOWithPartitionTable: a bootable ISO with an MBR in front (isohybrid) is an
// ISO, as upstream's callers decide.
func TestISOWithPartitionTable(t *testing.T) {
	disk := make([]byte, 64<<10)
	copy(disk, mbr(0x80, 0x17)[:512])
	pvd := disk[32<<10:]
	pvd[0] = 1
	copy(pvd[1:], "CD001")
	pvd[6] = 1
	binary.LittleEndian.PutUint32(pvd[80:], 32)
	binary.BigEndian.PutUint32(pvd[84:], 32)
	binary.LittleEndian.PutUint16(pvd[128:], 2048)
	binary.BigEndian.PutUint16(pvd[130:], 2048)
	d := detect(disk, 0)
	if f, err := d.Format(); f != ISO || err != nil {
		t.Fatalf("format %q, %v (matches %v)", f, err, d.Formats())
	}
	if v, err := Upload("iso", d); err != nil || v.VirtualSize != 64<<10 {
		t.Fatalf("Upload: %+v, %v", v, err)
	}
}
