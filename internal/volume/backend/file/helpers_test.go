package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// needQEMU skips a test when the QEMU tools the backend drives are absent.
func needQEMU(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"qemu-img", "qemu-storage-daemon", "qemu-nbd", "qemu-io"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (apt-get install qemu-utils qemu-system-common)", bin)
		}
	}
}

// newBackend makes a backend on a pool in a temp dir; every daemon it (or the
// test) started under the pool is killed by its pid at the end.
func newBackend(t testing.TB, opts Options) *Backend {
	t.Helper()
	needQEMU(t)
	if opts.Pool == "" {
		opts.Pool = t.TempDir()
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killUnder(opts.Pool) })
	return b
}

// killUnder kills every process whose pid file is under dir and whose command
// line names that pid file.
func killUnder(dir string) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pid") {
			return nil
		}
		for _, bin := range []string{"qemu-storage-daemon", "qemu-nbd"} {
			if pid := pidOf(path, bin); pid != 0 {
				syscall.Kill(pid, syscall.SIGKILL)
				for i := 0; i < 100 && pidOf(path, bin) != 0; i++ {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		return nil
	})
}

// pattern is size bytes that differ with seed and position.
func pattern(seed byte, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = seed ^ byte(i*7) ^ byte(i>>9)
	}
	return p
}

// writeData writes p at off through Open.
func writeData(t *testing.T, b *Backend, v backend.Volume, off int64, p []byte) {
	t.Helper()
	d, err := b.Open(context.Background(), v, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(p, off); err != nil {
		d.Close()
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// readData reads n bytes at off of the volume (or its snapshot) through Open.
func readData(t *testing.T, b *Backend, v backend.Volume, snapshotID string, off int64, n int) []byte {
	t.Helper()
	d, err := b.Open(context.Background(), v, snapshotID)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := make([]byte, n)
	if _, err := d.ReadAt(p, off); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsClient is a guest's view of an export: QEMU's own NBD client (qemu-io)
// with the attachment's TLS-PSK identity and key, as the compute host gets
// them in connection_info.
type tlsClient struct {
	info     backend.ConnectionInfo
	dir      string // the client's keys.psk
	readOnly bool   // open the export read-only (qemu-io -r)
}

func newTLSClient(t *testing.T, info backend.ConnectionInfo) *tlsClient {
	t.Helper()
	dir := t.TempDir()
	key := fmt.Sprintf("%s:%s\n", info.Data["tls_psk_identity"], info.Data["tls_psk_key"])
	if err := os.WriteFile(filepath.Join(dir, "keys.psk"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tlsClient{info: info, dir: dir}
}

// objectArg and imageOpts are the QEMU options of the client's TLS creds and
// of the NBD node (with extra options appended).
func (c *tlsClient) objectArg() string {
	return fmt.Sprintf("tls-creds-psk,id=tls0,endpoint=client,dir=%s,username=%s", c.dir, c.info.Data["tls_psk_identity"])
}

func (c *tlsClient) imageOpts(extra string) string {
	return fmt.Sprintf("driver=nbd,host=%s,port=%d,export=%s,tls-creds=tls0%s",
		c.info.Data["host"], c.info.Data["port"], c.info.Data["export_name"], extra)
}

// io runs qemu-io commands on the export ("write -P 0x5a 0 64k", "read -P ...").
func (c *tlsClient) io(cmds ...string) (string, error) {
	args := []string{"--object", c.objectArg(), "--image-opts"}
	if c.readOnly {
		args = append(args, "-r")
	}
	for _, cmd := range cmds {
		args = append(args, "-c", cmd)
	}
	args = append(args, c.imageOpts(""))
	out, err := exec.Command("qemu-io", args...).CombinedOutput()
	if err == nil && (bytes.Contains(out, []byte("Pattern verification failed")) || bytes.Contains(out, []byte("failed:"))) {
		err = fmt.Errorf("qemu-io: %s", out)
	}
	return string(out), err
}

// size is the export's size as QEMU's NBD client sees it.
func (c *tlsClient) size() (int64, error) {
	out, err := exec.Command("qemu-img", "info", "--output=json", "--object", c.objectArg(), "--image-opts", c.imageOpts("")).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("qemu-img info: %v: %s", err, out)
	}
	_, rest, ok := strings.Cut(string(out), `"virtual-size": `)
	if !ok {
		return 0, fmt.Errorf("qemu-img info: %s", out)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.SplitN(rest, ",", 2)[0]), 10, 64)
	return n, nil
}

// guest starts what an attached guest's disk is: a qemu-storage-daemon whose
// node is QEMU's NBD client of the export with reconnect-delay (compute's
// blockdev-add), served again on a unix socket the test reads and writes with
// the Go client. It is killed by pid at the end.
func (c *tlsClient) guest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sock, pid := filepath.Join(dir, "g.sock"), filepath.Join(dir, "g.pid")
	args := []string{"--daemonize", "--pidfile", pid,
		"--object", c.objectArg(),
		"--blockdev", fmt.Sprintf("node-name=disk0,driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s,tls-creds=tls0,reconnect-delay=60",
			c.info.Data["host"], c.info.Data["port"], c.info.Data["export_name"]),
		"--nbd-server", "addr.type=unix,addr.path=" + sock,
		"--export", "nbd,id=e0,node-name=disk0,name=disk,writable=on",
	}
	if out, err := exec.Command("qemu-storage-daemon", args...).CombinedOutput(); err != nil {
		t.Fatalf("guest: %v: %s", err, out)
	}
	t.Cleanup(func() { killUnder(dir) })
	return sock
}
