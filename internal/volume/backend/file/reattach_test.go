package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// TestExportAfterLastUnexport: a volume detached from one host (its daemon
// gone with its last export) is exported again for another on its port, and
// the manager's next Reconcile keeps it.
func TestExportAfterLastUnexport(t *testing.T) {
	ns := fmt.Sprintf("nbdre-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
	b := newBackend(t, Options{Namespace: ns})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	first := backend.Export{VolumeID: v.ID, AttachmentID: "att1"}
	info, err := b.Export(ctx, v, first)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := nsIO(ns, newTLSClient(t, info), "write -P 0x5a 0 4k", "flush"); err != nil {
		t.Fatalf("first host: %v: %s", err, out)
	}
	if err := b.Reconcile(ctx, []backend.Export{first}); err != nil {
		t.Fatal(err)
	}
	if err := b.Unexport(ctx, v, "att1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	second := backend.Export{VolumeID: v.ID, AttachmentID: "att2"}
	info2, err := b.Export(ctx, v, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reconcile(ctx, []backend.Export{second}); err != nil {
		t.Fatal(err)
	}
	if out, err := nsIO(ns, newTLSClient(t, info2), "read -P 0x5a 0 4k"); err != nil {
		t.Fatalf("second host after the first detached: %v: %s (connection %v)", err, out, info2)
	}
}

// nsIO runs qemu-io as the client c in the namespace ns.
func nsIO(ns string, c *tlsClient, cmds ...string) (string, error) {
	args := []string{"netns", "exec", ns, "qemu-io", "--object", c.objectArg(), "--image-opts"}
	for _, cmd := range cmds {
		args = append(args, "-c", cmd)
	}
	out, err := exec.Command("ip", append(args, c.imageOpts(""))...).CombinedOutput()
	return string(out), err
}
