package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// volumeWait is how long a volume, snapshot or backup may take to settle: a
// backup reads the whole volume, which on a busy machine takes a while.
const volumeWait = 3 * time.Minute

// waitVolumeResource waits until `openstack <kind> show id` reports status.
func waitVolumeResource(t *testing.T, c *Cloud, cloud string, kind []string, id, status string) row {
	t.Helper()
	var last row
	ok := eventuallyWithin(volumeWait, func() bool {
		args := append(slices.Clone(kind), "show", id, "-f", "json")
		out, err := c.OpenStack(context.Background(), cloud, args...)
		if err != nil || json.Unmarshal([]byte(out), &last) != nil {
			return false
		}
		if s := str(last, "status"); s == "error" && status != "error" {
			t.Fatalf("%v %s went to error: %v", kind, id, last)
		}
		return str(last, "status") == status
	})
	if !ok {
		t.Fatalf("%v %s did not become %s: %v", kind, id, status, last)
	}
	return last
}

// deleteVolumeResource deletes and waits until show no longer finds it, so a
// volume's cleanup runs after its snapshots are gone.
func deleteVolumeResource(c *Cloud, cloud string, kind []string, id string) {
	ctx := context.Background()
	_, _ = c.OpenStack(ctx, cloud, append(slices.Clone(kind), "delete", id)...)
	eventuallyWithin(volumeWait, func() bool {
		_, err := c.OpenStack(ctx, cloud, append(slices.Clone(kind), "show", id)...)
		return err != nil
	})
}

// restoreBackup runs `openstack volume backup restore`: Debian's
// python-openstackclient 6.0 prints the restore with a ShowOne that returns
// the API's answer as it is, so after the 202 it fails with "cannot unpack
// non-iterable VolumeBackupsRestore object"; that client-side error is taken
// as the success it follows, any other is not.
func restoreBackup(t *testing.T, c *Cloud, cloud string, args ...string) {
	t.Helper()
	out, err := c.OpenStack(context.Background(), cloud, append([]string{"volume", "backup", "restore"}, args...)...)
	if err != nil && !strings.Contains(out, "cannot unpack non-iterable VolumeBackupsRestore object") {
		t.Fatalf("openstack volume backup restore %v: %v: %s", args, err, out)
	}
}

// TestVolumeSnapshotBackupCLI drives snapshots, backups, zones and services
// with the real openstack CLI: a snapshot of a volume and a volume made from
// it, a full and an incremental backup, restores into a new and into an
// existing volume, and the errors upstream gives.
func TestVolumeSnapshotBackupCLI(t *testing.T) {
	t.Parallel()
	c := shared
	const admin, demo = "nimbus-admin", "nimbus-demo"
	volumeKind, snapshotKind, backupKind := []string{"volume"}, []string{"volume", "snapshot"}, []string{"volume", "backup"}
	cleanup := func(kind []string, id string) {
		t.Cleanup(func() { deleteVolumeResource(c, demo, kind, id) })
	}

	var vol row
	OSJSON(t, c, demo, &vol, "volume", "create", "--size", "1", uniqueName("vol"))
	volID := str(vol, "id")
	cleanup(volumeKind, volID)
	waitVolumeResource(t, c, demo, volumeKind, volID, "available")

	// a snapshot, listed and shown; the volume cannot go while it exists
	snapName := uniqueName("snap")
	var snap row
	OSJSON(t, c, demo, &snap, "volume", "snapshot", "create", "--volume", volID, "--description", "e2e", snapName)
	snapID := str(snap, "id")
	cleanup(snapshotKind, snapID)
	snap = waitVolumeResource(t, c, demo, snapshotKind, snapID, "available")
	wantField(t, "snapshot show", snap, "name", snapName)
	wantField(t, "snapshot show", snap, "size", "1")
	wantField(t, "snapshot show", snap, "volume_id", volID)
	var snaps []row
	OSJSON(t, c, demo, &snaps, "volume", "snapshot", "list")
	if _, ok := findRow(snaps, "ID", snapID); !ok {
		t.Fatalf("snapshot list lacks %s: %v", snapID, snaps)
	}
	mustFail(t, c, demo, "snapshots", "volume", "delete", volID)

	// a volume made from the snapshot
	var clone row
	OSJSON(t, c, demo, &clone, "volume", "create", "--snapshot", snapID, uniqueName("clone"))
	cloneID := str(clone, "id")
	cleanup(volumeKind, cloneID)
	clone = waitVolumeResource(t, c, demo, volumeKind, cloneID, "available")
	wantField(t, "volume from snapshot", clone, "snapshot_id", snapID)
	wantField(t, "volume from snapshot", clone, "size", "1")

	// backups: an incremental one needs a full one first
	mustFail(t, c, demo, "No backups available to do an incremental backup", "volume", "backup", "create", "--incremental", volID)
	var full row
	OSJSON(t, c, demo, &full, "volume", "backup", "create", "--name", uniqueName("full"), volID)
	fullID := str(full, "id")
	cleanup(backupKind, fullID)
	full = waitVolumeResource(t, c, demo, backupKind, fullID, "available")
	wantField(t, "full backup", full, "is_incremental", "false")
	wantField(t, "full backup", full, "size", "1")
	waitVolumeResource(t, c, demo, volumeKind, volID, "available")
	var incr row
	OSJSON(t, c, demo, &incr, "volume", "backup", "create", "--incremental", "--name", uniqueName("incr"), volID)
	incrID := str(incr, "id")
	cleanup(backupKind, incrID)
	incr = waitVolumeResource(t, c, demo, backupKind, incrID, "available")
	wantField(t, "incremental backup", incr, "is_incremental", "true")
	mustFail(t, c, demo, "Incremental backups exist for this backup", "volume", "backup", "delete", fullID)
	var backups []row
	OSJSON(t, c, demo, &backups, "volume", "backup", "list")
	for _, id := range []string{fullID, incrID} {
		if _, ok := findRow(backups, "ID", id); !ok {
			t.Fatalf("backup list lacks %s: %v", id, backups)
		}
	}

	// restore into a new volume, and over the existing one
	restoredName := uniqueName("restored")
	waitVolumeResource(t, c, demo, volumeKind, volID, "available")
	restoreBackup(t, c, demo, incrID, restoredName)
	var restored row
	OSJSON(t, c, demo, &restored, "volume", "show", restoredName)
	restoredID := str(restored, "id")
	cleanup(volumeKind, restoredID)
	restored = waitVolumeResource(t, c, demo, volumeKind, restoredID, "available")
	wantField(t, "restored volume", restored, "name", restoredName)
	wantField(t, "restored volume", restored, "size", "1")
	waitVolumeResource(t, c, demo, backupKind, incrID, "available")
	mustFail(t, c, demo, "--force", "volume", "backup", "restore", fullID, volID)
	restoreBackup(t, c, demo, "--force", fullID, volID)
	waitVolumeResource(t, c, demo, volumeKind, volID, "available")
	waitVolumeResource(t, c, demo, backupKind, fullID, "available")

	// deletes: the incremental, then its parent; the snapshot
	deleteVolumeResource(c, demo, backupKind, incrID)
	deleteVolumeResource(c, demo, backupKind, fullID)
	deleteVolumeResource(c, demo, snapshotKind, snapID)
	if out, err := c.OpenStack(context.Background(), demo, "volume", "snapshot", "show", snapID); err == nil {
		t.Fatalf("deleted snapshot still shows: %s", out)
	}

	// zones and services
	var zones []row
	OSJSON(t, c, demo, &zones, "availability", "zone", "list", "--volume")
	if len(zones) == 0 || str(zones[0], "Zone Status") != "available" {
		t.Fatalf("volume zones %v", zones)
	}
	var services []row
	OSJSON(t, c, admin, &services, "volume", "service", "list")
	for _, binary := range []string{"cinder-scheduler", "cinder-volume", "cinder-backup"} {
		s, ok := findRow(services, "Binary", binary)
		if !ok {
			t.Fatalf("volume service list lacks %s: %v", binary, services)
		}
		wantField(t, binary, s, "State", "up")
		wantField(t, binary, s, "Status", "enabled")
	}
	mustFail(t, c, demo, "Policy doesn't allow", "volume", "service", "list")
}
