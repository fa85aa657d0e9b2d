package qemu

import (
	"context"
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
