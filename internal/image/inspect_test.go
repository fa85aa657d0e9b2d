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
