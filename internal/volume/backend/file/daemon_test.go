package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// TestDaemonCacheMode: the daemon opens the volume with O_DIRECT and Linux AIO
// by default, through the page cache with PageCache, and falls back to the
// page cache when the direct open is refused (a daemon wrapper refuses it
// here, as a file system without O_DIRECT would); data goes through each.
func TestDaemonCacheMode(t *testing.T) {
	needQEMU(t)
	qsd, err := exec.LookPath("qemu-storage-daemon")
	if err != nil {
		t.Skip(err)
	}
	// The wrapper execs the daemon under its own name, as pidOf wants it.
	bin := filepath.Join(t.TempDir(), "qemu-storage-daemon")
	script := fmt.Sprintf("#!/bin/sh\ncase \"$*\" in *'\"direct\":true'*) echo 'Could not open: Invalid argument' >&2; exit 1;; esac\nexec %s \"$@\"\n", qsd)
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		opts       Options
		wantDirect bool
	}{
		{"default", Options{}, true},
		{"page cache", Options{PageCache: true}, false},
		{"direct refused", Options{StorageDaemon: bin}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t, c.opts)
			ctx := context.Background()
			v := backend.Volume{ID: "vol", SizeGB: 1}
			if err := b.Create(ctx, v); err != nil {
				t.Fatal(err)
			}
			info, err := b.Export(ctx, v, backend.Export{AttachmentID: "att"})
			if err != nil {
				t.Fatal(err)
			}
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", b.daemonPID(v.ID)))
			if err != nil {
				t.Fatal(err)
			}
			direct := strings.Contains(string(cmdline), `"aio":"native","cache":{"direct":true}`)
			threads := strings.Contains(string(cmdline), `"aio":"threads"`)
			if direct != c.wantDirect || threads == c.wantDirect {
				t.Errorf("daemon's command line %q: want direct %v", cmdline, c.wantDirect)
			}
			guest := newTLSClient(t, info)
			if out, err := guest.io("write -P 0x3c 1M 64k", "flush", "read -P 0x3c 1M 64k"); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		})
	}
}
