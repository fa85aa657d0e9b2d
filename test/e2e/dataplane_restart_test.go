package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/firewall"
)

// TestNetworkDataPlaneRestart kills the cloud, agents and all, with kill -9 while
// ports are being created, starts it again, and checks that the data plane then
// matches the database exactly: one bridge per network with ports here, every tap
// on its bridge, one DHCP namespace and one dnsmasq per DHCP network knowing every
// port, one router namespace per router, security group chains for exactly the
// instance ports, and nothing else.
func TestNetworkDataPlaneRestart(t *testing.T) {
	t.Parallel()
	d := startDataplaneCloud(t, "r")
	var plugged sync.Map // port ID -> instance namespace
	create := func(i int) error {
		var p port
		out, err := d.OpenStack(context.Background(), adminCloud, "port", "create", "--network", "private", "--host", d.Host,
			"--device-owner", "compute:nova", "--device", newUUID(), fmt.Sprintf("crash-%d", i), "-f", "json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		plugged.Store(p.ID, d.instance(fmt.Sprintf("c%d", i), p.ID, p.MAC))
		return nil
	}
	// Ports are created one after another while the cloud dies under them.
	done := make(chan int)
	go func() {
		n := 0
		for i := 0; i < 8; i++ {
			if err := create(i); err == nil {
				n++
			}
		}
		done <- n
	}()
	eventually(t, "two ports created", func() bool {
		n := 0
		plugged.Range(func(_, _ any) bool { n++; return true })
		return n >= 2
	})
	d.Kill()
	if n := <-done; n >= 8 {
		t.Fatalf("every port creation succeeded: the cloud was not killed while they ran")
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := 8; i < 10; i++ { // and more once it is back
		if err := create(i); err != nil {
			t.Fatal(err)
		}
	}
	// Ports the API created just before the kill, whose reply never came, exist too:
	// plug them like the others.
	for i, p := range listedPorts(t, d) {
		if _, ok := plugged.Load(p.ID); !ok && p.DeviceOwner == "compute:nova" {
			plugged.Store(p.ID, d.instance(fmt.Sprintf("late%d", i), p.ID, p.MAC))
		}
	}
	eventually(t, "every port ACTIVE", func() bool {
		for _, p := range listedPorts(t, d) {
			if p.Status != "ACTIVE" {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // one more pass after the last change: it must change nothing below

	private, public, routers := d.idOf("network", "private"), d.idOf("network", "public"), d.idOf("router", "router1")
	all := listedPorts(t, d)
	var instances, macs []string
	for _, p := range all {
		if p.NetworkID == private {
			macs = append(macs, p.MAC)
		}
		if p.DeviceOwner == "compute:nova" {
			instances = append(instances, p.ID)
		}
	}
	host := d.bed.Host
	links := d.bed.Sh(host, "ip", "-o", "link", "show")
	wantSet(t, "bridges", grepNames(links, "brq"), dataplane.BridgeName(private), dataplane.BridgeName(public))
	for _, p := range all {
		if p.DeviceOwner == "network:floatingip" {
			continue
		}
		line := grepLine(links, dataplane.TapName(p.ID))
		if !strings.Contains(line, "master "+dataplane.BridgeName(private)) && !strings.Contains(line, "master "+dataplane.BridgeName(public)) {
			t.Errorf("port %s (%s): tap not on a bridge: %q", p.ID, p.DeviceOwner, line)
		}
	}
	wantSet(t, "namespaces", d.namespaces(), dataplane.DHCPNamespace(private), dataplane.RouterNamespace(routers))
	if pids := d.dnsmasqs(); len(pids) != 1 {
		t.Errorf("dnsmasq processes %v, want one", pids)
	}
	hosts, err := os.ReadFile(filepath.Join(d.dhcpDir, private, "host"))
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, line := range strings.Split(strings.TrimSpace(string(hosts)), "\n") {
		mac, _, _ := strings.Cut(line, ",")
		served = append(served, mac)
	}
	wantSet(t, "DHCP hosts", served, macs...)
	var chains, want []string
	for _, line := range strings.Split(d.bed.Sh(host, "iptables-save", "-t", "filter"), "\n") {
		if name, ok := strings.CutPrefix(line, ":"+firewall.IngressChain("")); ok {
			chains = append(chains, firewall.IngressChain("")+strings.Fields(name)[0])
		}
	}
	for _, id := range instances {
		want = append(want, firewall.IngressChain(id))
	}
	wantSet(t, "security group chains", chains, want...)
}

// listed is a port as `port list --long` prints it.
type listed struct {
	ID          string `json:"ID"`
	MAC         string `json:"MAC Address"`
	Status      string `json:"Status"`
	DeviceOwner string `json:"Device Owner"`
	NetworkID   string `json:"-"`
}

func listedPorts(t *testing.T, d *dataplaneCloud) []listed {
	t.Helper()
	var all []listed
	for _, network := range []string{"private", "public"} {
		var ps []listed
		OSJSON(t, d.Cloud, adminCloud, &ps, "port", "list", "--network", network, "--long")
		id := d.idOf("network", network)
		for i := range ps {
			ps[i].NetworkID = id
		}
		all = append(all, ps...)
	}
	return all
}

// idOf looks a network or router up by name.
func (d *dataplaneCloud) idOf(kind, name string) string {
	d.t.Helper()
	var r row
	OSJSON(d.t, d.Cloud, adminCloud, &r, kind, "show", name, "-c", "id")
	return str(r, "id")
}

// grepNames are the device names in `ip -o link` output that start with prefix.
func grepNames(links, prefix string) []string {
	var out []string
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if strings.HasPrefix(name, prefix) {
				out = append(out, name)
			}
		}
	}
	return out
}

func grepLine(links, name string) string {
	for _, line := range strings.Split(links, "\n") {
		if strings.Contains(line, " "+name+"@") || strings.Contains(line, " "+name+":") {
			return line
		}
	}
	return ""
}

// wantSet fails unless got holds exactly want, each once.
func wantSet(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %v, want exactly %v", what, g, w)
	}
}
