package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// exportRecord is one export of a volume as its state directory keeps it: the
// attachment's, or an Open's (Private) while it reads or writes the volume.
type exportRecord struct {
	AttachmentID string            `json:"attachment_id"`
	Connector    backend.Connector `json:"connector"`
	ReadOnly     bool              `json:"read_only"`
	Identity     string            `json:"tls_psk_identity"`
	Key          string            `json:"tls_psk_key"`
	Private      bool              `json:"private,omitempty"`
}

// exportID is the export's QEMU id (block-export-add's id must start with a
// letter; attachment ids are UUIDs).
func exportID(attachmentID string) string { return "export-" + attachmentID }

// exportName is the NBD export name the attaching host asks for.
func exportName(volumeID, attachmentID string) string {
	return "volume-" + volumeID + "-" + attachmentID
}

func (b *Backend) loadRecords(volumeID string) ([]exportRecord, error) {
	data, err := os.ReadFile(filepath.Join(b.stateDir(volumeID), exportsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []exportRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("exports of volume %s: %w", volumeID, err)
	}
	return recs, nil
}

// saveRecords writes the volume's exports and, from them, the keys file the
// daemon's NBD server authenticates against: an identity not in it cannot
// complete the TLS handshake, so the file is the list of who may connect.
func (b *Backend) saveRecords(volumeID string, recs []exportRecord) error {
	dir := b.stateDir(volumeID)
	if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o700); err != nil {
		return err
	}
	var keys strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&keys, "%s:%s\n", r.Identity, r.Key)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, keysDir, "keys.psk"), []byte(keys.String()), 0o600); err != nil {
		return err
	}
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dir, exportsFile), data, 0o600)
}

// newRecord makes an export's identity and key: 256 random bits each
// attachment, never shared.
func newRecord(e backend.Export) exportRecord {
	key := make([]byte, 32)
	rand.Read(key)
	return exportRecord{
		AttachmentID: e.AttachmentID, Connector: e.Connector, ReadOnly: e.ReadOnly,
		Identity: "nimbus-" + e.AttachmentID, Key: hex.EncodeToString(key),
	}
}

// connectionInfo is upstream's connection_info for an NBD export.
func (b *Backend) connectionInfo(volumeID string, r exportRecord) backend.ConnectionInfo {
	return backend.ConnectionInfo{
		DriverVolumeType: "nbd",
		Data: map[string]any{
			"host":             b.opts.Host,
			"port":             b.port(volumeID),
			"export_name":      exportName(volumeID, r.AttachmentID),
			"tls_psk_identity": r.Identity,
			"tls_psk_key":      r.Key,
		},
	}
}

// Export serves the volume to the attachment's host; exporting twice returns
// the same connection (the same key).
func (b *Backend) Export(ctx context.Context, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error) {
	if err := backend.CheckIDs(v.ID, e.AttachmentID); err != nil {
		return backend.ConnectionInfo{}, err
	}
	e.VolumeID = v.ID
	defer b.lock(v.ID)()
	if ok, err := backend.PathExists(b.volumePath(v.ID)); err != nil || !ok {
		return backend.ConnectionInfo{}, fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
	}
	recs, err := b.loadRecords(v.ID)
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	i := slices.IndexFunc(recs, func(r exportRecord) bool { return r.AttachmentID == e.AttachmentID })
	if i < 0 {
		recs = append(recs, newRecord(e))
		i = len(recs) - 1
		if err := b.saveRecords(v.ID, recs); err != nil {
			return backend.ConnectionInfo{}, err
		}
	}
	if err := b.converge(ctx, v.ID, recs); err != nil {
		return backend.ConnectionInfo{}, err
	}
	return b.connectionInfo(v.ID, recs[i]), nil
}

// Unexport ends the attachment's export: its connections are closed and its key
// no longer opens anything. The daemon stops with the volume's last export.
func (b *Backend) Unexport(ctx context.Context, v backend.Volume, attachmentID string) error {
	if err := backend.CheckIDs(v.ID, attachmentID); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	recs, err := b.loadRecords(v.ID)
	if err != nil {
		return err
	}
	recs = slices.DeleteFunc(recs, func(r exportRecord) bool { return r.AttachmentID == attachmentID })
	if err := b.saveRecords(v.ID, recs); err != nil {
		return err
	}
	return b.converge(ctx, v.ID, recs)
}

// blockExport is one entry of query-block-exports.
type blockExport struct {
	ID           string `json:"id"`
	ShuttingDown bool   `json:"shutting-down"`
}

// served are the ids of the exports the volume's daemon serves now.
func (b *Backend) served(ctx context.Context, volumeID string) (map[string]bool, error) {
	var list []blockExport
	if err := b.qmp(ctx, volumeID, "query-block-exports", nil, &list); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range list {
		if !e.ShuttingDown {
			out[e.ID] = true
		}
	}
	return out, nil
}

// converge makes the volume's daemon serve exactly recs: started when there is
// an export to serve, each missing export added, each extra one removed, and
// stopped when nothing is left to serve. Every step is idempotent, so a crash
// anywhere is repaired by the next call.
func (b *Backend) converge(ctx context.Context, volumeID string, recs []exportRecord) error {
	if len(recs) == 0 {
		if err := b.stopDaemon(ctx, volumeID); err != nil {
			return err
		}
		return os.RemoveAll(b.stateDir(volumeID))
	}
	if err := b.startDaemon(ctx, volumeID); err != nil {
		return err
	}
	have, err := b.served(ctx, volumeID)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, r := range recs {
		id := exportID(r.AttachmentID)
		want[id] = true
		if have[id] {
			continue
		}
		args := map[string]any{
			"type": "nbd", "id": id, "node-name": volumeNode,
			"name": exportName(volumeID, r.AttachmentID), "writable": !r.ReadOnly,
		}
		if err := b.qmp(ctx, volumeID, "block-export-add", args, nil); err != nil {
			return err
		}
	}
	for id := range have {
		if want[id] {
			continue
		}
		// hard: the attachment's connections are closed now, not when its
		// host lets go.
		if err := b.qmp(ctx, volumeID, "block-export-del", map[string]any{"id": id, "mode": "hard"}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Exports are the exports the daemons serve now: a volume's recorded exports
// whose daemon runs and serves them.
func (b *Backend) Exports(ctx context.Context) ([]backend.Export, error) {
	volumes, err := b.exportedVolumes()
	if err != nil {
		return nil, err
	}
	var out []backend.Export
	for _, id := range volumes {
		unlock := b.lock(id)
		exports, err := b.volumeExports(ctx, id)
		unlock()
		if err != nil {
			return nil, err
		}
		out = append(out, exports...)
	}
	return out, nil
}

func (b *Backend) volumeExports(ctx context.Context, volumeID string) ([]backend.Export, error) {
	if !b.daemonRunning(volumeID) {
		return nil, nil
	}
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return nil, err
	}
	have, err := b.served(ctx, volumeID)
	if err != nil {
		return nil, err
	}
	var out []backend.Export
	for _, r := range recs {
		if r.Private || !have[exportID(r.AttachmentID)] {
			continue
		}
		out = append(out, backend.Export{VolumeID: volumeID, AttachmentID: r.AttachmentID, Connector: r.Connector, ReadOnly: r.ReadOnly})
	}
	return out, nil
}

// exportedVolumes are the volumes with a state directory.
func (b *Backend) exportedVolumes() ([]string, error) {
	entries, err := os.ReadDir(b.exportsDir())
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), "volume-"); ok && e.IsDir() && backend.ValidID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// ConnectionInfo is the connection of an attachment's export the backend keeps
// (the same Export returned), for a manager that lost it.
func (b *Backend) ConnectionInfo(ctx context.Context, volumeID, attachmentID string) (backend.ConnectionInfo, error) {
	if err := backend.CheckIDs(volumeID, attachmentID); err != nil {
		return backend.ConnectionInfo{}, err
	}
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	for _, r := range recs {
		if r.AttachmentID == attachmentID && !r.Private {
			return b.connectionInfo(volumeID, r), nil
		}
	}
	return backend.ConnectionInfo{}, fmt.Errorf("export %s of volume %s: %w", attachmentID, volumeID, backend.ErrNotFound)
}

// Reconcile makes the exports match want (level-triggered, as the other
// agents): every volume's daemon is started when it is not running (after a
// kill -9 too) on the port it had, with the keys it had, each wanted export is
// added, and exports (and daemons) nobody wants are removed. An attachment
// already exported keeps its key, so the connection_info the manager stored
// stays valid. Opens in progress keep their private exports.
func (b *Backend) Reconcile(ctx context.Context, want []backend.Export) error {
	exported, err := b.exportedVolumes()
	if err != nil {
		return err
	}
	byVolume, volumes, err := backend.ExportsByVolume(want, exported)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range volumes {
		if err := b.reconcileVolume(ctx, id, byVolume[id]); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", id, err))
		}
	}
	errs = append(errs, b.removeStaleOpens())
	return errors.Join(errs...)
}

func (b *Backend) reconcileVolume(ctx context.Context, volumeID string, want []backend.Export) error {
	defer b.lock(volumeID)()
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return err
	}
	var next []exportRecord
	var changed []string // exports whose access mode changes: served again
	for _, e := range want {
		i := slices.IndexFunc(recs, func(r exportRecord) bool { return r.AttachmentID == e.AttachmentID && !r.Private })
		if i >= 0 {
			r := recs[i]
			if r.ReadOnly != e.ReadOnly {
				changed = append(changed, exportID(r.AttachmentID))
			}
			r.Connector, r.ReadOnly = e.Connector, e.ReadOnly
			next = append(next, r)
		} else {
			next = append(next, newRecord(e))
		}
	}
	b.mu.Lock()
	for _, r := range recs {
		if r.Private && b.opens[r.Identity] {
			next = append(next, r)
		}
	}
	b.mu.Unlock()
	if len(next) > 0 {
		if ok, err := backend.PathExists(b.volumePath(volumeID)); err != nil || !ok {
			return fmt.Errorf("no file to export: %w", backend.ErrNotFound)
		}
	}
	if !slices.Equal(recs, next) {
		if err := b.saveRecords(volumeID, next); err != nil {
			return err
		}
	}
	if len(changed) > 0 && b.daemonRunning(volumeID) {
		for _, id := range changed {
			if err := b.qmp(ctx, volumeID, "block-export-del", map[string]any{"id": id, "mode": "hard"}, nil); err != nil {
				var qe *QMPError
				if !errors.As(err, &qe) { // one not served is no error
					return err
				}
			}
		}
		if err := b.waitExportsGone(ctx, volumeID, changed); err != nil {
			return err
		}
	}
	return b.converge(ctx, volumeID, next)
}

// removeStaleOpens takes down the private servers of Opens that are not in
// progress in this process: a volume service that crashed while it read a
// volume left them (the daemons' private exports go with the records above).
func (b *Backend) removeStaleOpens() error {
	entries, err := os.ReadDir(b.exportsDir())
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "open-") {
			continue
		}
		dir := filepath.Join(b.exportsDir(), e.Name())
		b.mu.Lock()
		live := b.openDirs[dir]
		b.mu.Unlock()
		if live {
			continue
		}
		for _, bin := range []string{"qemu-nbd", "qemu-storage-daemon"} {
			d := &openData{b: b, dir: dir, binary: bin}
			d.stopServer()
		}
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}
