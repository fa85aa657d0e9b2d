package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/nbd"
)

func TestExport(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	other := backend.Volume{ID: "other", SizeGB: 1}
	for _, vol := range []backend.Volume{v, other} {
		if err := b.Create(ctx, vol); err != nil {
			t.Fatal(err)
		}
	}
	att := backend.Export{AttachmentID: "att1", Connector: backend.Connector{Host: "compute1", IP: "127.0.0.1"}}
	info, err := b.Export(ctx, v, att)
	if err != nil {
		t.Fatal(err)
	}
	if info.DriverVolumeType != "nbd" || info.Data["host"] != "127.0.0.1" || info.Data["port"].(int) == 0 ||
		info.Data["export_name"] == "" || len(info.Data["tls_psk_key"].(string)) != 64 || info.Data["tls_psk_identity"] == "" {
		t.Fatalf("connection info %+v", info)
	}
	again, err := b.Export(ctx, v, att)
	if err != nil || fmt.Sprint(again) != fmt.Sprint(info) {
		t.Errorf("exporting twice: %+v, %v; want the same connection", again, err)
	}
	guest := newTLSClient(t, info)
	if out, err := guest.io("write -P 0x5a 0 64k", "flush"); err != nil {
		t.Fatalf("the attachment's host cannot write: %v: %s", err, out)
	}

	otherInfo, err := b.Export(ctx, other, backend.Export{AttachmentID: "att2"})
	if err != nil {
		t.Fatal(err)
	}
	if otherInfo.Data["port"] == info.Data["port"] {
		t.Error("two volumes share an NBD server")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", info.Data["port"])
	refusals := []struct {
		name   string
		client func() error
	}{
		{"no TLS", func() error {
			c, err := nbd.Dial(ctx, "tcp", addr, info.Data["export_name"].(string))
			if err == nil {
				c.Close()
			}
			return err
		}},
		{"wrong key", func() error {
			bad := info
			bad.Data = map[string]any{}
			for k, val := range info.Data {
				bad.Data[k] = val
			}
			bad.Data["tls_psk_key"] = strings.Repeat("ab", 32)
			_, err := newTLSClient(t, bad).io("read 0 512")
			return err
		}},
		{"another volume's attachment", func() error {
			stolen := otherInfo
			stolen.Data = map[string]any{}
			for k, val := range otherInfo.Data {
				stolen.Data[k] = val
			}
			stolen.Data["port"], stolen.Data["export_name"] = info.Data["port"], info.Data["export_name"]
			_, err := newTLSClient(t, stolen).io("read 0 512")
			return err
		}},
	}
	for _, r := range refusals {
		if err := r.client(); err == nil {
			t.Errorf("%s: connected", r.name)
		}
	}

	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 2 {
		t.Fatalf("Exports = %+v, %v; want 2", exports, err)
	}
	for _, e := range exports {
		if e.AttachmentID == "att1" && (e.VolumeID != v.ID || e.Connector != att.Connector) {
			t.Errorf("export %+v, want volume %s connector %+v", e, v.ID, att.Connector)
		}
	}
	if err := b.Delete(ctx, v); !errors.Is(err, backend.ErrInUse) {
		t.Errorf("Delete of an exported volume = %v, want ErrInUse", err)
	}
	s := backend.Snapshot{ID: "snap", VolumeID: v.ID}
	if err := b.CreateSnapshot(ctx, s); err != nil {
		t.Fatalf("snapshot of an exported volume: %v", err)
	}
	if err := b.RevertToSnapshot(ctx, v, s); !errors.Is(err, backend.ErrInUse) {
		t.Errorf("Revert of an exported volume = %v, want ErrInUse", err)
	}
	if out, err := guest.io("write -P 0x77 0 64k", "flush"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// The snapshot the daemon took holds the data before the write.
	if got := readData(t, b, v, s.ID, 0, 64<<10); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 64<<10)) {
		t.Error("the online snapshot's data is not the data at its time")
	}

	// Online extend: the export's clients see the new size.
	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	if size, err := guest.size(); err != nil || size != 2<<30 {
		t.Errorf("size after online extend %d, %v; want 2 GiB", size, err)
	}

	// Open while exported goes through the daemon; the guest sees its writes.
	writeData(t, b, v, 1<<20, bytes.Repeat([]byte{0x33}, 4096))
	if out, err := guest.io("read -P 0x33 1M 4k", "read -P 0x77 0 64k"); err != nil {
		t.Errorf("the guest does not see Open's write: %v: %s", err, out)
	}
	clone := backend.Volume{ID: "clone", SizeGB: 2}
	if err := b.CreateFromVolume(ctx, clone, v); err != nil {
		t.Fatalf("clone of an exported volume: %v", err)
	}
	if got := readData(t, b, clone, "", 0, 4096); !bytes.Equal(got, bytes.Repeat([]byte{0x77}, 4096)) {
		t.Error("the clone of an exported volume lacks its data")
	}

	for _, vol := range []struct {
		v   backend.Volume
		att string
	}{{v, "att1"}, {other, "att2"}} {
		for range 2 { // idempotent
			if err := b.Unexport(ctx, vol.v, vol.att); err != nil {
				t.Fatal(err)
			}
		}
	}
	if exports, err := b.Exports(ctx); err != nil || len(exports) != 0 {
		t.Errorf("Exports after unexport = %+v, %v", exports, err)
	}
	if b.daemonRunning(v.ID) {
		t.Error("the daemon runs on with no export")
	}
	if _, err := guest.io("read 0 512"); err == nil {
		t.Error("an unexported volume is still served")
	}
	if err := b.Delete(ctx, v); err != nil {
		t.Errorf("Delete after unexport: %v", err)
	}
}

// TestReconcileAfterKill restarts the volume service and kills the daemon with
// kill -9 while a guest writes: Reconcile brings the export back on the same port with the same key, the
// guest's NBD client (reconnect-delay) resumes, and what was flushed before the
// kill is on the volume.
func TestReconcileAfterKill(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	want := []backend.Export{{VolumeID: v.ID, AttachmentID: "att1", Connector: backend.Connector{Host: "compute1"}}}
	info, err := b.Export(ctx, v, want[0])
	if err != nil {
		t.Fatal(err)
	}
	guest, err := nbd.Dial(ctx, "unix", newTLSClient(t, info).guest(t), "disk")
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	before := pattern(1, 1<<20)
	if _, err := guest.WriteAt(before, 0); err != nil {
		t.Fatal(err)
	}
	if err := guest.Flush(); err != nil {
		t.Fatal(err)
	}

	// The guest keeps writing while the daemon dies.
	during := pattern(2, 1<<20)
	done := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := guest.WriteAt(during, 1<<20+(i%8)<<20); err != nil {
				done <- err
				return
			}
		}
	}()
	pid := b.daemonPID(v.ID)
	if pid == 0 {
		t.Fatal("no daemon")
	}
	// The volume service restarts too: a new Backend on the pool finds the
	// running daemon and its export, then takes over.
	restarted, err := New(b.opts)
	if err != nil {
		t.Fatal(err)
	}
	if exports, err := restarted.Exports(ctx); err != nil || len(exports) != 1 {
		t.Fatalf("Exports after a service restart = %+v, %v; want the one export", exports, err)
	}
	b = restarted
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && b.daemonRunning(v.ID); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if exports, err := b.Exports(ctx); err != nil || len(exports) != 0 {
		t.Errorf("Exports with the daemon dead = %+v, %v; want none", exports, err)
	}
	if err := b.Reconcile(ctx, want); err != nil {
		t.Fatal(err)
	}
	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 1 || exports[0].AttachmentID != "att1" {
		t.Fatalf("Exports after Reconcile = %+v, %v", exports, err)
	}
	again, err := b.ConnectionInfo(ctx, v.ID, "att1")
	if err != nil || fmt.Sprint(again) != fmt.Sprint(info) {
		t.Errorf("connection after the restart %+v, %v; want the same as before %+v", again, err, info)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the guest's writes did not resume: %v", err)
	}
	// The guest's I/O resumed on the restarted daemon.
	after := pattern(3, 4096)
	if _, err := guest.WriteAt(after, 100<<20); err != nil {
		t.Fatal(err)
	}
	if err := guest.Flush(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(before))
	if _, err := guest.ReadAt(got, 0); err != nil || !bytes.Equal(got, before) {
		t.Errorf("data flushed before the kill: %v, equal %v", err, bytes.Equal(got, before))
	}
	guest.Close()

	// Offline, from the file itself.
	if err := b.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if b.daemonRunning(v.ID) {
		t.Error("Reconcile(nil) left the daemon running")
	}
	if got := readData(t, b, v, "", 0, len(before)); !bytes.Equal(got, before) {
		t.Error("data flushed before the kill is not in the volume")
	}
	if got := readData(t, b, v, "", 100<<20, len(after)); !bytes.Equal(got, after) {
		t.Error("data written after the restart is not in the volume")
	}
}

func TestReconcile(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if err := b.Create(ctx, backend.Volume{ID: id, SizeGB: 1}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		want []backend.Export
	}{
		{"two volumes, three attachments", []backend.Export{
			{VolumeID: "a", AttachmentID: "a1"}, {VolumeID: "a", AttachmentID: "a2", ReadOnly: true}, {VolumeID: "b", AttachmentID: "b1"}}},
		{"the same again", []backend.Export{
			{VolumeID: "a", AttachmentID: "a1"}, {VolumeID: "a", AttachmentID: "a2", ReadOnly: true}, {VolumeID: "b", AttachmentID: "b1"}}},
		{"one attachment gone", []backend.Export{{VolumeID: "a", AttachmentID: "a1"}, {VolumeID: "b", AttachmentID: "b1"}}},
		{"a volume gone", []backend.Export{{VolumeID: "b", AttachmentID: "b1"}}},
		{"nothing", nil},
	}
	for _, step := range steps {
		if err := b.Reconcile(ctx, step.want); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := b.Exports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if key(got) != key(step.want) {
			t.Errorf("%s: exports %s, want %s", step.name, key(got), key(step.want))
		}
		for _, id := range []string{"a", "b"} {
			wanted := strings.Contains(key(step.want), id+"/")
			if b.daemonRunning(id) != wanted {
				t.Errorf("%s: daemon of %s running %v, want %v", step.name, id, !wanted, wanted)
			}
		}
	}
	bad := []backend.Export{{VolumeID: "../x", AttachmentID: "a"}}
	if err := b.Reconcile(ctx, bad); !errors.Is(err, backend.ErrBadID) {
		t.Errorf("Reconcile of a bad id = %v", err)
	}
	if err := b.Reconcile(ctx, []backend.Export{{VolumeID: "missing", AttachmentID: "m"}}); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Reconcile of a missing volume = %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(b.opts.Pool, ".exports")); len(entries) != 0 {
		t.Errorf("state left behind: %v", entries)
	}
}

// key is a sortable text of exports, for comparisons.
func key(exports []backend.Export) string {
	var s []string
	for _, e := range exports {
		s = append(s, fmt.Sprintf("%s/%s/%v", e.VolumeID, e.AttachmentID, e.ReadOnly))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

func TestReconcileRepairs(t *testing.T) {
	b := newBackend(t, Options{PortMin: 20000 + os.Getpid()%20000, PortMax: 20000 + os.Getpid()%20000 + 50})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	info, err := b.Export(ctx, v, backend.Export{AttachmentID: "att"})
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Data["port"].(int); p < b.opts.PortMin || p > b.opts.PortMax {
		t.Errorf("port %d outside %d-%d", p, b.opts.PortMin, b.opts.PortMax)
	}
	guest := newTLSClient(t, info)

	// The manager now wants the attachment read-only: it is served again so.
	if err := b.Reconcile(ctx, []backend.Export{{VolumeID: v.ID, AttachmentID: "att", ReadOnly: true}}); err != nil {
		t.Fatal(err)
	}
	if out, err := guest.io("write 0 4k"); err == nil {
		t.Errorf("a read-only export took a write: %s", out)
	}
	guest.readOnly = true
	if out, err := guest.io("read 0 4k"); err != nil {
		t.Errorf("read-only export: %v: %s", err, out)
	}

	// An Open's private server left by a crashed service (another Backend on
	// the same pool) goes at the next Reconcile.
	crashed, err := New(b.opts)
	if err != nil {
		t.Fatal(err)
	}
	d, err := crashed.Open(ctx, v, "")
	if err != nil {
		t.Fatal(err)
	}
	stale := d.(*openData).dir
	if err := b.Reconcile(ctx, []backend.Export{{VolumeID: v.ID, AttachmentID: "att", ReadOnly: true}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := backend.PathExists(stale); ok {
		t.Error("the stale Open's server is still there")
	}
	if recs, _ := b.loadRecords(v.ID); len(recs) != 1 {
		t.Errorf("records after Reconcile: %+v, want the attachment's only", recs)
	}
	if _, err := d.ReadAt(make([]byte, 512), 0); err == nil {
		t.Error("the stale Open still reads")
	}
}

// TestConcurrentExports exports one volume to several attachments at once, and
// another volume beside it: each attachment gets its own key and every key
// opens its volume.
func TestConcurrentExports(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	volumes := []backend.Volume{{ID: "a", SizeGB: 1}, {ID: "b", SizeGB: 1}}
	for _, v := range volumes {
		if err := b.Create(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	const n = 6
	infos := make([]backend.ConnectionInfo, n)
	errs := conctest.Burst(n, func(i int) error {
		var err error
		infos[i], err = b.Export(ctx, volumes[i%2], backend.Export{AttachmentID: "att" + strconv.Itoa(i)})
		return err
	})
	if ok := conctest.Count(errs); ok != n {
		t.Fatalf("%d of %d exports failed: %v", n-ok, n, errs)
	}
	keys := map[any]bool{}
	for i, info := range infos {
		keys[info.Data["tls_psk_key"]] = true
		if out, err := newTLSClient(t, info).io("read 0 4k"); err != nil {
			t.Errorf("attachment %d: %v: %s", i, err, out)
		}
	}
	if len(keys) != n {
		t.Errorf("%d distinct keys for %d attachments", len(keys), n)
	}
	if exports, err := b.Exports(ctx); err != nil || len(exports) != n {
		t.Errorf("Exports = %d, %v; want %d", len(exports), err, n)
	}
	errs = conctest.Burst(n, func(i int) error { return b.Unexport(ctx, volumes[i%2], "att"+strconv.Itoa(i)) })
	if ok := conctest.Count(errs); ok != n {
		t.Fatalf("%d of %d unexports failed: %v", n-ok, n, errs)
	}
	for _, v := range volumes {
		if b.daemonRunning(v.ID) {
			t.Errorf("daemon of %s still running", v.ID)
		}
	}
}
