package e2e

import (
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// TestComputeOtherHost: the cloud's own host runs no compute agent; a second
// host joins with `nimbus serve --role compute` and runs QEMU. A server lands
// there (its agent talks to the conductor over the bus only), boots, leases its
// address from the DHCP server on the first host across the VXLAN tunnel, shows
// its console through the bus, and its delete leaves nothing on the host.
func TestComputeOtherHost(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "o")
	b := d.bed
	hostB := b.Netns("h2")
	nameB := b.Prefix + "-h2"
	underlay(b, hostB)
	d.start("NIMBUS_NETWORK_LOCAL_IP=192.0.2.1", "NIMBUS_COMPUTE_DRIVER=none", "NIMBUS_IMAGE_GUEST_IMAGE=true",
		"NIMBUS_NETWORK_METADATA_URL=")
	d.joinNode(nameB, hostB, "192.0.2.2", "NIMBUS_COMPUTE_DRIVER=qemu")

	var services []row
	eventually(t, "the second host's compute service up", func() bool {
		OSJSON(t, d.Cloud, adminCloud, &services, "compute", "service", "list", "--service", "nova-compute")
		return len(services) == 1 && str(services[0], "Host") == nameB && str(services[0], "State") == "up"
	})
	var srv row
	OSJSON(t, d.Cloud, demoCloud, &srv, "server", "create", "--image", "nimbus-guest-direct", "--flavor", "m1.tiny",
		"--network", "private", "--wait", "vm-b")
	id := str(srv, "id")
	wantField(t, "server create", srv, "status", "ACTIVE")
	var admin row
	OSJSON(t, d.Cloud, adminCloud, &admin, "server", "show", id)
	wantField(t, "server host", admin, "OS-EXT-SRV-ATTR:host", nameB)
	var p port
	OSJSON(t, d.Cloud, adminCloud, &p, "port", "show", portIDOf(t, d, id))

	console := func() string {
		out, _ := d.OpenStack(nil, demoCloud, "console", "log", "show", id)
		return out
	}
	eventually(t, "the boot marker on the other host's guest", func() bool { return strings.Contains(console(), guestimage.BootMarker) })
	if out := console(); !strings.Contains(out, "nimbus-guest: ip eth0 "+p.ip()+"/") {
		t.Fatalf("the guest's DHCP address is not its port's %s:\n%s", p.ip(), tail(out, 40))
	}
	tap := "tap" + p.ID[:11]
	b.Sh(hostB, "ip", "link", "show", tap)
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", id)
	eventually(t, "the tap gone from the other host", func() bool {
		_, err := b.Try(hostB, "ip", "link", "show", tap)
		return err != nil
	})
}
