package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestComputeCLI drives the compute service with the real openstack CLI on the
// shared cloud, whose host runs the fake driver: key pairs, flavors (a private
// one with extra specs), a server booted onto the demo project's network and
// taken through every lifecycle action with the statuses of the reference's
// table, locks that bind the owner but not an admin, upstream's 400s and 409s
// for bad input, and a delete that gives back the server's port.
func TestComputeCLI(t *testing.T) {
	c := shared
	t.Parallel()

	imageName := uniqueName("cimg")
	fakeImage(t, c, imageName)

	// Key pairs: generated (the private key comes back once) and listed.
	key := uniqueName("key")
	priv := OS(t, c, demoCloud, "keypair", "create", key)
	t.Cleanup(func() { _, _ = c.OpenStack(nil, demoCloud, "keypair", "delete", key) })
	if !strings.Contains(priv, "PRIVATE KEY") {
		t.Fatalf("keypair create printed no private key:\n%s", priv)
	}
	var kp row
	OSJSON(t, c, demoCloud, &kp, "keypair", "show", key)
	if fp := str(kp, "fingerprint"); strings.Count(fp, ":") != 15 {
		t.Errorf("fingerprint %q is not an MD5 one", fp)
	}
	mustFail(t, c, demoCloud, "already exists", "keypair", "create", key)

	// Flavors: the defaults, and a private one only its project sees.
	if out := OS(t, c, demoCloud, "flavor", "list", "-f", "value", "-c", "Name"); !strings.Contains(out, "m1.tiny") {
		t.Fatalf("flavor list: %s", out)
	}
	flavorName := uniqueName("fl")
	var fl row
	OSJSON(t, c, adminCloud, &fl, "flavor", "create", "--ram", "256", "--disk", "1", "--vcpus", "1", "--private",
		"--property", "hw:cpu_policy=shared", flavorName)
	t.Cleanup(func() { _, _ = c.OpenStack(nil, adminCloud, "flavor", "delete", flavorName) })
	wantField(t, "private flavor", fl, "os-flavor-access:is_public", "false")
	if props := str(fl, "properties"); !strings.Contains(props, "hw:cpu_policy") {
		t.Errorf("flavor properties = %s", props)
	}
	mustFail(t, c, demoCloud, "No Flavor found", "flavor", "show", flavorName)
	mustFail(t, c, demoCloud, "Policy doesn't allow os_compute_api:os-flavor-manage:create", "flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", uniqueName("nope"))

	// Bad input: upstream's 400s, nothing created.
	base := []string{"server", "create", "--flavor", "m1.tiny", "--network", "private"}
	mustFail(t, c, demoCloud, "", append(base[:2:2], "--image", "no-such-image", "--flavor", "m1.tiny", uniqueName("bad"))...)
	mustFail(t, c, demoCloud, "No flavor with a name or ID of '"+str(fl, "id"), append(base[:2:2], "--image", imageName,
		"--flavor", str(fl, "id"), "--network", "private", uniqueName("bad"))...)
	mustFail(t, c, demoCloud, "Invalid key_name", append(base, "--image", imageName, "--key-name", "no-such-key", uniqueName("bad"))...)

	// Boot: ACTIVE, with an address on the network from a port the server owns.
	name := uniqueName("vm")
	var srv row
	OSJSON(t, c, demoCloud, &srv, append(base, "--image", imageName, "--key-name", key, "--wait", name)...)
	id := str(srv, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, demoCloud, "server", "delete", id) })
	wantField(t, "server create", srv, "status", "ACTIVE")
	wantField(t, "server create", srv, "key_name", key)
	if addr := str(srv, "addresses"); !strings.Contains(addr, "private") || !strings.Contains(addr, "10.0.0.") {
		t.Fatalf("addresses = %s", addr)
	}
	var ports []row
	OSJSON(t, c, adminCloud, &ports, "port", "list", "--device-id", id, "--long")
	if len(ports) != 1 {
		t.Fatalf("ports of the server: %v", ports)
	}
	portID := str(ports[0], "ID")
	var port row
	OSJSON(t, c, adminCloud, &port, "port", "show", portID)
	wantField(t, "server port", port, "device_owner", "compute:nova")
	if host := str(port, "binding_host_id"); host == "" {
		t.Errorf("the server's port is not bound to a host: %v", port)
	}
	var admin row
	OSJSON(t, c, adminCloud, &admin, "server", "show", id)
	if str(admin, "OS-EXT-SRV-ATTR:host") != str(port, "binding_host_id") {
		t.Errorf("server host %q, port bound to %q", str(admin, "OS-EXT-SRV-ATTR:host"), str(port, "binding_host_id"))
	}
	if !strings.HasPrefix(str(admin, "OS-EXT-SRV-ATTR:instance_name"), "instance-") {
		t.Errorf("instance name %q", str(admin, "OS-EXT-SRV-ATTR:instance_name"))
	}
	var demoView row
	OSJSON(t, c, demoCloud, &demoView, "server", "show", id)
	if _, ok := demoView["OS-EXT-SRV-ATTR:host"]; ok {
		t.Error("a member sees the server's host")
	}

	// The lifecycle, each action with its status and power state.
	for _, step := range []struct {
		args          []string
		status, power string
	}{
		{[]string{"stop"}, "SHUTOFF", "4"},
		{[]string{"start"}, "ACTIVE", "1"},
		{[]string{"reboot"}, "ACTIVE", "1"},
		{[]string{"reboot", "--hard"}, "ACTIVE", "1"},
		{[]string{"pause"}, "PAUSED", "3"},
		{[]string{"unpause"}, "ACTIVE", "1"},
		{[]string{"suspend"}, "SUSPENDED", "7"},
		{[]string{"resume"}, "ACTIVE", "1"},
	} {
		OS(t, c, demoCloud, append(append([]string{"server"}, step.args...), id)...)
		waitServer(t, c, id, step.status, step.power)
	}
	mustFail(t, c, demoCloud, "Cannot 'unpause' instance", "server", "unpause", id)
	mustFail(t, c, demoCloud, "Cannot 'start' instance", "server", "start", id)

	// A lock binds the owner, not an admin.
	OS(t, c, demoCloud, "server", "lock", id)
	mustFail(t, c, demoCloud, "is locked", "server", "stop", id)
	mustFail(t, c, demoCloud, "is locked", "server", "delete", id)
	OS(t, c, adminCloud, "server", "stop", id)
	waitServer(t, c, id, "SHUTOFF", "4")
	OS(t, c, adminCloud, "server", "start", id)
	waitServer(t, c, id, "ACTIVE", "1")
	OS(t, c, demoCloud, "server", "unlock", id)

	if out := OS(t, c, demoCloud, "console", "log", "show", id); !strings.Contains(out, id) {
		t.Errorf("console log: %q", out)
	}
	var services []row
	OSJSON(t, c, adminCloud, &services, "compute", "service", "list", "--service", "nova-compute")
	if len(services) == 0 || str(services[0], "Binary") != "nova-compute" || str(services[0], "State") != "up" {
		t.Errorf("compute service list: %v", services)
	}
	for _, binary := range []string{"nova-scheduler", "nova-conductor"} {
		OSJSON(t, c, adminCloud, &services, "compute", "service", "list", "--service", binary)
		if len(services) != 1 || str(services[0], "Zone") != "internal" || str(services[0], "State") != "up" {
			t.Errorf("compute service list --service %s: %v", binary, services)
		}
	}
	if out := OS(t, c, adminCloud, "server", "show", "--diagnostics", id); !strings.Contains(out, "memory") {
		t.Errorf("server show --diagnostics: %q", out)
	}
	mustFail(t, c, demoCloud, "os-server-diagnostics", "server", "show", "--diagnostics", id)

	// Delete: the server and its port go.
	OS(t, c, demoCloud, "server", "delete", "--wait", id)
	mustFail(t, c, demoCloud, "No server with a name or ID", "server", "show", id)
	mustFail(t, c, adminCloud, "", "port", "show", portID)
}

// waitServer waits until the server shows status and power state (as the CLI prints them).
func waitServer(t *testing.T, c *Cloud, id, status, power string) {
	t.Helper()
	var last row
	eventually(t, "server "+id+" to be "+status, func() bool {
		out, err := c.OpenStack(nil, demoCloud, "server", "show", id, "-f", "json", "-c", "status", "-c", "OS-EXT-STS:power_state")
		if err != nil || json.Unmarshal([]byte(out), &last) != nil {
			return false
		}
		return str(last, "status") == status && str(last, "OS-EXT-STS:power_state") == power
	})
}
