package image

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func qcow2Header(size uint64) []byte {
	h := make([]byte, 104)
	copy(h, "QFI\xfb")
	binary.BigEndian.PutUint32(h[4:], 3)
	binary.BigEndian.PutUint64(h[24:], size)
	return h
}

func vmdkHeader(sectors uint64) []byte {
	h := make([]byte, 512)
	copy(h, "KDMV")
	binary.LittleEndian.PutUint64(h[12:], sectors)
	return h
}

func TestVirtualSize(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format string
		head   []byte
		size   int64
		want   int64 // -1: unknown (NULL)
	}{
		{"qcow2", "qcow2", qcow2Header(1 << 30), 196608, 1 << 30},
		{"qcow2 wrong magic", "qcow2", append([]byte("QFI\x00"), qcow2Header(1 << 30)[4:]...), 196608, -1},
		{"qcow2 truncated", "qcow2", qcow2Header(1 << 30)[:20], 20, -1},
		{"qcow2 zero size", "qcow2", qcow2Header(0), 104, -1},
		{"random bytes as qcow2", "qcow2", bytes.Repeat([]byte{0xab}, 512), 4096, -1},
		{"raw", "raw", []byte("anything"), 4096, 4096},
		{"iso", "iso", nil, 2048, 2048},
		{"vmdk", "vmdk", vmdkHeader(2048), 65536, 1 << 20},
		{"vmdk descriptor only", "vmdk", []byte("# Disk DescriptorFile"), 100, -1},
		{"vhd not inspected", "vhd", []byte("conectix"), 512, -1},
	} {
		got := virtualSize(tc.format, tc.head, tc.size)
		if tc.want < 0 && got.Valid || tc.want >= 0 && (!got.Valid || got.Int64 != tc.want) {
			t.Errorf("%s: virtualSize = %+v, want %d", tc.name, got, tc.want)
		}
	}
}

func TestHeadSnifferKeepsOnlyTheHead(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	s := &headSniffer{r: bytes.NewReader(data)}
	out, err := io.ReadAll(io.LimitReader(s, int64(len(data))))
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("sniffer changed the stream: %v", err)
	}
	if !bytes.Equal(s.head, data[:headBytes]) {
		t.Fatalf("head = %d bytes", len(s.head))
	}
}

// TestUploadSetsVirtualSize uploads a real qcow2 (made by qemu-img when there is one)
// and a raw image and reads virtual_size back.
func TestUploadSetsVirtualSize(t *testing.T) {
	e := newTestEnv(t, nil)
	img := qcow2Header(3 << 30)
	if _, err := exec.LookPath("qemu-img"); err == nil {
		p := filepath.Join(t.TempDir(), "d.qcow2")
		if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", p, "3G").CombinedOutput(); err != nil {
			t.Fatalf("qemu-img: %v %s", err, out)
		}
		var err error
		if img, err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		format string
		data   []byte
		want   float64
	}{{"qcow2", img, 3 << 30}, {"raw", []byte("raw bytes"), 9}} {
		id := e.Create(e.DemoToken, map[string]any{"name": tc.format, "disk_format": tc.format, "container_format": "bare"})
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", e.DemoToken, tc.data)
		got := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		if got["virtual_size"] != tc.want {
			t.Errorf("%s: virtual_size = %v, want %v", tc.format, got["virtual_size"], tc.want)
		}
	}
}

func withFeatures(h []byte, features uint64) []byte {
	h = append([]byte(nil), h...)
	binary.BigEndian.PutUint64(h[72:], features)
	return h
}

func TestSafetyCheck(t *testing.T) {
	backed := qcow2Header(1 << 30)
	binary.BigEndian.PutUint64(backed[8:], 0x200) // backing file name at offset 512
	binary.BigEndian.PutUint32(backed[16:], 9)
	v2 := qcow2Header(1 << 30)
	binary.BigEndian.PutUint32(v2[4:], 2)
	for _, tc := range []struct {
		name   string
		head   []byte
		refuse bool
	}{
		{"qcow2 v3", qcow2Header(1 << 30), false},
		{"qcow2 dirty and zstd (known features)", withFeatures(qcow2Header(1<<30), 1|1<<3), false},
		{"qcow2 with a backing file", backed, true},
		{"qcow2 with an external data file", withFeatures(qcow2Header(1<<30), 1<<2), true},
		{"qcow2 with extended L2 (unknown to upstream)", withFeatures(qcow2Header(1<<30), 1<<4), true},
		{"qcow2 with a high unknown feature", withFeatures(qcow2Header(1<<30), 1<<63), true},
		{"qcow2 v2: bytes past 72 are not features", withFeatures(v2, 1<<2), false},
		{"truncated qcow2 is not refused", backed[:40], false},
		{"backing offset without the magic", append([]byte("QFI\x00"), backed[4:]...), false},
		{"raw", bytes.Repeat([]byte{0xff}, 512), false},
		{"empty", nil, false},
	} {
		err := safetyCheck(tc.head)
		if (err != nil) != tc.refuse {
			t.Errorf("%s: safetyCheck = %v, refuse %v", tc.name, err, tc.refuse)
		}
	}
}

// TestUnsafeQcow2UploadRefused: upload and import of a qcow2 with a backing file or an
// external data file answer 400, whatever the disk_format says, and leave the image
// queued with no data (upstream since 2024.2). Images made by qemu-img when there is
// one, else crafted headers.
func TestUnsafeQcow2UploadRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	backed := qcow2Header(1 << 30)
	binary.BigEndian.PutUint64(backed[8:], 0x200)
	dataFile := withFeatures(qcow2Header(1<<30), 1<<2)
	if _, err := exec.LookPath("qemu-img"); err == nil {
		dir := t.TempDir()
		run := func(args ...string) []byte {
			if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img %v: %v %s", args, err, out)
			}
			data, err := os.ReadFile(args[len(args)-2])
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
		run("create", "-f", "qcow2", filepath.Join(dir, "base.qcow2"), "1G")
		backed = run("create", "-f", "qcow2", "-b", filepath.Join(dir, "base.qcow2"), "-F", "qcow2", filepath.Join(dir, "overlay.qcow2"), "1G")
		dataFile = run("create", "-f", "qcow2", "-o", "data_file="+filepath.Join(dir, "data.raw"), filepath.Join(dir, "ext.qcow2"), "1G")
	}
	// what follows the header: enough for the upload to span several chunks
	tail := make([]byte, 3*chunkSize)
	for _, tc := range []struct {
		name, format string
		data         []byte
	}{
		{"backing file", "qcow2", backed},
		{"external data file", "qcow2", dataFile},
		{"backing file uploaded as raw", "raw", backed},
	} {
		id := e.Create(e.DemoToken, map[string]any{"name": tc.name, "disk_format": tc.format, "container_format": "bare"})
		status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, append(append([]byte(nil), tc.data...), tail...), nil)
		if status != http.StatusBadRequest || !bytes.Contains(body, []byte("safety check")) {
			t.Errorf("%s: upload answered %d %s, want 400", tc.name, status, body)
		}
		show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		if show["status"] != "queued" || show["size"] != nil || show["checksum"] != nil || show["virtual_size"] != nil {
			t.Errorf("%s: after the refused upload: %v", tc.name, show)
		}
		if fileExists(filepath.Join(e.Dir, "images", id)) {
			t.Errorf("%s: data kept", tc.name)
		}
		// the interoperable import checks the same
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/stage", e.DemoToken, tc.data)
		status, _, body, _ = e.Do("POST", "/v2/images/"+id+"/import", e.DemoToken, map[string]any{"method": map[string]any{"name": "glance-direct"}}, nil)
		if status != http.StatusBadRequest {
			t.Errorf("%s: import answered %d %s, want 400", tc.name, status, body)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(e.Dir, "images"))
	if len(entries) != 0 {
		t.Errorf("data left in the store: %v", entries)
	}
}
