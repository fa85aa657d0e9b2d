package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/nbd"
)

// Open gives the volume's data (or, read-only, its snapshot's) through an NBD
// export on a private unix socket:
//   - a volume nobody exports: qemu-nbd opens its file;
//   - a snapshot: qemu-nbd opens the snapshot read-only (-l), sharing the file
//     with a daemon that may hold it (force-share: a snapshot's clusters do not
//     change while it exists);
//   - an exported volume: the daemon holding it is the only process that may
//     write it, so the data goes through it: a private export of the daemon,
//     reached by a short-lived qemu-storage-daemon that is its TLS-PSK client
//     (Go's TLS has no PSK) and serves it again on the private socket.
//
// The private servers live in a directory of their own under the state
// directory and are killed by pid on Close.
func (b *Backend) Open(ctx context.Context, v backend.Volume, snapshotID string) (backend.Data, error) {
	if err := backend.CheckIDs(v.ID); err != nil {
		return nil, err
	}
	if snapshotID != "" {
		if err := backend.CheckIDs(snapshotID); err != nil {
			return nil, err
		}
	}
	path := b.volumePath(v.ID)
	if ok, err := backend.PathExists(path); err != nil || !ok {
		return nil, fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
	}
	// Made and registered at once, so a Reconcile never takes it for a stale one.
	b.mu.Lock()
	dir, err := os.MkdirTemp(b.exportsDir(), "open-")
	if err == nil {
		b.openDirs[dir] = true
	}
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	o := &openData{b: b, dir: dir}
	if err := b.serveOpen(ctx, o, v.ID, snapshotID); err != nil {
		o.cleanup()
		return nil, err
	}
	conn, err := dialRetry(ctx, filepath.Join(dir, "nbd.sock"), "data")
	if err != nil {
		o.cleanup()
		return nil, err
	}
	o.Conn = conn
	return o, nil
}

func (b *Backend) serveOpen(ctx context.Context, o *openData, volumeID, snapshotID string) error {
	path := b.volumePath(volumeID)
	df, err := unixsock.OpenDir(o.dir)
	if err != nil {
		return err
	}
	defer df.Close()
	sock := fmt.Sprintf("/proc/self/fd/%d/nbd.sock", openDirFD)
	args := []string{"--fork", "--pid-file", filepath.Join(o.dir, "server.pid"), "-k", sock, "-x", "data", "--image-opts"}
	switch {
	case snapshotID != "":
		i, err := b.info(ctx, path)
		if err != nil || !i.hasSnapshot(snapshotName(snapshotID)) {
			return fmt.Errorf("snapshot %s: %w", snapshotID, backend.ErrNotFound)
		}
		args = append(args, "--read-only", "-l", "snapshot.name="+snapshotName(snapshotID), "read-only=on,force-share=on,"+qcow2Opts(path))
		o.binary = "qemu-nbd"
		return b.startDetached(ctx, o.dir, b.opts.QEMUNBD, args, df)
	default:
		defer b.lock(volumeID)()
		if b.daemonRunning(volumeID) {
			return b.serveThroughDaemon(ctx, o, volumeID, df)
		}
		// Writeback with Close's flush: the data is on disk when Close returns.
		args = append(args, "--cache=writeback", "--aio=threads", qcow2Opts(path))
		o.binary = "qemu-nbd"
		return b.startDetached(ctx, o.dir, b.opts.QEMUNBD, args, df)
	}
}

// serveThroughDaemon adds a private export (and identity) to the volume's
// daemon and starts its local TLS-PSK client.
func (b *Backend) serveThroughDaemon(ctx context.Context, o *openData, volumeID string, df *os.File) error {
	secret := make([]byte, 16)
	rand.Read(secret)
	rec := newRecord(backend.Export{AttachmentID: "open-" + hex.EncodeToString(secret)})
	rec.Private = true
	b.mu.Lock()
	b.opens[rec.Identity] = true
	b.mu.Unlock()
	o.volumeID, o.record = volumeID, &rec
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return err
	}
	recs = append(recs, rec)
	if err := b.saveRecords(volumeID, recs); err != nil {
		return err
	}
	if err := b.converge(ctx, volumeID, recs); err != nil {
		return err
	}
	// The client's keys file holds its one identity.
	if err := os.Mkdir(filepath.Join(o.dir, keysDir), 0o700); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(o.dir, keysDir, "keys.psk"), []byte(rec.Identity+":"+rec.Key+"\n"), 0o600); err != nil {
		return err
	}
	tls, _ := json.Marshal(map[string]any{"qom-type": "tls-creds-psk", "id": "tls0", "endpoint": "client", "dir": filepath.Join(o.dir, keysDir), "username": rec.Identity})
	node, _ := json.Marshal(map[string]any{
		"driver": "nbd", "node-name": "data0", "export": exportName(volumeID, rec.AttachmentID), "tls-creds": "tls0",
		"server": map[string]any{"type": "inet", "host": b.opts.Host, "port": strconv.Itoa(b.port(volumeID))},
	})
	args := []string{
		"--daemonize", "--pidfile", filepath.Join(o.dir, "server.pid"),
		"--object", string(tls),
		"--blockdev", string(node),
		"--nbd-server", fmt.Sprintf("addr.type=unix,addr.path=/proc/self/fd/%d/nbd.sock", openDirFD),
		"--export", "nbd,id=data,node-name=data0,name=data,writable=on",
	}
	o.binary = "qemu-storage-daemon"
	return b.startDetached(ctx, o.dir, b.opts.StorageDaemon, args, df)
}

// openDirFD is the descriptor a private server gets its directory on (its one
// extra file), to name its socket however long the pool's path.
const openDirFD = 3

// dialRetry connects to a private server that has just daemonized (its socket
// listens by then; the retries cover a slow start).
func dialRetry(ctx context.Context, sock, export string) (*nbd.Conn, error) {
	var err error
	for range 50 {
		var c *nbd.Conn
		if c, err = nbd.Dial(ctx, "unix", sock, export); err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("open volume data: %w", err)
}

// openData is an Open's data: the NBD connection, and what to take down after.
type openData struct {
	*nbd.Conn
	b        *Backend
	dir      string
	binary   string // the private server's, to check its pid before the kill
	volumeID string
	record   *exportRecord // the daemon's private export, for an exported volume
}

// Close flushes the data and takes the private server (and export) down.
func (d *openData) Close() error {
	err := d.Conn.Close()
	if cerr := d.cleanup(); err == nil {
		err = cerr
	}
	return err
}

// stopServer ends the private server: SIGTERM (qemu-nbd and the daemon flush
// and exit), SIGKILL if it lingers.
func (d *openData) stopServer() {
	pidPath := filepath.Join(d.dir, "server.pid")
	if d.binary == "" {
		return
	}
	// One read of the pid: a second could find the server gone and give 0,
	// and kill(0) signals this process's whole group.
	pid := pidOf(pidPath, d.binary)
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && pidOf(pidPath, d.binary) != 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if pid := pidOf(pidPath, d.binary); pid != 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (d *openData) cleanup() error {
	d.stopServer()
	defer func() {
		d.b.mu.Lock()
		delete(d.b.openDirs, d.dir)
		d.b.mu.Unlock()
	}()
	var err error
	if d.record != nil {
		b := d.b
		unlock := b.lock(d.volumeID)
		recs, lerr := b.loadRecords(d.volumeID)
		if lerr == nil {
			recs = slices.DeleteFunc(recs, func(r exportRecord) bool { return r.Identity == d.record.Identity })
			if lerr = b.saveRecords(d.volumeID, recs); lerr == nil {
				lerr = b.converge(context.Background(), d.volumeID, recs)
			}
		}
		unlock()
		b.mu.Lock()
		delete(b.opens, d.record.Identity)
		b.mu.Unlock()
		err = lerr
	}
	return errors.Join(err, os.RemoveAll(d.dir))
}
