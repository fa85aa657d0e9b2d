// Package file is the volume service's default backend: volumes are thin qcow2
// files in a pool directory (<pool>/volume-<id>, the name upstream's drivers
// give them), and a volume is served to hypervisors over NBD by a
// qemu-storage-daemon, the way upstream's NFS and generic file drivers keep
// volumes as files and an iSCSI target serves them.
//
// Snapshots are qcow2 internal snapshots named snapshot-<id> inside the
// volume's file: the volume stays one file, whatever its snapshots, so a
// delete removes everything with one unlink, a snapshot's delete merges nothing
// into anything, and a snapshot of an exported volume is one QMP command
// (blockdev-snapshot-internal-sync) to the daemon that holds the image open. A
// backing chain would make every snapshot a file to rename under a running
// export and every delete a block-commit.
//
// Each exported volume has a qemu-storage-daemon of its own, started detached
// with a pid file, a QMP socket and its state under <pool>/.exports/volume-<id>,
// so it outlives the volume service and is found again. Why one per volume and
// not one per backend: QEMU's NBD server checks TLS-PSK identities per server
// (a process has one), so a daemon that served several volumes would let any
// attachment's key open every volume's export; with one daemon per volume, an
// attachment's key opens its volume and nothing else. A crashed or killed daemon
// also takes one volume's exports with it, not the whole backend's. Each
// attachment has an export (and a PSK identity and key) of its own, so Unexport
// closes that attachment's connections and revokes its key only.
//
// The backend is level-triggered: what is on disk and what the daemons serve is
// its truth, every method is idempotent, and Reconcile makes the daemons serve
// exactly the exports the volume manager wants (after kill -9 too).
package file

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

// Options configure a file backend.
type Options struct {
	// Name is the backend's volume_backend_name (default "file").
	Name string
	// Pool is the directory holding the volumes (required; created if absent).
	Pool string
	// Host is the IP address the NBD servers listen on and connection_info
	// gives the attaching hosts (default 127.0.0.1; not a wildcard).
	Host string
	// Namespace, when set, is the network namespace the NBD servers listen in
	// and their local clients connect from: the host's network, where a host
	// is simulated as a namespace (network.host_namespace), as the compute
	// driver runs QEMU there.
	Namespace string
	// PortMin and PortMax bound the NBD servers' ports (one per exported
	// volume); both 0 lets the kernel pick. A volume keeps its port across
	// daemon restarts, so attached guests reconnect to the same address.
	PortMin, PortMax int
	// VolumeClearZero writes zeros over a volume's file before it is unlinked
	// (upstream's volume_clear = zero).
	VolumeClearZero bool
	// PageCache has the daemons open the volumes through the host's page cache
	// (cache.direct=off, aio=threads). The default is O_DIRECT with Linux AIO
	// (cache.direct=on, aio=native), as Nova opens a volume (cache=none):
	// through the export it reads 1 MiB requests 1.5-2x faster, one copy
	// fewer (docs/PERFORMANCE.md, "Block storage"). A pool whose file system
	// refuses O_DIRECT (tmpfs before Linux 6.6) falls back to the page cache by itself.
	PageCache bool
	// MaxOversubscriptionRatio is reported to the scheduler (default 20, as
	// upstream's max_over_subscription_ratio).
	MaxOversubscriptionRatio float64
	// Binaries (defaults: found on PATH).
	QEMUImg, StorageDaemon, QEMUNBD string
	Logger                          *slog.Logger
}

// Backend is a pool of qcow2 volumes served over NBD.
type Backend struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	locks    backend.VolumeLocks // per volume: one operation at a time
	opens    map[string]bool     // identities of the Opens in progress
	openDirs map[string]bool     // and their private servers' directories

	// plainNBD serves the exports without TLS: only this package's benchmark
	// sets it, to measure NBD with qemu-img bench (which cannot be given the
	// TLS credentials object) beside the TLS figures.
	plainNBD bool
}

// New checks opts and makes the pool's directories.
func New(opts Options) (*Backend, error) {
	if opts.Name == "" {
		opts.Name = "file"
	}
	if !filepath.IsAbs(opts.Pool) {
		return nil, fmt.Errorf("file backend: pool %q must be an absolute path", opts.Pool)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	// connection_info gives Host to the attaching hosts: it must be an address
	// they reach, so not a wildcard (nor a name, which could resolve elsewhere
	// there than here).
	if ip := net.ParseIP(opts.Host); ip == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("file backend: host %q must be an IP address the compute hosts reach", opts.Host)
	}
	if opts.PortMin < 0 || opts.PortMax < opts.PortMin || opts.PortMax > 65535 || (opts.PortMin == 0) != (opts.PortMax == 0) {
		return nil, fmt.Errorf("file backend: bad port range %d-%d", opts.PortMin, opts.PortMax)
	}
	if opts.MaxOversubscriptionRatio == 0 {
		opts.MaxOversubscriptionRatio = 20
	}
	if opts.QEMUImg == "" {
		opts.QEMUImg = "qemu-img"
	}
	if opts.StorageDaemon == "" {
		opts.StorageDaemon = "qemu-storage-daemon"
	}
	if opts.QEMUNBD == "" {
		opts.QEMUNBD = "qemu-nbd"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Backend{opts: opts, log: opts.Logger.With("backend", opts.Name), opens: map[string]bool{}, openDirs: map[string]bool{}}
	if err := os.MkdirAll(b.exportsDir(), 0o700); err != nil {
		return nil, fmt.Errorf("file backend: %w", err)
	}
	return b, nil
}

// Name is the volume_backend_name.
func (b *Backend) Name() string { return b.opts.Name }

// volumePath is the volume's file, as upstream names it.
func (b *Backend) volumePath(id string) string { return filepath.Join(b.opts.Pool, "volume-"+id) }

// snapshotName is the qcow2 internal snapshot's name, upstream's snapshot-<id>.
func snapshotName(id string) string { return "snapshot-" + id }

// exportsDir holds one state directory per exported volume.
func (b *Backend) exportsDir() string { return filepath.Join(b.opts.Pool, ".exports") }

// stateDir is the exported volume's daemon state: pid file, QMP socket, port,
// keys and exports.
func (b *Backend) stateDir(id string) string { return filepath.Join(b.exportsDir(), "volume-"+id) }

// lock serializes the operations on one volume and returns the unlock.
func (b *Backend) lock(volumeID string) func() { return b.locks.Lock(volumeID) }

// gib is one GiB, the unit of volume sizes.
const gib = 1 << 30

// isVolumeFile reports whether a pool entry's name is a volume's file (not a
// temporary one being created, nor the state directory).
func isVolumeFile(name string) bool {
	id, ok := strings.CutPrefix(name, "volume-")
	return ok && backend.ValidID(id)
}
