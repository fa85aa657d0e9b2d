package file

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// TestExportInNamespace serves exports inside a network namespace (a host
// simulated as one, where the compute driver runs QEMU): a guest there
// reaches the export at its loopback address, nothing in this namespace
// does, and Open's local client works from there too.
func TestExportInNamespace(t *testing.T) {
	needQEMU(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	ns := fmt.Sprintf("nbdtest-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	b := newBackend(t, Options{Namespace: ns})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	info, err := b.Export(ctx, v, backend.Export{AttachmentID: "att1"})
	if err != nil {
		t.Fatal(err)
	}
	guest := newTLSClient(t, info)
	args := []string{"--object", guest.objectArg(), "--image-opts", "-c", "write -P 0x5a 0 64k", "-c", "flush", guest.imageOpts("")}
	if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "qemu-io"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("a guest in the namespace cannot write: %v: %s", err, out)
	}
	if out, err := guest.io("read 0 512"); err == nil {
		t.Fatalf("the export answered outside its namespace: %s", out)
	}
	if got := readData(t, b, v, "", 0, 4096); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 4096)) {
		t.Fatalf("Open of the exported volume read %x..., want the guest's 5a", got[:8])
	}
	if err := b.Unexport(ctx, v, "att1"); err != nil {
		t.Fatal(err)
	}
}
