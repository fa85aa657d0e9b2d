package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

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
