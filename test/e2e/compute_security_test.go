package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 16 on a real cloud, driven as the attacker would with the openstack
// CLI: the demo project against the admin project's private images, and
// against the external network.

// TestComputeRefusesAnotherProjectsKernel (finding 3): demo uploads an image
// of its own whose kernel_id and ramdisk_id name the admin project's private
// kernel and ramdisk; the host's agent would fetch those with the cloud's own
// credentials, so compute looks them up as demo, and the image service's
// visibility refuses the boot (upstream's 400), the rebuild and the rescue:
// no server is made and nothing of the admin project's reaches a host.
func TestComputeRefusesAnotherProjectsKernel(t *testing.T) {
	c := shared
	t.Parallel()
	private := func(format string) string {
		var img row
		OSJSON(t, c, adminCloud, &img, "image", "create", "--private", "--disk-format", format, "--container-format", format,
			uniqueName("victim-"+format))
		id := str(img, "id")
		t.Cleanup(func() { _, _ = c.OpenStack(nil, adminCloud, "image", "delete", id) })
		return id
	}
	aki, ari := private("aki"), private("ari")
	mustFail(t, c, demoCloud, "", "image", "show", aki) // demo cannot see them

	file := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(file, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var evil row
	OSJSON(t, c, demoCloud, &evil, "image", "create", "--private", "--disk-format", "raw", "--container-format", "bare",
		"--file", file, "--property", "kernel_id="+aki, "--property", "ramdisk_id="+ari, uniqueName("evil"))
	evilID := str(evil, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, demoCloud, "image", "delete", evilID) })

	name := uniqueName("thief")
	mustFail(t, c, demoCloud, "Can not find requested image", "server", "create", "--image", evilID, "--flavor", "m1.tiny",
		"--network", "private", name)
	if out := OS(t, c, adminCloud, "server", "list", "--all-projects", "--name", name, "-f", "value", "-c", "ID"); strings.TrimSpace(out) != "" {
		t.Fatalf("a server was made: %s", out)
	}

	// Nor onto an existing server by rebuild or rescue.
	plain := uniqueName("plain")
	fakeImage(t, c, plain)
	var srv row
	OSJSON(t, c, demoCloud, &srv, "server", "create", "--image", plain, "--flavor", "m1.tiny", "--network", "private", "--wait", uniqueName("vm"))
	id := str(srv, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, demoCloud, "server", "delete", id) })
	mustFail(t, c, demoCloud, "Cannot find image for rebuild", "server", "rebuild", "--image", evilID, id)
	mustFail(t, c, demoCloud, "Requested rescue image", "server", "rescue", "--image", evilID, id)
	OSJSON(t, c, demoCloud, &srv, "server", "show", id)
	wantField(t, "the server after the refused rebuild and rescue", srv, "status", "ACTIVE")
}

// TestComputeRefusesTheExternalNetwork (finding 8): demo cannot attach a
// server to the external network, with or without an address of its choice,
// at boot or by interface attach (upstream's network:attach_external_network,
// 403); nothing is made.
func TestComputeRefusesTheExternalNetwork(t *testing.T) {
	c := shared
	t.Parallel()
	image := uniqueName("ext")
	fakeImage(t, c, image)
	var public row
	OSJSON(t, c, demoCloud, &public, "network", "show", "public")
	publicID := str(public, "id")
	ports := func() string {
		return OS(t, c, adminCloud, "port", "list", "--network", publicID, "-f", "value", "-c", "ID")
	}
	before := ports()

	name := uniqueName("onpublic")
	const refusal = "It is not allowed to create an interface on external network " // HTTP 403
	mustFail(t, c, demoCloud, refusal+publicID, "server", "create", "--image", image, "--flavor", "m1.tiny", "--network", "public", name)
	mustFail(t, c, demoCloud, refusal+publicID, "server", "create", "--image", image, "--flavor", "m1.tiny",
		"--nic", "net-id="+publicID+",v4-fixed-ip=172.24.4.200", name)
	if out := OS(t, c, adminCloud, "server", "list", "--all-projects", "--name", name, "-f", "value", "-c", "ID"); strings.TrimSpace(out) != "" {
		t.Fatalf("a server was made: %s", out)
	}

	var srv row
	OSJSON(t, c, demoCloud, &srv, "server", "create", "--image", image, "--flavor", "m1.tiny", "--network", "private", "--wait", uniqueName("vm"))
	id := str(srv, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, demoCloud, "server", "delete", id) })
	mustFail(t, c, demoCloud, refusal+publicID, "server", "add", "network", id, "public")
	if after := ports(); after != before {
		t.Fatalf("ports on the external network were made:\nbefore %s\nafter %s", before, after)
	}
}
