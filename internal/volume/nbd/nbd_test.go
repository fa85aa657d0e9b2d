package nbd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve exports a fresh qcow2 image of size bytes with qemu-nbd on a unix
// socket in a temp dir and returns the socket; the server is killed by its pid
// at the end of the test.
func serve(t *testing.T, size int64, extra ...string) string {
	t.Helper()
	for _, bin := range []string{"qemu-img", "qemu-nbd"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed", bin)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", img, strconv.FormatInt(size, 10)).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img create: %v: %s", err, out)
	}
	sock, pidFile := filepath.Join(dir, "nbd.sock"), filepath.Join(dir, "nbd.pid")
	args := append([]string{"--fork", "--persistent", "--shared=4", "--pid-file", pidFile, "-k", sock, "-f", "qcow2", "-x", "disk"}, extra...)
	if out, err := exec.Command("qemu-nbd", append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu-nbd: %v: %s", err, out)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		// Gone, or a zombie its parent (not us: qemu-nbd forked) has yet to reap.
		for i := 0; i < 100 && processAlive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	})
	return sock
}

func TestReadWriteFlush(t *testing.T) {
	const size = 16 << 20
	sock := serve(t, size)
	ctx := context.Background()
	c, err := Dial(ctx, "unix", sock, "disk")
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != size || c.ReadOnly() {
		t.Fatalf("size %d read-only %v, want %d writable", c.Size(), c.ReadOnly(), size)
	}
	// A pattern larger than one request, across the split, and a small one at the end.
	big := bytes.Repeat([]byte("nimbus-volume-"), (maxRequest+12345)/14)
	tests := []struct {
		name string
		off  int64
		data []byte
	}{
		{"start", 0, []byte("hello")},
		{"split across requests", 4096, big},
		{"last bytes", size - 3, []byte("end")},
	}
	for _, tt := range tests {
		if _, err := c.WriteAt(tt.data, tt.off); err != nil {
			t.Fatalf("%s: write: %v", tt.name, err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteAt([]byte("xx"), size-1); err == nil {
		t.Error("a write past the end succeeded")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A second connection sees what the first flushed.
	c, err = Dial(ctx, "unix", sock, "disk")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range tests {
		got := make([]byte, len(tt.data))
		if _, err := c.ReadAt(got, tt.off); err != nil {
			t.Fatalf("%s: read: %v", tt.name, err)
		}
		if !bytes.Equal(got, tt.data) {
			t.Errorf("%s: read back differs", tt.name)
		}
	}
	if n, err := c.ReadAt(make([]byte, 10), size-4); n != 4 || err == nil {
		t.Errorf("read over the end: %d bytes, %v; want 4 and EOF", n, err)
	}
}

func TestHandshakeErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown export", func(t *testing.T) {
		sock := serve(t, 1<<20)
		_, err := Dial(ctx, "unix", sock, "nope")
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want the server's refusal", err)
		}
	})
	t.Run("read-only export", func(t *testing.T) {
		sock := serve(t, 1<<20, "--read-only")
		c, err := Dial(ctx, "unix", sock, "disk")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WriteAt([]byte("x"), 0); !errors.Is(err, ErrReadOnly) {
			t.Errorf("write = %v, want ErrReadOnly", err)
		}
	})
	t.Run("TLS required", func(t *testing.T) {
		pskDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(pskDir, "keys.psk"), []byte("a:00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		sock := serve(t, 1<<20, "--object", "tls-creds-psk,id=tls0,endpoint=server,dir="+pskDir, "--tls-creds", "tls0")
		if _, err := Dial(ctx, "unix", sock, "disk"); !errors.Is(err, ErrTLSRequired) {
			t.Errorf("err = %v, want ErrTLSRequired", err)
		}
	})
}

// processAlive reports whether pid runs (a zombie's cmdline is empty).
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && len(data) > 0
}
