package e2e

import (
	"strings"
	"testing"
)

// TestComputeConformanceCLI drives issue 18's compute behaviours with the real
// openstack CLI on the shared cloud (fake driver): os-resetState (server set
// --state), console output tailed as upstream computes it (console log show
// --lines), a key pair created at a 2.2+ microversion, and a deleted server
// that is 404 to an admin too.
func TestComputeConformanceCLI(t *testing.T) {
	c := shared
	t.Parallel()

	imageName := uniqueName("confimg")
	fakeImage(t, c, imageName)
	var srv row
	OSJSON(t, c, demoCloud, &srv, "server", "create", "--flavor", "m1.tiny", "--network", "private", "--image", imageName,
		"--wait", uniqueName("conf"))
	id := str(srv, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, adminCloud, "server", "delete", id) })

	// The fake guest's log is "FAKE CONSOLE OUTPUT\n<id> booted\n": split on
	// "\n" that is three pieces, so the last two are "<id> booted" and "".
	if out := OS(t, c, demoCloud, "console", "log", "show", "--lines", "2", id); strings.Contains(out, "FAKE CONSOLE OUTPUT") || !strings.Contains(out, id+" booted") {
		t.Errorf("console log show --lines 2: %q", out)
	}

	// os-resetState: admins only.
	mustFail(t, c, demoCloud, "os-admin-actions:reset_state", "server", "set", "--state", "error", id)
	OS(t, c, adminCloud, "server", "set", "--state", "error", id)
	waitServer(t, c, id, "ERROR", "1")
	OS(t, c, adminCloud, "server", "set", "--state", "active", id)
	waitServer(t, c, id, "ACTIVE", "1")

	// A key pair at 2.2+ (201) as the CLI creates it by default.
	key := uniqueName("confkey")
	OS(t, c, demoCloud, "--os-compute-api-version", "2.2", "keypair", "create", key)
	OS(t, c, demoCloud, "--os-compute-api-version", "2.2", "keypair", "delete", key)

	// Deleted: 404 to the admin as well (no DELETED server to wait on).
	OS(t, c, demoCloud, "server", "delete", "--wait", id)
	mustFail(t, c, adminCloud, "No server with a name or ID", "server", "show", id)
}
