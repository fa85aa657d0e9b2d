// Package iscsi is the volume service's iSCSI backend, upstream's LVM-free
// equivalent of cinder.volume.targets.tgt: volumes are sparse raw files in a
// pool directory (<pool>/volume-<id>), served by Debian's user-space target
// tgt (its rdwr backing store reads and writes the file), and attached by
// QEMU's own iSCSI client (libiscsi), so no host needs a kernel initiator.
//
// One tgtd serves the backend: a child of the volume service run in the
// foreground, with a control port (-C) and a portal address:port of its own
// kept in <pool>/.tgtd, so parallel clouds on one machine never talk to each
// other's daemon, and a restarted service (or a tgtd restarted after kill -9)
// comes back on the same portal, where attached guests reconnect.
//
// Each attachment has a target of its own, iqn.2010-10.org.openstack:volume-<id>
// (upstream's name) followed by ":<attachment id>", with one LUN over the
// volume's file (read-only for a read-only attachment), a CHAP account of its
// own (upstream's incominguser, random user and password per attachment), and
// an ACL naming the connector's initiator. Unexport deletes that target: its
// sessions end and its credentials open nothing, whatever other attachments
// of the volume do.
//
// tgtd keeps its targets in memory only: what the backend wants exported is
// recorded in <pool>/.exports/volume-<id>.json, and Reconcile makes tgtd's
// live state match the manager's wish (level-triggered, after a kill -9 too);
// Exports reads the live state. Snapshots are sparse copies
// (<pool>/snapshot-<id>), clones and volumes from snapshots too.
package iscsi

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

var _ backend.Backend = (*Backend)(nil)

// Options configure an iSCSI backend.
type Options struct {
	// Name is the backend's volume_backend_name (default "iscsi").
	Name string
	// Pool is the directory holding the volumes (required; created if absent).
	Pool string
	// Host is the portal's IP address, given to the attaching hosts (default
	// 127.0.0.1; not a wildcard).
	Host string
	// Port is the portal's TCP port; 0 picks a free one at the first start
	// and keeps it (3260, iSCSI's own, would collide between parallel clouds).
	Port int
	// Namespace, when set, is the network namespace tgtd listens in (the
	// host's network where hosts are simulated as namespaces).
	Namespace string
	// ControlPort is tgtd's management port (tgtd -C, tgtadm -C); 0 picks one
	// from the pool's path that no other tgtd holds, and keeps it.
	ControlPort int
	// VolumeClearZero writes zeros over a volume's data before it is unlinked
	// (upstream's volume_clear = zero).
	VolumeClearZero bool
	// MaxOversubscriptionRatio is reported to the scheduler (default 20).
	MaxOversubscriptionRatio float64
	// Binaries (defaults: found on PATH).
	TGTD, TGTAdm, QEMUImg string
	Logger                *slog.Logger
}

// Backend is a pool of raw volumes served over iSCSI by tgtd.
type Backend struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	locks backend.VolumeLocks // per volume: one operation at a time
	// tgt serializes the changes of tgtd's configuration (target ids are
	// allocated from its live state) and the daemon's start.
	tgt sync.Mutex
	// daemon is the tgtd this process started (nil when it runs from a
	// previous one, or not at all).
	daemon *daemonProcess
}

// New checks opts and makes the pool's directories; tgtd starts with the
// first export (or Reconcile).
func New(opts Options) (*Backend, error) {
	if opts.Name == "" {
		opts.Name = "iscsi"
	}
	if !filepath.IsAbs(opts.Pool) {
		return nil, fmt.Errorf("iscsi backend: pool %q must be an absolute path", opts.Pool)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(opts.Host); ip == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("iscsi backend: host %q must be an IP address the compute hosts reach", opts.Host)
	}
	if opts.Port < 0 || opts.Port > 65535 || opts.ControlPort < 0 || opts.ControlPort > 65535 {
		return nil, fmt.Errorf("iscsi backend: bad port %d or control port %d", opts.Port, opts.ControlPort)
	}
	if opts.MaxOversubscriptionRatio == 0 {
		opts.MaxOversubscriptionRatio = 20
	}
	if opts.TGTD == "" {
		opts.TGTD = "tgtd"
	}
	if opts.TGTAdm == "" {
		opts.TGTAdm = "tgtadm"
	}
	if opts.QEMUImg == "" {
		opts.QEMUImg = "qemu-img"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Backend{opts: opts, log: opts.Logger.With("backend", opts.Name)}
	for _, dir := range []string{b.exportsDir(), b.daemonDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("iscsi backend: %w", err)
		}
	}
	return b, nil
}

// Name is the volume_backend_name.
func (b *Backend) Name() string { return b.opts.Name }

// targetPrefix is upstream's iscsi_target_prefix.
const targetPrefix = "iqn.2010-10.org.openstack:"

// targetIQN is the attachment's target: upstream's volume target name, then
// the attachment (a target per attachment: its own LUN mode, CHAP and ACL).
func targetIQN(volumeID, attachmentID string) string {
	return targetPrefix + "volume-" + volumeID + ":" + attachmentID
}

// parseTargetIQN gives the volume and attachment of one of the backend's
// targets; ok is false for any other name.
func parseTargetIQN(iqn string) (volumeID, attachmentID string, ok bool) {
	rest, ok := strings.CutPrefix(iqn, targetPrefix+"volume-")
	if !ok {
		return "", "", false
	}
	volumeID, attachmentID, ok = strings.Cut(rest, ":")
	if !ok || backend.CheckIDs(volumeID, attachmentID) != nil {
		return "", "", false
	}
	return volumeID, attachmentID, true
}

// volumePath is the volume's raw file, as upstream names it.
func (b *Backend) volumePath(id string) string { return filepath.Join(b.opts.Pool, "volume-"+id) }

// snapshotPath is the snapshot's sparse copy.
func (b *Backend) snapshotPath(id string) string { return filepath.Join(b.opts.Pool, "snapshot-"+id) }

// exportsDir holds each exported volume's records.
func (b *Backend) exportsDir() string { return filepath.Join(b.opts.Pool, ".exports") }

// daemonDir holds tgtd's pid, ports and log.
func (b *Backend) daemonDir() string { return filepath.Join(b.opts.Pool, ".tgtd") }

// lock serializes the operations on one volume and returns the unlock.
func (b *Backend) lock(volumeID string) func() { return b.locks.Lock(volumeID) }

// gib is one GiB, the unit of volume sizes.
const gib = 1 << 30
