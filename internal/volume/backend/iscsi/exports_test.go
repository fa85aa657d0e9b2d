package iscsi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// exportFor creates a 1 GiB volume and exports it for an attachment from
// initiator; it returns the connection's data.
func exportFor(t *testing.T, b *Backend, v backend.Volume, attachmentID, initiator string, readOnly bool) map[string]any {
	t.Helper()
	ctx := context.Background()
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	info, err := b.Export(ctx, v, backend.Export{AttachmentID: attachmentID, ReadOnly: readOnly,
		Connector: backend.Connector{Host: "compute-1", IP: "127.0.0.1", Initiator: initiator}})
	if err != nil {
		t.Fatal(err)
	}
	if info.DriverVolumeType != "iscsi" {
		t.Fatalf("driver_volume_type %q", info.DriverVolumeType)
	}
	return info.Data
}

func connect(t *testing.T, d map[string]any, user, password, initiator string, cmds ...string) (string, error) {
	t.Helper()
	return qemuIO(t, d["target_portal"].(string), d["target_iqn"].(string), user, password, initiator, cmds...)
}

// TestISCSIExportAccess: the attachment's initiator with its CHAP credentials
// reads and writes; a wrong password, another initiator name, or the
// credentials of the volume's other attachment do not get in; a read-only
// attachment cannot write; after Unexport the credentials open nothing.
func TestISCSIExportAccess(t *testing.T) {
	needTools(t, "qemu-io")
	b := newBackend(t, Options{})
	ctx := context.Background()
	const initiator = "iqn.2010-10.org.openstack.nimbus:compute-1"
	v := backend.Volume{ID: "9c1e0000-0000-4000-8000-000000000001", SizeGB: 1}
	d := exportFor(t, b, v, "9c1e0000-0000-4000-8000-0000000000a1", initiator, false)
	for _, k := range []string{"target_portal", "target_iqn", "target_lun", "auth_method", "auth_username", "auth_password", "target_discovered", "volume_id"} {
		if _, ok := d[k]; !ok {
			t.Errorf("connection_info data lacks %s: %v", k, d)
		}
	}
	if d["target_iqn"] != "iqn.2010-10.org.openstack:volume-"+v.ID+":9c1e0000-0000-4000-8000-0000000000a1" || d["auth_method"] != "CHAP" {
		t.Fatalf("connection_info data %v", d)
	}
	user, password := d["auth_username"].(string), d["auth_password"].(string)
	if out, err := connect(t, d, user, password, initiator, "write -P 0x5a 0 64k", "read -P 0x5a 0 64k"); err != nil || strings.Contains(out, "failed") {
		t.Fatalf("the attachment's own login: %v %s", err, out)
	}
	if out, err := connect(t, d, user, password+"x", initiator, "read 0 4k"); err == nil {
		t.Fatalf("a wrong CHAP password got in: %s", out)
	}
	if out, err := connect(t, d, user, password, "iqn.2010-10.org.openstack.nimbus:compute-2", "read 0 4k"); err == nil {
		t.Fatalf("another initiator got in: %s", out)
	}

	// A second, read-only attachment of the same volume: its own target and
	// credentials; the first one's do not open it.
	ro, err := b.Export(ctx, v, backend.Export{AttachmentID: "9c1e0000-0000-4000-8000-0000000000a2", ReadOnly: true,
		Connector: backend.Connector{Host: "compute-1", Initiator: initiator}})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := connect(t, ro.Data, user, password, initiator, "read 0 4k"); err == nil {
		t.Fatalf("one attachment's credentials opened another's target: %s", out)
	}
	roUser, roPassword := ro.Data["auth_username"].(string), ro.Data["auth_password"].(string)
	if out, err := connect(t, ro.Data, roUser, roPassword, initiator, "-r", "read -P 0x5a 0 64k"); err != nil || strings.Contains(out, "failed") {
		t.Fatalf("read-only attachment reads: %v %s", err, out)
	}
	if out, err := connect(t, ro.Data, roUser, roPassword, initiator, "write -P 0x11 0 4k"); err == nil || !strings.Contains(out, "write protected") {
		t.Fatalf("a read-only attachment opened for writing: %v %s", err, out)
	}

	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 2 {
		t.Fatalf("exports %+v %v", exports, err)
	}
	for _, e := range exports {
		if e.VolumeID != v.ID || e.Connector.Initiator != initiator || e.ReadOnly != (e.AttachmentID == "9c1e0000-0000-4000-8000-0000000000a2") {
			t.Fatalf("export %+v", e)
		}
	}
	if err := b.Unexport(ctx, v, "9c1e0000-0000-4000-8000-0000000000a1"); err != nil {
		t.Fatal(err)
	}
	if out, err := connect(t, d, user, password, initiator, "read 0 4k"); err == nil {
		t.Fatalf("an unexported attachment's credentials still open the volume: %s", out)
	}
	if err := b.Unexport(ctx, v, "9c1e0000-0000-4000-8000-0000000000a2"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, v); err != nil {
		t.Fatal(err)
	}
}

// TestISCSIReconcileAfterKill: tgtd killed with -9 forgets its targets;
// Reconcile starts it again on the same portal, with the same credentials,
// so the stored connection_info works again, and drops the exports nobody
// wants.
func TestISCSIReconcileAfterKill(t *testing.T) {
	needTools(t, "qemu-io")
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "9c1e0000-0000-4000-8000-000000000002", SizeGB: 1}
	d := exportFor(t, b, v, "9c1e0000-0000-4000-8000-0000000000b1", "", false)
	w := backend.Volume{ID: "9c1e0000-0000-4000-8000-000000000003", SizeGB: 1}
	exportFor(t, b, w, "9c1e0000-0000-4000-8000-0000000000b2", "", false)
	user, password := d["auth_username"].(string), d["auth_password"].(string)
	if out, err := connect(t, d, user, password, "", "write -P 0x77 0 4k"); err != nil {
		t.Fatalf("write: %v %s", err, out)
	}
	pid := b.daemonPID()
	killDaemon(b)
	if b.daemonPID() != 0 || pid == 0 {
		t.Fatalf("tgtd %d still runs", pid)
	}
	if exports, err := b.Exports(ctx); err != nil || len(exports) != 0 {
		t.Fatalf("exports of a dead tgtd %+v %v", exports, err)
	}
	want := []backend.Export{{VolumeID: v.ID, AttachmentID: "9c1e0000-0000-4000-8000-0000000000b1", Connector: backend.Connector{Host: "compute-1", IP: "127.0.0.1"}}}
	if err := b.Reconcile(ctx, want); err != nil {
		t.Fatal(err)
	}
	if b.daemonPID() == 0 || b.daemonPID() == pid {
		t.Fatal("Reconcile did not start a new tgtd")
	}
	if out, err := connect(t, d, user, password, "", "read -P 0x77 0 4k"); err != nil || strings.Contains(out, "failed") {
		t.Fatalf("the stored connection after the restart: %v %s", err, out)
	}
	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 1 || exports[0].AttachmentID != want[0].AttachmentID {
		t.Fatalf("exports after Reconcile %+v %v", exports, err)
	}
	// Twice changes nothing.
	if err := b.Reconcile(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := b.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if exports, _ := b.Exports(ctx); len(exports) != 0 {
		t.Fatalf("exports after Reconcile(nil) %+v", exports)
	}
}

// TestISCSIExtendExported: an exported volume grows, and a new login sees the
// new size.
func TestISCSIExtendExported(t *testing.T) {
	needTools(t, "qemu-io")
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "9c1e0000-0000-4000-8000-000000000004", SizeGB: 1}
	d := exportFor(t, b, v, "9c1e0000-0000-4000-8000-0000000000c1", "", false)
	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	out, err := connect(t, d, d["auth_username"].(string), d["auth_password"].(string), "", "length")
	if err != nil || !strings.Contains(out, "2 GiB") {
		t.Fatalf("length after extend: %v %s", err, out)
	}
	if err := b.Unexport(ctx, v, "9c1e0000-0000-4000-8000-0000000000c1"); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{{Pool: "relative"}, {Pool: "/tmp/x", Host: "0.0.0.0"}, {Pool: "/tmp/x", Host: "name"}, {Pool: "/tmp/x", ControlPort: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestISCSIClientResumesAfterKill: a client logged in when tgtd is killed
// with -9 waits, and its next write completes once Reconcile has brought
// the target back (libiscsi logs in again with the same credentials).
func TestISCSIClientResumesAfterKill(t *testing.T) {
	needTools(t, "qemu-io")
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "9c1e0000-0000-4000-8000-000000000005", SizeGB: 1}
	d := exportFor(t, b, v, "9c1e0000-0000-4000-8000-0000000000d1", "", false)
	want := []backend.Export{{VolumeID: v.ID, AttachmentID: "9c1e0000-0000-4000-8000-0000000000d1"}}
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := connect(t, d, d["auth_username"].(string), d["auth_password"].(string), "",
			"write -P 0x11 0 4k", "sleep 2000", "write -P 0x22 4096 4k", "read -P 0x22 4096 4k")
		done <- result{out, err}
	}()
	// Killed while the client sleeps between its writes (whenever it is
	// killed, the second write comes after the Reconcile below or waits for it).
	time.Sleep(time.Second)
	killDaemon(b)
	time.Sleep(time.Second)
	if err := b.Reconcile(ctx, want); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || strings.Contains(r.out, "failed") || strings.Count(r.out, "wrote 4096/4096") != 2 {
		t.Fatalf("the client across the kill: %v\n%s", r.err, r.out)
	}
	if err := b.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
