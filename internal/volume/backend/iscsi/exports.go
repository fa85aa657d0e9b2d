package iscsi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// exportRecord is one attachment's export as the backend keeps it: tgtd
// forgets its targets when it stops, the records are what it is given again.
type exportRecord struct {
	AttachmentID string            `json:"attachment_id"`
	Connector    backend.Connector `json:"connector"`
	ReadOnly     bool              `json:"read_only"`
	// User and Password are the attachment's CHAP credentials (upstream's
	// incominguser).
	User     string `json:"auth_username"`
	Password string `json:"auth_password"`
}

// recordsPath is the file of the volume's exports.
func (b *Backend) recordsPath(volumeID string) string {
	return filepath.Join(b.exportsDir(), "volume-"+volumeID+".json")
}

func (b *Backend) loadRecords(volumeID string) ([]exportRecord, error) {
	data, err := os.ReadFile(b.recordsPath(volumeID))
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

// saveRecords writes the volume's exports; none removes the file.
func (b *Backend) saveRecords(volumeID string, recs []exportRecord) error {
	if len(recs) == 0 {
		if err := os.Remove(b.recordsPath(volumeID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(b.recordsPath(volumeID), data, 0o600)
}

// exportedVolumes are the volumes with records.
func (b *Backend) exportedVolumes() ([]string, error) {
	entries, err := os.ReadDir(b.exportsDir())
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		if id, ok := strings.CutPrefix(name, "volume-"); ok && backend.ValidID(id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// chapAlphabet is what CHAP credentials are drawn from (upstream's
// generate_password leaves out the look-alike characters too).
const chapAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// randomString draws n characters of chapAlphabet (a byte's slight bias
// toward the first characters costs a fraction of a bit per character).
func randomString(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	for i, c := range buf {
		buf[i] = chapAlphabet[int(c)%len(chapAlphabet)]
	}
	return string(buf)
}

// newRecord makes an export's CHAP credentials: random for each attachment,
// 20 characters of user and 16 of password as upstream's.
func newRecord(e backend.Export) exportRecord {
	return exportRecord{AttachmentID: e.AttachmentID, Connector: e.Connector, ReadOnly: e.ReadOnly,
		User: randomString(20), Password: randomString(16)}
}

// connectionInfo is upstream's iSCSI connection_info data (iscsi.py's
// _get_iscsi_properties), what os-brick's iSCSI connector reads.
func (b *Backend) connectionInfo(volumeID string, r exportRecord) backend.ConnectionInfo {
	return backend.ConnectionInfo{
		DriverVolumeType: "iscsi",
		Data: map[string]any{
			"target_discovered": false,
			"target_portal":     b.portal(),
			"target_iqn":        targetIQN(volumeID, r.AttachmentID),
			"target_lun":        lun,
			"volume_id":         volumeID,
			"auth_method":       "CHAP",
			"auth_username":     r.User,
			"auth_password":     r.Password,
		},
	}
}

// Export serves the volume to the attachment's host; exporting twice returns
// the same target and credentials.
func (b *Backend) Export(ctx context.Context, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error) {
	if err := backend.CheckIDs(v.ID, e.AttachmentID); err != nil {
		return backend.ConnectionInfo{}, err
	}
	e.VolumeID = v.ID
	unlock := b.lock(v.ID)
	if ok, err := backend.PathExists(b.volumePath(v.ID)); err != nil || !ok {
		unlock()
		return backend.ConnectionInfo{}, fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
	}
	recs, err := b.loadRecords(v.ID)
	if err != nil {
		unlock()
		return backend.ConnectionInfo{}, err
	}
	i := slices.IndexFunc(recs, func(r exportRecord) bool { return r.AttachmentID == e.AttachmentID })
	if i < 0 {
		recs = append(recs, newRecord(e))
		i = len(recs) - 1
		if err := b.saveRecords(v.ID, recs); err != nil {
			unlock()
			return backend.ConnectionInfo{}, err
		}
	}
	rec := recs[i]
	unlock()
	if err := b.syncTargets(ctx); err != nil {
		return backend.ConnectionInfo{}, err
	}
	return b.connectionInfo(v.ID, rec), nil
}

// Unexport ends the attachment's export: its target goes, closing its
// sessions, and its credentials with it.
func (b *Backend) Unexport(ctx context.Context, v backend.Volume, attachmentID string) error {
	if err := backend.CheckIDs(v.ID, attachmentID); err != nil {
		return err
	}
	unlock := b.lock(v.ID)
	recs, err := b.loadRecords(v.ID)
	if err == nil {
		recs = slices.DeleteFunc(recs, func(r exportRecord) bool { return r.AttachmentID == attachmentID })
		err = b.saveRecords(v.ID, recs)
	}
	unlock()
	if err != nil {
		return err
	}
	return b.syncTargets(ctx)
}

// ConnectionInfo is the connection of an attachment's export the backend
// keeps (the same Export returned), for a manager that lost it.
func (b *Backend) ConnectionInfo(ctx context.Context, volumeID, attachmentID string) (backend.ConnectionInfo, error) {
	if err := backend.CheckIDs(volumeID, attachmentID); err != nil {
		return backend.ConnectionInfo{}, err
	}
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	for _, r := range recs {
		if r.AttachmentID == attachmentID {
			return b.connectionInfo(volumeID, r), nil
		}
	}
	return backend.ConnectionInfo{}, fmt.Errorf("export %s of volume %s: %w", attachmentID, volumeID, backend.ErrNotFound)
}

// Exports are the exports tgtd serves now: its live targets, with the
// connector and mode the records hold.
func (b *Backend) Exports(ctx context.Context) ([]backend.Export, error) {
	b.tgt.Lock()
	defer b.tgt.Unlock()
	if b.daemonPID() == 0 {
		return nil, nil
	}
	live, err := b.liveTargets(ctx)
	if err != nil {
		return nil, err
	}
	var out []backend.Export
	for _, t := range live {
		volumeID, attachmentID, ok := parseTargetIQN(t.IQN)
		if !ok {
			continue
		}
		e := backend.Export{VolumeID: volumeID, AttachmentID: attachmentID}
		recs, _ := b.loadRecords(volumeID)
		for _, r := range recs {
			if r.AttachmentID == attachmentID {
				e.Connector, e.ReadOnly = r.Connector, r.ReadOnly
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Reconcile makes the exports match want (level-triggered): tgtd is started
// when it does not run (after a kill -9 too) on the portal it had, every
// wanted export gets its target back with the credentials it had, so the
// connection_info the manager stored stays valid and attached guests log in
// again, and targets nobody wants are removed.
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
		if err := b.reconcileRecords(id, byVolume[id]); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", id, err))
		}
	}
	errs = append(errs, b.syncTargets(ctx))
	return errors.Join(errs...)
}

// reconcileRecords makes the volume's records the wanted exports, keeping the
// credentials of those it had.
func (b *Backend) reconcileRecords(volumeID string, want []backend.Export) error {
	defer b.lock(volumeID)()
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return err
	}
	var next []exportRecord
	for _, e := range want {
		i := slices.IndexFunc(recs, func(r exportRecord) bool { return r.AttachmentID == e.AttachmentID })
		if i >= 0 {
			r := recs[i]
			r.Connector, r.ReadOnly = e.Connector, e.ReadOnly
			next = append(next, r)
		} else {
			next = append(next, newRecord(e))
		}
	}
	if len(next) > 0 {
		if ok, err := backend.PathExists(b.volumePath(volumeID)); err != nil || !ok {
			return fmt.Errorf("no file to export: %w", backend.ErrNotFound)
		}
	}
	if slices.Equal(recs, next) {
		return nil
	}
	return b.saveRecords(volumeID, next)
}

// liveTargets is tgtd's target listing.
func (b *Backend) liveTargets(ctx context.Context) ([]liveTarget, error) {
	out, err := b.tgtadm(ctx, argsShowTargets()...)
	if err != nil {
		return nil, err
	}
	return parseTargets(out)
}

// wantedTarget is a target the records ask for.
type wantedTarget struct {
	volumeID string
	rec      exportRecord
}

// aclEntry is the initiator the target lets in: the connector's initiator
// name (os-brick's "initiator"), else any (CHAP still guards it). The
// connector's address is not used: the host's address as the agent reports
// it need not be the one its connections come from (a host simulated in a
// namespace reaches a loopback portal from 127.0.0.1).
func (w wantedTarget) aclEntry() string {
	if initiatorPattern.MatchString(w.rec.Connector.Initiator) {
		return w.rec.Connector.Initiator
	}
	return "ALL"
}

// initiatorPattern is an iSCSI name tgtadm takes as an ACL entry (RFC 3720's
// iqn. and eui. forms, at most 223 bytes); the connector comes from the API's
// caller, so anything else is ignored rather than handed to tgtadm.
var initiatorPattern = regexp.MustCompile(`^(iqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9][a-z0-9.-]{0,150}(:[A-Za-z0-9.:_-]{1,60})?|eui\.[0-9A-Fa-f]{16})$`)

// matches reports whether a live target is what w asks for.
func (b *Backend) matches(t liveTarget, w wantedTarget) bool {
	l, ok := t.lun(lun)
	return ok && l.Path == b.volumePath(w.volumeID) && l.ReadOnly == w.rec.ReadOnly &&
		slices.Equal(t.Accounts, []string{w.rec.User}) && slices.Equal(t.ACL, []string{w.aclEntry()})
}

// syncTargets makes tgtd serve exactly the recorded exports: it is started
// when there is something to serve, each target that differs from its
// record (or that no record wants) is deleted, each missing one made, and
// accounts no target needs are deleted. Every step is idempotent: a crash
// anywhere is repaired by the next call.
func (b *Backend) syncTargets(ctx context.Context) error {
	b.tgt.Lock()
	defer b.tgt.Unlock()
	volumes, err := b.exportedVolumes()
	if err != nil {
		return err
	}
	want := map[string]wantedTarget{}
	for _, id := range volumes {
		recs, err := b.loadRecords(id)
		if err != nil {
			return err
		}
		for _, r := range recs {
			want[targetIQN(id, r.AttachmentID)] = wantedTarget{volumeID: id, rec: r}
		}
	}
	if len(want) == 0 && b.daemonPID() == 0 {
		return nil
	}
	if _, err := b.ensureDaemon(ctx); err != nil {
		return err
	}
	live, err := b.liveTargets(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	maxTID := 0
	var errs []error
	for _, t := range live {
		maxTID = max(maxTID, t.TID)
		if w, ok := want[t.IQN]; ok && b.matches(t, w) {
			have[t.IQN] = true
			continue
		}
		// tgtd serves this backend only: a target nobody wants is ours.
		if _, err := b.tgtadm(ctx, argsDeleteTarget(t.TID)...); err != nil {
			errs = append(errs, err)
		} else {
			b.log.Info("iSCSI target removed", "iqn", t.IQN)
		}
	}
	accountsOut, err := b.tgtadm(ctx, argsShowAccounts()...)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	accounts := parseAccounts(accountsOut)
	users := map[string]bool{}
	iqns := make([]string, 0, len(want))
	for iqn, w := range want {
		users[w.rec.User] = true
		iqns = append(iqns, iqn)
	}
	slices.Sort(iqns)
	for _, iqn := range iqns {
		if have[iqn] {
			continue
		}
		maxTID++
		if err := b.addTarget(ctx, maxTID, iqn, want[iqn], slices.Contains(accounts, want[iqn].rec.User)); err != nil {
			errs = append(errs, err)
			b.tgtadm(ctx, argsDeleteTarget(maxTID)...) // not half made
		}
	}
	for _, u := range accounts {
		if !users[u] {
			if _, err := b.tgtadm(ctx, argsDeleteAccount(u)...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// addTarget makes the attachment's target: the LUN over the volume's file,
// its CHAP account and its ACL.
func (b *Backend) addTarget(ctx context.Context, tid int, iqn string, w wantedTarget, haveAccount bool) error {
	steps := append([][]string{argsNewTarget(tid, iqn)}, newLUNSteps(tid, b.volumePath(w.volumeID), w.rec.ReadOnly)...)
	if !haveAccount {
		steps = append(steps, argsNewAccount(w.rec.User, w.rec.Password))
	}
	steps = append(steps, argsBindAccount(tid, w.rec.User), argsBindInitiator(tid, w.aclEntry()))
	for _, args := range steps {
		if _, err := b.tgtadm(ctx, args...); err != nil {
			return fmt.Errorf("iSCSI target %s: %w", iqn, err)
		}
	}
	b.log.Info("iSCSI target added", "iqn", iqn, "tid", strconv.Itoa(tid))
	return nil
}

// refreshLUNs gives the volume's targets its new size: tgt reads a LUN's
// size when the LUN is made, so each LUN over the file is made again (its
// initiators see the capacity change at their next READ CAPACITY).
func (b *Backend) refreshLUNs(ctx context.Context, volumeID string) error {
	b.tgt.Lock()
	defer b.tgt.Unlock()
	if b.daemonPID() == 0 {
		return nil
	}
	live, err := b.liveTargets(ctx)
	if err != nil {
		return err
	}
	path := b.volumePath(volumeID)
	for _, t := range live {
		l, ok := t.lun(lun)
		if !ok || l.Path != path {
			continue
		}
		if _, err := b.tgtadm(ctx, argsDeleteLUN(t.TID)...); err != nil {
			return err
		}
		for _, args := range newLUNSteps(t.TID, path, l.ReadOnly) {
			if _, err := b.tgtadm(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}
