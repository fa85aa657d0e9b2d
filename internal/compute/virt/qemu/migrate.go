package qemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
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
//
// The destination's steps are in migrate_incoming.go, the source's in
// migrate_source.go, abort, force-complete and progress in
// migrate_control.go.

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
