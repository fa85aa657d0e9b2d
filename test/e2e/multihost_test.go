package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// joinNode starts `nimbus serve --role compute` for a second simulated host: its
// namespace is hostNS, its tunnel endpoint vtep, and it joins the cloud with the
// join.toml the cloud wrote, with env (NIMBUS_*=...) added. It is stopped at cleanup.
func (d *dataplaneCloud) joinNode(name, hostNS, vtep string, env ...string) *process {
	t := d.t
	t.Helper()
	dir := t.TempDir()
	args := []string{"serve", "--role", "compute", "--config", filepath.Join(d.Dir, "join.toml"), "--data-dir", dir}
	env = append([]string{"NIMBUS_NETWORK_DATAPLANE=on", "NIMBUS_NETWORK_HOST=" + name,
		"NIMBUS_NETWORK_HOST_NAMESPACE=" + hostNS, "NIMBUS_NETWORK_LOCAL_IP=" + vtep}, env...)
	logFile := filepath.Join(dir, "node.log")
	p, line, err := startProcess(args, env, logFile, "nimbus node ready")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "host="+name) {
		t.Fatalf("node ready line %q does not name host %s", line, name)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop node %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", name, tail(readText(logFile), 100))
		}
	})
	return p
}

// TestNetworkTwoHosts: a second host joins the cloud with `nimbus serve`, two
// namespaces joined by a veth playing the hosts and their physical link. Instances
// of one VXLAN network on the two hosts get their leases from the one DHCP server
// (across the tunnel), ping each other, and the one on the compute host reaches the
// metadata proxy of the router on the other; the agent list shows both hosts; a
// kill -9 of the compute host's agent loses nothing.
func TestNetworkTwoHosts(t *testing.T) {
	t.Parallel()
	d := newDataplaneBed(t, "m")
	b := d.bed
	hostB := b.Netns("h2")
	nameB := b.Prefix + "-h2"
	underlay(b, hostB)
	d.start("NIMBUS_NETWORK_LOCAL_IP=192.0.2.1")
	node := d.joinNode(nameB, hostB, "192.0.2.2")

	var agents []row
	eventually(t, "the compute host's L2 agent alive", func() bool {
		OSJSON(t, d.Cloud, adminCloud, &agents, "network", "agent", "list", "--host", nameB)
		return len(agents) == 1 && str(agents[0], "Alive") == "true"
	})
	if a := agents[0]; str(a, "Agent Type") != "Linux bridge agent" || str(a, "Binary") != "neutron-linuxbridge-agent" {
		t.Fatalf("compute host agents = %v, want only its Linux bridge agent", agents)
	}
	var l2 row
	OSJSON(t, d.Cloud, adminCloud, &l2, "network", "agent", "show", str(agents[0], "ID"))
	if conf, _ := l2["configuration"].(map[string]any); conf["tunneling_ip"] != "192.0.2.2" {
		t.Fatalf("compute host's L2 agent configurations = %v, want tunneling_ip 192.0.2.2", l2["configuration"])
	}

	vmA := d.boundPort(demoCloud, "private", "vm-a")
	vmB := d.boundPortOn(nameB, demoCloud, "private", "vm-b")
	nsA := d.instance("vm-a", vmA.ID, vmA.MAC)
	nsB := d.instanceOn(hostB, "vm-b", vmB.ID, vmB.MAC)
	eventually(t, "both instances' ports ACTIVE", func() bool {
		return d.portStatus(vmA.ID) == "ACTIVE" && d.portStatus(vmB.ID) == "ACTIVE"
	})
	var p row
	OSJSON(t, d.Cloud, adminCloud, &p, "port", "show", vmB.ID)
	if str(p, "binding_host_id") != nameB {
		t.Fatalf("vm-b's port is bound to %q, want %s", str(p, "binding_host_id"), nameB)
	}
	// vm-b's DHCP discover crosses the tunnel to the DHCP server on the first host.
	if got := d.lease(nsB)["ip_address"]; got != vmB.ip() {
		t.Fatalf("vm-b on the compute host leased %q, want its port's %s", got, vmB.ip())
	}
	if got := d.lease(nsA)["ip_address"]; got != vmA.ip() {
		t.Fatalf("vm-a leased %q, want %s", got, vmA.ip())
	}
	if !b.EventuallyPing(nsA, vmB.ip()) || !b.EventuallyPing(nsB, vmA.ip()) {
		t.Fatal("instances of one VXLAN network on two hosts do not ping each other")
	}
	// l2population: each host's VXLAN device knows the other's instance by its VTEP.
	vxlan := vxlanDevice(t, b.Sh(hostB, "ip", "-d", "link", "show"))
	if fdb := b.Sh(hostB, "bridge", "fdb", "show", "dev", vxlan); !strings.Contains(fdb, vmA.MAC+" dst 192.0.2.1") {
		t.Fatalf("the compute host's %s has no FDB entry for vm-a via 192.0.2.1:\n%s", vxlan, fdb)
	}
	if fdb := b.Sh(b.Host, "bridge", "fdb", "show", "dev", vxlan); !strings.Contains(fdb, vmB.MAC+" dst 192.0.2.2") {
		t.Fatalf("the first host's %s has no FDB entry for vm-b via 192.0.2.2:\n%s", vxlan, fdb)
	}
	// The instance on the compute host reaches router1's metadata proxy through the
	// tunnel, and is told its own identity.
	if out := b.Sh(nsB, "curl", "-sf", "--max-time", "10", "http://169.254.169.254/openstack/latest/meta_data.json"); !strings.Contains(out, vmB.DeviceID) {
		t.Fatalf("metadata seen by vm-b = %s, want its device %s", out, vmB.DeviceID)
	}

	// kill -9 of the compute host's agent, then a restart: nothing duplicated or lost.
	before := b.Sh(hostB, "bridge", "fdb", "show", "dev", vxlan)
	node.Kill()
	d.joinNode(nameB, hostB, "192.0.2.2")
	vmC := d.boundPortOn(nameB, demoCloud, "private", "vm-c")
	nsC := d.instanceOn(hostB, "vm-c", vmC.ID, vmC.MAC)
	eventually(t, "vm-c ACTIVE after the agent's restart", func() bool { return d.portStatus(vmC.ID) == "ACTIVE" })
	if got := d.lease(nsC)["ip_address"]; got != vmC.ip() {
		t.Fatalf("vm-c leased %q, want %s", got, vmC.ip())
	}
	if !b.EventuallyPing(nsC, vmA.ip()) || !b.EventuallyPing(nsB, vmA.ip()) {
		t.Fatal("after the agent's restart the instances on the compute host lost the other host")
	}
	if after := b.Sh(hostB, "bridge", "fdb", "show", "dev", vxlan); strings.Count(after, vmA.MAC) != strings.Count(before, vmA.MAC) {
		t.Fatalf("vm-a's FDB entries changed across the restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if links := b.Sh(hostB, "ip", "-o", "link", "show"); strings.Count(links, " "+vxlan+":") != 1 {
		t.Fatalf("the compute host has not exactly one %s after the restart:\n%s", vxlan, links)
	}
}

func readText(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// vxlanDevice is the name of the one vxlan-<VNI> device in `ip -d link show` output.
func vxlanDevice(t *testing.T, links string) string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], "vxlan-") {
			names = append(names, strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"))
		}
	}
	if len(names) != 1 {
		t.Fatalf("want one VXLAN device, got %v:\n%s", names, links)
	}
	return names[0]
}
