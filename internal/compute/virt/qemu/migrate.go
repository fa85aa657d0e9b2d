package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Live migration without shared storage, as libvirt does a block migration for
// upstream's libvirt driver (VIR_MIGRATE_LIVE|VIR_MIGRATE_NON_SHARED_INC):
//
//   - the destination starts QEMU with the same devices and -incoming defer,
//     its local disks made by the agent beforehand (the root disk a new
//     overlay on the same base image), and exports them read-write from its
//     own NBD server; migrate-incoming listens for the state;
//   - the source mirrors each local disk into the destination's export
//     (blockdev-mirror to an nbd node; sync=top for the root overlay, whose
//     base the destination has, full for ephemeral and swap disks) and, once
//     every mirror is ready, migrates RAM and device state with
//     pause-before-switchover: when QEMU stops the vCPUs for the last pass
//     (pre-switchover) the mirrors are completed (block-job-cancel of a
//     ready mirror leaves the target an exact copy), then migrate-continue;
//   - the destination stops its NBD server and resumes the vCPUs.
//
// Volumes are attached on both sides (the destination's QEMU opens them at
// start) and not mirrored; the config drive is the destination's own.
// The migration and NBD listeners bind only to the address the caller gives,
// the destination's address on the hosts' network; neither is encrypted or
// authenticated yet (libvirt's migration TLS is not done).

var _ virt.LiveMigrator = (*Driver)(nil)

const (
	// incomingDefer is launch.incoming for a live migration's destination.
	incomingDefer = "defer"
	// incomingFile (destination) keeps the Incoming PrepareIncoming answered,
	// so a second call answers it again.
	incomingFile = "incoming.json"
	// migrationFile (source) keeps the guest's run state before the
	// migration, so an abort after a force-complete resumes a guest that ran.
	migrationFile = "migration.json"
	// The destination's NBD server takes the first free port of this range
	// (QEMU cannot report the port it picks for an NBD server). It lies above
	// Linux's ephemeral ports, so no outgoing connection holds one.
	nbdPortFirst, nbdPortLast = 61000, 61255
	// mirrorJobPrefix names the source's mirror jobs, nbdNodePrefix its nodes
	// connected to the destination's exports.
	mirrorJobPrefix = "mig-"
	nbdNodePrefix   = "mig-nbd-"
	migratePoll     = 200 * time.Millisecond
	// defaultDowntime is upstream's live_migration_downtime.
	defaultDowntime = 500 * time.Millisecond
	// unlimitedBandwidth is what libvirt sets for "no cap" (QEMU's default
	// of 32 MiB/s is a cap).
	unlimitedBandwidth = 8 << 30
)

// ErrNoMigration is returned by ForceCompleteLiveMigration when no
// migration of the guest is under way.
var ErrNoMigration = errors.New("qemu: no live migration under way")

// migrationActive are QEMU's migration statuses of a migration under way.
var migrationActive = map[string]bool{"setup": true, "active": true, "pre-switchover": true, "device": true,
	"cancelling": true, "wait-unplug": true}

// migrateInfo is query-migrate's answer.
type migrateInfo struct {
	Status    string `json:"status"`
	ErrorDesc string `json:"error-desc"`
	TotalTime int64  `json:"total-time"` // ms
	Downtime  int64  `json:"downtime"`   // ms
	RAM       *struct {
		Total       int64 `json:"total"`
		Transferred int64 `json:"transferred"`
		Remaining   int64 `json:"remaining"`
	} `json:"ram"`
	SocketAddress []struct {
		Type string `json:"type"`
		Host string `json:"host"`
		Port string `json:"port"`
	} `json:"socket-address"`
}

// jobInfo is one entry of query-jobs.
type jobInfo struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Current  int64  `json:"current-progress"`
	Total    int64  `json:"total-progress"`
	ErrorMsg string `json:"error"`
}

// migrationRecord is migrationFile's content.
type migrationRecord struct {
	WasRunning bool `json:"was_running"`
}

// localDriveIDs are the QEMU drive ids of the guest's local disks, which a
// migration copies: the root overlay, then LocalDisks (as buildArgs numbers
// them). A rescued guest is refused, as upstream refuses to move one.
func localDriveIDs(s virt.Spec) ([]string, error) {
	if s.RescueDisk != "" {
		return nil, errors.New("a rescued guest cannot be live-migrated")
	}
	var ids []string
	before := 0
	if s.RootDisk != "" {
		ids = append(ids, "drive-virtio-disk0")
		before = 1
	} else if len(s.Volumes) > 0 && s.Volumes[0].Boot {
		before = 1
	}
	for i := range s.LocalDisks {
		ids = append(ids, "drive-virtio-disk"+strconv.Itoa(before+i))
	}
	return ids, nil
}

// hostAddress is host as an IP address QEMU may bind or dial: a name or the
// unspecified address would listen on (or reach) more than the hosts' network.
func hostAddress(host string) (string, error) {
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() || ip.IsMulticast() {
		return "", fmt.Errorf("host %q: want a host's IP address", host)
	}
	return ip.String(), nil
}

// PrepareIncoming starts the guest's QEMU here waiting for its state, with its
// local disks exported over NBD on listenHost.
func (d *Driver) PrepareIncoming(ctx context.Context, s virt.Spec, listenHost string) (virt.Incoming, error) {
	defer d.lock(s.UUID)()
	in, err := d.prepareIncoming(ctx, s, listenHost)
	if err != nil {
		return virt.Incoming{}, fmt.Errorf("prepare incoming migration of %s: %w", s.UUID, err)
	}
	return in, nil
}

func (d *Driver) prepareIncoming(ctx context.Context, s virt.Spec, listenHost string) (virt.Incoming, error) {
	host, err := hostAddress(listenHost)
	if err != nil {
		return virt.Incoming{}, err
	}
	drives, err := localDriveIDs(s)
	if err != nil {
		return virt.Incoming{}, err
	}
	if err := d.checkDir(s); err != nil {
		return virt.Incoming{}, err
	}
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return virt.Incoming{}, err
	}
	if pid != 0 {
		status, err := queryStatus(ctx, s.Dir)
		if err != nil {
			return virt.Incoming{}, err
		}
		if status != "inmigrate" {
			return virt.Incoming{}, fmt.Errorf("the guest already runs on this host (%s)", status)
		}
		var in virt.Incoming
		if readJSON(filepath.Join(s.Dir, incomingFile), &in) == nil && in.Host == host {
			return in, nil
		}
		// A QEMU that waits without its listeners (the agent stopped between
		// the start and the file): started anew.
		if err := kill(ctx, pid, s.UUID); err != nil {
			return virt.Incoming{}, err
		}
	}
	for _, disk := range append([]string{s.RootDisk}, s.LocalDisks...) {
		if disk != "" && !exists(disk) {
			return virt.Incoming{}, fmt.Errorf("disk %s is missing: the destination makes its disks before", disk)
		}
	}
	if err := os.Remove(filepath.Join(s.Dir, incomingFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return virt.Incoming{}, err
	}
	if err := d.boot(ctx, s, incomingDefer); err != nil {
		return virt.Incoming{}, err
	}
	in, err := listenIncoming(ctx, filepath.Join(s.Dir, qmpSocket), host, drives)
	if err == nil {
		err = writeJSON(filepath.Join(s.Dir, incomingFile), in)
	}
	if err != nil {
		// No waiting QEMU is left without its listeners.
		if pid, _ := guestPID(s.Dir, s.UUID); pid != 0 {
			if kerr := kill(context.WithoutCancel(ctx), pid, s.UUID); kerr != nil {
				err = errors.Join(err, kerr)
			}
		}
		return virt.Incoming{}, err
	}
	d.log.Info("waiting for an incoming migration", "uuid", s.UUID, "host", host,
		"migration_port", in.MigrationPort, "nbd_port", in.NBDPort, "exports", in.Exports)
	return in, nil
}

// listenIncoming has the waiting QEMU at sock listen for the migration and
// export the drives over NBD, both on host.
func listenIncoming(ctx context.Context, sock, host string, drives []string) (virt.Incoming, error) {
	c, err := dialQMP(ctx, sock)
	if err != nil {
		return virt.Incoming{}, err
	}
	defer c.Close()
	in := virt.Incoming{Host: host}
	// Port 0: the kernel picks a free one, which query-migrate reports.
	if err := c.execute(ctx, "migrate-incoming", map[string]any{"uri": "tcp:" + net.JoinHostPort(host, "0")}, nil); err != nil {
		return in, err
	}
	var mi migrateInfo
	if err := c.execute(ctx, "query-migrate", nil, &mi); err != nil {
		return in, err
	}
	for _, a := range mi.SocketAddress {
		if port, err := strconv.Atoi(a.Port); err == nil && a.Type == "inet" && port > 0 {
			in.MigrationPort = port
		}
	}
	if in.MigrationPort == 0 {
		return in, fmt.Errorf("QEMU reports no migration listener: %+v", mi.SocketAddress)
	}
	if len(drives) == 0 {
		return in, nil
	}
	for port := nbdPortFirst; port <= nbdPortLast && in.NBDPort == 0; port++ {
		err := c.execute(ctx, "nbd-server-start", map[string]any{"addr": map[string]any{"type": "inet",
			"data": map[string]any{"host": host, "port": strconv.Itoa(port)}}}, nil)
		switch {
		case err == nil:
			in.NBDPort = port
		case !strings.Contains(err.Error(), "in use"):
			return in, err
		}
	}
	if in.NBDPort == 0 {
		return in, fmt.Errorf("no free NBD port in %d-%d on %s", nbdPortFirst, nbdPortLast, host)
	}
	nodes, err := driveNodes(ctx, c)
	if err != nil {
		return in, err
	}
	for _, drive := range drives {
		node := nodes[drive]
		if node == "" {
			return in, fmt.Errorf("QEMU has no drive %s", drive)
		}
		// Exporting activates the node although the guest's state has not
		// arrived, so the source can write into it (QEMU allows it for this).
		if err := c.execute(ctx, "block-export-add", map[string]any{"type": "nbd", "id": drive,
			"node-name": node, "name": drive, "writable": true}, nil); err != nil {
			return in, err
		}
		in.Exports = append(in.Exports, drive)
	}
	return in, nil
}

// driveNodes maps each drive id (BlockBackend) to its top node's name.
func driveNodes(ctx context.Context, c *qmpConn) (map[string]string, error) {
	var blocks []struct {
		Device   string `json:"device"`
		Inserted *struct {
			NodeName string `json:"node-name"`
		} `json:"inserted"`
	}
	if err := c.execute(ctx, "query-block", nil, &blocks); err != nil {
		return nil, err
	}
	nodes := map[string]string{}
	for _, b := range blocks {
		if b.Inserted != nil {
			nodes[b.Device] = b.Inserted.NodeName
		}
	}
	return nodes, nil
}

// LiveMigrate moves the guest to the waiting destination to.
func (d *Driver) LiveMigrate(ctx context.Context, s virt.Spec, to virt.Incoming, opts virt.LiveMigrationOptions, progress func(virt.MigrationProgress)) (virt.MigrationResult, error) {
	res, err := d.liveMigrate(ctx, s, to, opts, progress)
	if err != nil {
		return res, fmt.Errorf("live migration of %s to %s: %w", s.UUID, to.Host, err)
	}
	return res, nil
}

func (d *Driver) liveMigrate(ctx context.Context, s virt.Spec, to virt.Incoming, opts virt.LiveMigrationOptions, progress func(virt.MigrationProgress)) (virt.MigrationResult, error) {
	start := time.Now()
	drives, err := localDriveIDs(s)
	if err != nil {
		return virt.MigrationResult{}, err
	}
	host, err := hostAddress(to.Host)
	if err != nil {
		return virt.MigrationResult{}, err
	}
	if to.MigrationPort < 1 || to.MigrationPort > 65535 || (len(drives) > 0 && (to.NBDPort < 1 || to.NBDPort > 65535)) {
		return virt.MigrationResult{}, fmt.Errorf("destination ports %d, %d out of range", to.MigrationPort, to.NBDPort)
	}
	if len(to.Exports) != len(drives) {
		return virt.MigrationResult{}, fmt.Errorf("the destination exports %d disks, the guest has %d", len(to.Exports), len(drives))
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	pid, mi, err := d.beginMigration(ctx, s)
	if err != nil {
		return virt.MigrationResult{}, err
	}
	// The mirrors and the migration run inside QEMU; this only follows them,
	// without the instance lock, so an abort or a force-complete gets in.
	if !migrationActive[mi.Status] && mi.Status != "completed" {
		if err := d.startMigration(ctx, s, sock, host, to, drives, opts, progress); err != nil {
			return virt.MigrationResult{}, errors.Join(err, d.abortMigration(context.WithoutCancel(ctx), s))
		}
	}
	continued := false
	var diskBytes int64
	for {
		mi, err := queryMigrate(ctx, sock)
		if err != nil {
			return virt.MigrationResult{}, errors.Join(err, d.abortMigration(context.WithoutCancel(ctx), s))
		}
		if progress != nil {
			progress(migrationProgress(ctx, sock, mi))
		}
		switch mi.Status {
		case "pre-switchover":
			if continued {
				break
			}
			// The vCPUs are stopped: the disks are complete once the
			// mirrors are, and only then may the device state go.
			n, err := completeMirrors(ctx, sock, len(drives))
			if err != nil {
				return virt.MigrationResult{}, errors.Join(err, d.abortMigration(context.WithoutCancel(ctx), s))
			}
			diskBytes = n
			if err := qmp(ctx, sock, "migrate-continue", map[string]any{"state": "pre-switchover"}, nil); err != nil {
				return virt.MigrationResult{}, errors.Join(err, d.abortMigration(context.WithoutCancel(ctx), s))
			}
			continued = true
		case "completed":
			res := virt.MigrationResult{Downtime: time.Duration(mi.Downtime) * time.Millisecond, DiskBytes: diskBytes}
			if mi.RAM != nil {
				res.MemoryBytes = mi.RAM.Transferred
			}
			// The destination has the guest; the source's QEMU (stopped
			// in postmigrate) has nothing more to give.
			if err := d.quit(ctx, s, pid); err != nil {
				return res, err
			}
			res.Total = time.Since(start)
			d.log.Info("guest live-migrated", "uuid", s.UUID, "to", host, "total", res.Total,
				"downtime", res.Downtime, "memory_bytes", res.MemoryBytes, "disk_bytes", res.DiskBytes)
			return res, nil
		case "failed", "cancelled":
			return virt.MigrationResult{}, errors.Join(fmt.Errorf("migration %s: %s", mi.Status, mi.ErrorDesc),
				d.abortMigration(context.WithoutCancel(ctx), s))
		}
		if opts.CompletionTimeout > 0 && time.Since(start) > opts.CompletionTimeout {
			return virt.MigrationResult{}, errors.Join(fmt.Errorf("not completed within %s", opts.CompletionTimeout),
				d.abortMigration(context.WithoutCancel(ctx), s))
		}
		select {
		case <-ctx.Done():
			return virt.MigrationResult{}, errors.Join(ctx.Err(), d.abortMigration(context.WithoutCancel(ctx), s))
		case <-time.After(migratePoll):
		}
	}
}

// beginMigration checks the guest runs here, records its run state (once:
// a rerun after a crash keeps the first) and returns where its migration
// stands.
func (d *Driver) beginMigration(ctx context.Context, s virt.Spec) (int, migrateInfo, error) {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return 0, migrateInfo{}, err
	}
	if pid == 0 {
		return 0, migrateInfo{}, ErrNotRunning
	}
	mi, err := queryMigrate(ctx, filepath.Join(s.Dir, qmpSocket))
	if err != nil {
		return 0, mi, err
	}
	record := filepath.Join(s.Dir, migrationFile)
	if !exists(record) {
		status, err := queryStatus(ctx, s.Dir)
		if err != nil {
			return 0, mi, err
		}
		if err := writeJSON(record, migrationRecord{WasRunning: status == "running"}); err != nil {
			return 0, mi, err
		}
	}
	return pid, mi, nil
}

// startMigration mirrors the local disks into the destination's exports,
// waits until every mirror is ready (then the guest's writes go to both
// sides) and starts the migration of RAM and device state.
func (d *Driver) startMigration(ctx context.Context, s virt.Spec, sock, host string, to virt.Incoming, drives []string,
	opts virt.LiveMigrationOptions, progress func(virt.MigrationProgress)) error {
	nbdPort := strconv.Itoa(to.NBDPort)
	for i, drive := range drives {
		node := nbdNodePrefix + strconv.Itoa(i)
		err := qmp(ctx, sock, "blockdev-add", map[string]any{"driver": "nbd", "node-name": node,
			"server": map[string]any{"type": "inet", "host": host, "port": nbdPort}, "export": to.Exports[i]}, nil)
		if err != nil && !isDuplicateID(err) {
			return err
		}
		// The root overlay's base is on the destination too: only what the
		// overlay holds is copied (upstream's NON_SHARED_INC).
		sync := "full"
		if i == 0 && s.RootDisk != "" {
			sync = "top"
		}
		err = qmp(ctx, sock, "blockdev-mirror", map[string]any{"job-id": mirrorJobPrefix + drive, "device": drive,
			"target": node, "sync": sync, "auto-dismiss": false}, nil)
		if err != nil && !strings.Contains(err.Error(), "in use") {
			return err
		}
	}
	for {
		jobs, err := mirrorJobs(ctx, onSocket(sock))
		if err != nil {
			return err
		}
		ready := 0
		for _, j := range jobs {
			switch {
			case j.ErrorMsg != "":
				return fmt.Errorf("mirror %s: %s", j.ID, j.ErrorMsg)
			case j.Status == "ready":
				ready++
			case j.Status == "concluded" || j.Status == "aborting" || j.Status == "null":
				return fmt.Errorf("mirror %s ended before the migration (%s)", j.ID, j.Status)
			}
		}
		if len(jobs) < len(drives) {
			return fmt.Errorf("%d of %d mirror jobs are there", len(jobs), len(drives))
		}
		if ready == len(drives) {
			break
		}
		if progress != nil {
			progress(migrationProgress(ctx, sock, migrateInfo{Status: "none"}))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migratePoll):
		}
	}
	downtime := opts.MaxDowntime
	if downtime <= 0 {
		downtime = defaultDowntime
	}
	bandwidth := int64(unlimitedBandwidth)
	if opts.BandwidthMiBps > 0 {
		bandwidth = int64(opts.BandwidthMiBps) << 20
	}
	if err := qmp(ctx, sock, "migrate-set-capabilities", map[string]any{"capabilities": []map[string]any{
		{"capability": "pause-before-switchover", "state": true}}}, nil); err != nil {
		return err
	}
	if err := qmp(ctx, sock, "migrate-set-parameters", map[string]any{"max-bandwidth": bandwidth,
		"downtime-limit": downtime.Milliseconds()}, nil); err != nil {
		return err
	}
	uri := "tcp:" + net.JoinHostPort(host, strconv.Itoa(to.MigrationPort))
	if err := qmp(ctx, sock, "migrate", map[string]any{"uri": uri}, nil); err != nil {
		return err
	}
	d.log.Info("live migration started", "uuid", s.UUID, "uri", uri, "disks", len(drives))
	return nil
}

// qmpFunc runs one QMP command: on a session of its own (onSocket) or on
// one kept open (a qmpConn's execute), where a few milliseconds count.
type qmpFunc func(ctx context.Context, command string, args, result any) error

// onSocket runs each command in a session of its own on sock.
func onSocket(sock string) qmpFunc {
	return func(ctx context.Context, command string, args, result any) error {
		return qmp(ctx, sock, command, args, result)
	}
}

// mirrorJobs are the migration's mirror jobs in the source's QEMU.
func mirrorJobs(ctx context.Context, run qmpFunc) ([]jobInfo, error) {
	var all []jobInfo
	if err := run(ctx, "query-jobs", nil, &all); err != nil {
		return nil, err
	}
	var jobs []jobInfo
	for _, j := range all {
		if strings.HasPrefix(j.ID, mirrorJobPrefix) {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// completeMirrors ends the ready mirrors with the target an exact copy
// (block-job-cancel of a ready mirror) and dismisses them, returning the
// bytes they copied. It runs while the guest is stopped for the
// switch-over, so on one session, and leaves the nbd nodes: the source's
// QEMU quits once the migration completes, and an abort removes them.
func completeMirrors(ctx context.Context, sock string, disks int) (int64, error) {
	c, err := dialQMP(ctx, sock)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return endMirrors(ctx, c.execute, disks, false)
}

// endMirrors ends every mirror job of the migration: gracefully (the target
// complete) or, with force, at once (an abort, which also removes the nbd
// nodes). Jobs and nodes already gone are no error, so an abort after a
// completion, or twice, is harmless.
func endMirrors(ctx context.Context, run qmpFunc, disks int, force bool) (int64, error) {
	jobs, err := mirrorJobs(ctx, run)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if j.Status == "concluded" || j.Status == "null" {
			continue
		}
		if err := run(ctx, "block-job-cancel", map[string]any{"device": j.ID, "force": force}, nil); err != nil && !isNotFound(err) {
			return 0, err
		}
	}
	var copied int64
	for _, j := range jobs {
		end, err := waitJobConcluded(ctx, run, j.ID)
		if err != nil {
			return 0, err
		}
		if end.ErrorMsg != "" && !force {
			return 0, fmt.Errorf("mirror %s: %s", j.ID, end.ErrorMsg)
		}
		copied += end.Total
		if err := run(ctx, "job-dismiss", map[string]any{"id": j.ID}, nil); err != nil && !isNotFound(err) {
			return 0, err
		}
	}
	if !force {
		return copied, nil
	}
	for i := range disks {
		err := run(ctx, "blockdev-del", map[string]any{"node-name": nbdNodePrefix + strconv.Itoa(i)}, nil)
		if err != nil && !isNotFound(err) && !strings.Contains(err.Error(), "Failed to find") {
			return 0, err
		}
	}
	return copied, nil
}

// waitJobConcluded polls the job until it has concluded (or is gone).
func waitJobConcluded(ctx context.Context, run qmpFunc, id string) (jobInfo, error) {
	for {
		jobs, err := mirrorJobs(ctx, run)
		if err != nil {
			return jobInfo{}, err
		}
		found := false
		for _, j := range jobs {
			if j.ID != id {
				continue
			}
			found = true
			if j.Status == "concluded" || j.Status == "null" {
				return j, nil
			}
		}
		if !found {
			return jobInfo{ID: id}, nil
		}
		select {
		case <-ctx.Done():
			return jobInfo{}, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// queryMigrate is the source's (or destination's) migration status; a QEMU
// that never migrated answers "none".
func queryMigrate(ctx context.Context, sock string) (migrateInfo, error) {
	var mi migrateInfo
	if err := qmp(ctx, sock, "query-migrate", nil, &mi); err != nil {
		return mi, err
	}
	if mi.Status == "" {
		mi.Status = "none"
	}
	return mi, nil
}

// migrationProgress is mi with the mirrors' progress beside it. A failed
// query of the jobs leaves the disk figures out rather than failing a
// progress report.
func migrationProgress(ctx context.Context, sock string, mi migrateInfo) virt.MigrationProgress {
	p := virt.MigrationProgress{Status: mi.Status}
	if mi.RAM != nil {
		p.MemoryTotal, p.MemoryProcessed, p.MemoryRemaining = mi.RAM.Total, mi.RAM.Transferred, mi.RAM.Remaining
	}
	jobs, _ := mirrorJobs(ctx, onSocket(sock))
	for _, j := range jobs {
		p.DiskTotal += j.Total
		p.DiskProcessed += j.Current
		if j.Status != "ready" && j.Status != "concluded" {
			p.Mirroring = true
		}
	}
	p.DiskRemaining = p.DiskTotal - p.DiskProcessed
	return p
}

// LiveMigrationProgress is where the guest's migration stands on the source.
func (d *Driver) LiveMigrationProgress(ctx context.Context, s virt.Spec) (virt.MigrationProgress, error) {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, err)
	}
	if pid == 0 {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, ErrNotRunning)
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, err)
	}
	return migrationProgress(ctx, sock, mi), nil
}

// ForceCompleteLiveMigration pauses the source's guest so its migration
// converges, as upstream's libvirt driver does without post-copy.
func (d *Driver) ForceCompleteLiveMigration(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	if pid == 0 {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, ErrNoMigration)
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	if !migrationActive[mi.Status] && !exists(filepath.Join(s.Dir, migrationFile)) {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, ErrNoMigration)
	}
	if err := qmp(ctx, sock, "stop", nil, nil); err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	d.log.Info("guest paused to complete its migration", "uuid", s.UUID, "status", mi.Status)
	return nil
}

// AbortLiveMigration cancels the guest's migration on the source; the guest
// runs on there as before.
func (d *Driver) AbortLiveMigration(ctx context.Context, s virt.Spec) error {
	if err := d.abortMigration(ctx, s); err != nil {
		return fmt.Errorf("abort migration of %s: %w", s.UUID, err)
	}
	return nil
}

// abortMigration cancels the migration and the mirrors, removes the nbd
// nodes and resumes a guest that ran before. A completed migration is not
// undone: its guest lives on the destination.
func (d *Driver) abortMigration(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil || pid == 0 {
		return err
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return err
	}
	if mi.Status == "completed" {
		return errors.New("the migration has completed")
	}
	if migrationActive[mi.Status] {
		if err := qmp(ctx, sock, "migrate_cancel", nil, nil); err != nil {
			return err
		}
		for migrationActive[mi.Status] {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if mi, err = queryMigrate(ctx, sock); err != nil {
				return err
			}
		}
		if mi.Status == "completed" {
			return errors.New("the migration completed before it could be cancelled")
		}
	}
	drives, _ := localDriveIDs(s)
	if _, err := endMirrors(ctx, onSocket(sock), len(drives), true); err != nil {
		return err
	}
	var rec migrationRecord
	if readJSON(filepath.Join(s.Dir, migrationFile), &rec) == nil && rec.WasRunning {
		// Paused by a force-complete, or by QEMU for the switch-over.
		if err := qmp(ctx, sock, "cont", nil, nil); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(s.Dir, migrationFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.log.Info("live migration aborted", "uuid", s.UUID, "status", mi.Status)
	return nil
}

// FinishIncoming waits until the guest's state has arrived, stops the NBD
// server and resumes the guest (unless s.Paused).
func (d *Driver) FinishIncoming(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.finishIncoming(ctx, s); err != nil {
		return fmt.Errorf("finish incoming migration of %s: %w", s.UUID, err)
	}
	return nil
}

func (d *Driver) finishIncoming(ctx context.Context, s virt.Spec) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	if pid == 0 {
		if !exists(s.Dir) {
			return virt.ErrNotFound
		}
		// An incoming migration that fails ends the destination's QEMU.
		return fmt.Errorf("%w: %s", ErrNotRunning, tail(readFrom(filepath.Join(s.Dir, runLog), 0), 5))
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	for {
		status, err := queryStatus(ctx, s.Dir)
		if err != nil {
			return err
		}
		if status != "inmigrate" {
			break
		}
		mi, err := queryMigrate(ctx, sock)
		if err != nil {
			return err
		}
		if mi.Status == "failed" || mi.Status == "cancelled" {
			return fmt.Errorf("incoming migration %s: %s", mi.Status, mi.ErrorDesc)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(migratePoll):
		}
	}
	// Closing the exports before the vCPUs run: the guest's disks take back
	// their exclusive write permission when it resumes.
	if err := qmp(ctx, sock, "nbd-server-stop", nil, nil); err != nil && !strings.Contains(err.Error(), "not running") {
		return err
	}
	if !s.Paused {
		if err := qmp(ctx, sock, "cont", nil, nil); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(s.Dir, incomingFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.log.Info("incoming migration finished", "uuid", s.UUID, "paused", s.Paused)
	return nil
}

// readJSON decodes the file at path into v.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// writeJSON writes v to path aside and renames it into place, so a reader
// never sees half a file.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
