package e2e

import (
	"context"
	"slices"
	"testing"
)

// TestVolumeTransferCLI gives a volume from the demo project to the admin
// project with `openstack volume transfer request create/list/show/accept/
// delete` on the shared cloud: the auth key shown once, the volume
// awaiting-transfer, a wrong key refused, the accepted volume the admin
// project's and gone from demo's view, a deleted request giving the volume
// back its status.
func TestVolumeTransferCLI(t *testing.T) {
	t.Parallel()
	c := shared
	const admin, demo = "nimbus-admin", "nimbus-demo"
	volumeKind := []string{"volume"}

	var vol row
	OSJSON(t, c, demo, &vol, "volume", "create", "--size", "1", uniqueName("xfer"))
	volID := str(vol, "id")
	t.Cleanup(func() {
		deleteVolumeResource(c, demo, volumeKind, volID)
		deleteVolumeResource(c, admin, volumeKind, volID)
	})
	waitVolumeResource(t, c, demo, volumeKind, volID, "available")

	var req row
	OSJSON(t, c, demo, &req, "volume", "transfer", "request", "create", "--name", "gift", volID)
	reqID, key := str(req, "id"), str(req, "auth_key")
	if reqID == "" || len(key) != 16 {
		t.Fatalf("transfer request: %v", req)
	}
	waitVolumeResource(t, c, demo, volumeKind, volID, "awaiting-transfer")

	var list []row
	OSJSON(t, c, demo, &list, "volume", "transfer", "request", "list")
	if !slices.ContainsFunc(list, func(r row) bool { return str(r, "ID") == reqID && str(r, "Volume") == volID }) {
		t.Fatalf("list lacks %s: %v", reqID, list)
	}
	var shown row
	OSJSON(t, c, demo, &shown, "volume", "transfer", "request", "show", reqID)
	if str(shown, "name") != "gift" || str(shown, "auth_key") != "" {
		t.Fatalf("show: %v", shown)
	}
	// the request is demo's: the admin project does not list it
	OSJSON(t, c, admin, &list, "volume", "transfer", "request", "list")
	if slices.ContainsFunc(list, func(r row) bool { return str(r, "ID") == reqID }) {
		t.Fatalf("the admin project lists demo's request: %v", list)
	}

	mustFail(t, c, admin, "Invalid auth key", "volume", "transfer", "request", "accept", "--auth-key", "0123456789abcdef", reqID)
	OS(t, c, admin, "volume", "transfer", "request", "accept", "--auth-key", key, reqID)
	if _, err := c.OpenStack(context.Background(), demo, "volume", "show", volID); err == nil {
		t.Fatal("demo still sees the volume it gave away")
	}
	waitVolumeResource(t, c, admin, volumeKind, volID, "available")
	mustFail(t, c, demo, "No volumetransfer with a name or ID", "volume", "transfer", "request", "show", reqID)

	// a request deleted before anyone accepts it gives the volume back
	OSJSON(t, c, admin, &req, "volume", "transfer", "request", "create", volID)
	waitVolumeResource(t, c, admin, volumeKind, volID, "awaiting-transfer")
	OS(t, c, admin, "volume", "transfer", "request", "delete", str(req, "id"))
	waitVolumeResource(t, c, admin, volumeKind, volID, "available")
}
