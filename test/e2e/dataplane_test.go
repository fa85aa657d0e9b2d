package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

const (
	adminCloud = "nimbus-admin"
	demoCloud  = "nimbus-demo"
)

// port is a port as `openstack port create/show -f json` prints it.
type port struct {
	ID       string `json:"id"`
	MAC      string `json:"mac_address"`
	DeviceID string `json:"device_id"`
	Status   string `json:"status"`
	FixedIPs []struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
}

func (p port) ip() string { return p.FixedIPs[0].IPAddress }

// boundPort creates an instance's port with the CLI (as cloud) and binds it to the
// data-plane host as admin, as the compute service does when it plugs a VM.
func (d *dataplaneCloud) boundPort(cloud, network, name string, extra ...string) port {
	d.t.Helper()
	return d.boundPortOn(d.Host, cloud, network, name, extra...)
}

// boundPortOn is boundPort for the host named host.
func (d *dataplaneCloud) boundPortOn(host, cloud, network, name string, extra ...string) port {
	d.t.Helper()
	var p port
	args := append([]string{"port", "create", "--network", network, "--device-owner", "compute:nova",
		"--device", newUUID(), "--dns-name", name}, extra...)
	OSJSON(d.t, d.Cloud, cloud, &p, append(args, name)...)
	OS(d.t, d.Cloud, adminCloud, "port", "set", "--host", host, p.ID)
	return p
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// TestNetworkDataPlane drives a cloud with a real data plane through the openstack
// CLI and checks it with real packets between namespaces standing in for instances
// and the outside host: DHCP gives an instance exactly its port's address, gateway
// and name; instances ping; SNAT and floating IPs work through the demo project's
// router1; security groups block until a rule allows; spoofing is dropped; two
// projects use the same addresses without seeing each other; the metadata proxy
// tells each instance its own identity, through its router or, on a network
// without one, through the DHCP namespace; the agents are listed.
func TestNetworkDataPlane(t *testing.T) {
	t.Parallel()
	d := startDataplaneCloud(t, "a")
	b := d.bed

	// The agents report themselves.
	var agents []row
	eventually(t, "four live agents", func() bool {
		OSJSON(t, d.Cloud, adminCloud, &agents, "network", "agent", "list")
		return len(agents) == 4
	})
	for _, want := range []string{"Linux bridge agent", "DHCP agent", "L3 agent", "Metadata agent"} {
		a, ok := findRow(agents, "Agent Type", want)
		if !ok || str(a, "Host") != d.Host || str(a, "Alive") != "true" {
			t.Fatalf("agent %q: %v (all: %v)", want, a, agents)
		}
	}

	// Two instances of the demo project on devstack's private network.
	vm1 := d.boundPort(demoCloud, "private", "vm1")
	vm2 := d.boundPort(demoCloud, "private", "vm2")
	ns1 := d.instance("vm1", vm1.ID, vm1.MAC)
	ns2 := d.instance("vm2", vm2.ID, vm2.MAC)
	eventually(t, "vm1 and vm2 ACTIVE", func() bool { return d.portStatus(vm1.ID) == "ACTIVE" && d.portStatus(vm2.ID) == "ACTIVE" })

	var subnet row
	OSJSON(t, d.Cloud, demoCloud, &subnet, "subnet", "show", "private-subnet")
	lease := d.lease(ns1)
	for key, want := range map[string]string{"ip_address": vm1.ip(), "routers": str(subnet, "gateway_ip"),
		"host_name": "vm1", "interface_mtu": "1450", "domain_name": "openstacklocal"} {
		if lease[key] != want {
			t.Fatalf("vm1's lease %s = %q, want %q (all: %v)", key, lease[key], want, lease)
		}
	}
	if got := d.lease(ns2)["ip_address"]; got != vm2.ip() {
		t.Fatalf("vm2 leased %s, want its port's %s", got, vm2.ip())
	}
	// Members of the default group reach each other.
	if !b.EventuallyPing(ns1, vm2.ip()) {
		t.Fatalf("vm1 cannot ping vm2 on one network")
	}

	// The metadata proxy in router1's namespace answers each instance with its own
	// identity only (as the compute metadata API receives it, signed).
	var demoProject row
	OSJSON(t, d.Cloud, adminCloud, &demoProject, "project", "show", "demo")
	for _, vm := range []struct {
		ns string
		p  port
	}{{ns1, vm1}, {ns2, vm2}} {
		out := b.Sh(vm.ns, "curl", "-sf", "--max-time", "10", "http://169.254.169.254/openstack/latest/meta_data.json")
		var md map[string]string
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			t.Fatalf("metadata for %s: %v: %q", vm.p.ID, err, out)
		}
		if md["uuid"] != vm.p.DeviceID || md["project_id"] != str(demoProject, "id") || md["path"] != "/openstack/latest/meta_data.json" {
			t.Fatalf("metadata seen by the instance of %s = %v, want device %s of project %s", vm.p.ID, md, vm.p.DeviceID, str(demoProject, "id"))
		}
	}

	// SNAT: the outside host (the host namespace, 172.24.4.1 on the public
	// interface) sees vm2's connection come from router1's gateway address.
	var router row
	OSJSON(t, d.Cloud, demoCloud, &router, "router", "show", "router1")
	var gw struct {
		ExternalFixedIPs []struct {
			IPAddress string `json:"ip_address"`
		} `json:"external_fixed_ips"`
	}
	raw, _ := json.Marshal(router["external_gateway_info"])
	if err := json.Unmarshal(raw, &gw); err != nil || len(gw.ExternalFixedIPs) == 0 {
		t.Fatalf("router1's gateway: %v (%s)", err, raw)
	}
	outside := b.Listen(b.Host, "172.24.4.1:8080")
	if got := b.Dial(ns2, "172.24.4.1:8080", outside); got != gw.ExternalFixedIPs[0].IPAddress {
		t.Fatalf("the outside host saw vm2 as %q, want router1's gateway %s", got, gw.ExternalFixedIPs[0].IPAddress)
	}

	// A floating IP: blocked by the default group until rules allow ICMP and TCP/22.
	var fip row
	OSJSON(t, d.Cloud, demoCloud, &fip, "floating", "ip", "create", "public")
	floating := str(fip, "floating_ip_address")
	OS(t, d.Cloud, demoCloud, "floating", "ip", "set", "--port", vm1.ID, floating)
	ssh := b.Listen(ns1, ":22")
	never(t, "ICMP to vm1's floating IP passed before a rule allowed it", func() bool { return b.Ping(b.Host, floating) })
	if got := b.Dial(b.Host, floating+":22", ssh); got != "" {
		t.Fatalf("TCP/22 to vm1 passed before a rule allowed it (from %s)", got)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "icmp", "default")
	if !b.EventuallyPing(b.Host, floating) {
		t.Fatalf("the outside host cannot ping vm1's floating IP %s once ICMP is allowed", floating)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default")
	eventually(t, "TCP/22 to vm1's floating IP", func() bool { return b.Dial(b.Host, floating+":22", ssh) == "172.24.4.1" })
	// vm1 leaves with its floating address.
	if got := b.Dial(ns1, "172.24.4.1:8080", outside); got != floating {
		t.Fatalf("the outside host saw vm1 as %q, want its floating IP %s", got, floating)
	}
	OS(t, d.Cloud, demoCloud, "floating", "ip", "unset", "--port", floating)
	eventually(t, "the floating IP to stop answering", func() bool { return !b.Ping(b.Host, floating) })

	// Anti-spoofing: another source address or MAC from vm1 is dropped.
	b.Sh(ns1, "ip", "addr", "add", "10.0.0.50/26", "dev", "eth0")
	never(t, "vm1 reached vm2 from a spoofed source address", func() bool {
		_, err := b.Try(ns1, "ping", "-c", "1", "-W", "1", "-I", "10.0.0.50", vm2.ip())
		return err == nil
	})
	b.Sh(ns1, "ip", "addr", "del", "10.0.0.50/26", "dev", "eth0")
	b.Sh(ns1, "ip", "link", "set", "eth0", "address", "fa:16:3e:00:00:99")
	b.Sh(ns1, "ip", "neigh", "flush", "all")
	b.Sh(ns2, "ip", "neigh", "flush", "all")
	never(t, "vm1 reached vm2 from a spoofed MAC", func() bool { return b.Ping(ns1, vm2.ip()) })
	b.Sh(ns1, "ip", "link", "set", "eth0", "address", vm1.MAC)
	if !b.EventuallyPing(ns1, vm2.ip()) {
		t.Fatalf("vm1 cannot ping vm2 with its own MAC again")
	}

	// The admin project uses the same addresses on a network of its own: its
	// instances ping each other, and vm1's neighbour for vm2's address stays vm2.
	other := uniqueName("same-cidr")
	OS(t, d.Cloud, adminCloud, "network", "create", other)
	OS(t, d.Cloud, adminCloud, "subnet", "create", "--network", other, "--subnet-range", "10.0.0.0/26", other)
	twin1 := d.boundPort(adminCloud, other, "twin1", "--fixed-ip", "ip-address="+vm1.ip())
	twin2 := d.boundPort(adminCloud, other, "twin2", "--fixed-ip", "ip-address="+vm2.ip())
	nsT1 := d.instance("twin1", twin1.ID, twin1.MAC)
	nsT2 := d.instance("twin2", twin2.ID, twin2.MAC)
	eventually(t, "twins ACTIVE", func() bool { return d.portStatus(twin1.ID) == "ACTIVE" && d.portStatus(twin2.ID) == "ACTIVE" })
	leaseT1 := d.lease(nsT1)
	if got := leaseT1["ip_address"]; got != vm1.ip() {
		t.Fatalf("twin1 leased %s, want %s", got, vm1.ip())
	}
	leaseT2 := d.lease(nsT2)
	if !b.EventuallyPing(nsT1, twin2.ip()) {
		t.Fatalf("twin1 cannot ping twin2")
	}

	// No router serves the admin network: its DHCP namespace serves metadata
	// (isolated metadata), the lease routes 169.254.169.254 to the DHCP port, and
	// each twin reads its own identity, by network.
	var adminProject, otherNet row
	OSJSON(t, d.Cloud, adminCloud, &adminProject, "project", "show", "admin")
	OSJSON(t, d.Cloud, adminCloud, &otherNet, "network", "show", other)
	for _, vm := range []struct {
		ns    string
		p     port
		lease map[string]string
	}{{nsT1, twin1, leaseT1}, {nsT2, twin2, leaseT2}} {
		routes, err := dataplanetest.ClasslessRoutes(vm.lease["rfc3442_classless_static_routes"])
		if err != nil || len(routes) == 0 || routes[0][0] != "169.254.169.254/32" {
			t.Fatalf("%s's lease routes %v (%v), want 169.254.169.254/32 first", vm.p.ID, routes, err)
		}
		b.Sh(vm.ns, "ip", "route", "replace", routes[0][0], "via", routes[0][1])
		var md map[string]string
		eventually(t, "metadata in the admin network's DHCP namespace", func() bool {
			out, err := b.Try(vm.ns, "curl", "-sf", "--max-time", "5", "http://169.254.169.254/openstack/latest/meta_data.json")
			return err == nil && json.Unmarshal([]byte(out), &md) == nil
		})
		if md["uuid"] != vm.p.DeviceID || md["project_id"] != str(adminProject, "id") || md["network"] != str(otherNet, "id") || md["router"] != "" {
			t.Fatalf("metadata seen by the instance of %s = %v, want device %s of project %s by network %s", vm.p.ID, md, vm.p.DeviceID,
				str(adminProject, "id"), str(otherNet, "id"))
		}
	}
	b.Sh(ns1, "ip", "neigh", "flush", "all")
	if !b.EventuallyPing(ns1, vm2.ip()) {
		t.Fatalf("vm1 cannot ping vm2 while the twins use the same addresses")
	}
	if n := b.Sh(ns1, "ip", "neigh", "show", vm2.ip()); !strings.Contains(n, vm2.MAC) {
		t.Fatalf("vm1's neighbour for %s is %q, want vm2's %s", vm2.ip(), n, vm2.MAC)
	}

	// Deleting the ports and the network removes what they had on the host.
	for _, p := range []port{twin1, twin2} {
		OS(t, d.Cloud, adminCloud, "port", "delete", p.ID)
	}
	var net row
	OSJSON(t, d.Cloud, adminCloud, &net, "network", "show", other)
	OS(t, d.Cloud, adminCloud, "network", "delete", other)
	eventually(t, "the deleted network's bridge and DHCP namespace to go", func() bool {
		links := b.Sh(b.Host, "ip", "-br", "link")
		all := b.Sh("", "ip", "netns", "list")
		return !strings.Contains(links, dataplane.BridgeName(str(net, "id"))) && !strings.Contains(all, dataplane.DHCPNamespace(str(net, "id")))
	})
}
