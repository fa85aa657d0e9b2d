package metadata

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dhcp"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
)

// TestIsolatedMetadataPackets is the metadata proxy in a DHCP namespace, with real
// packets: on a simulated host, a network without a router gets its DHCP server
// from the DHCP part (real dnsmasq) with isolated metadata on; instances take
// leases with dhclient, install the classless routes offered (169.254.169.254/32
// via the DHCP port) and ask http://169.254.169.254/ with curl. Each gets its own
// identity, named by network (X-Neutron-Network-ID, no router); an unknown source
// gets 404. A second pass and a restarted proxy change nothing. Once a router holds
// the subnet's gateway, the DHCP namespace stops serving (the router does); a
// removed network leaves no listener holding its namespace.
func TestIsolatedMetadataPackets(t *testing.T) {
	dataplanetest.RequireHost(t, "ip", "bridge", "dnsmasq", "dhclient", "curl")
	b := dataplanetest.NewBed(t, "mdi")
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// dnsmasq drops its privileges and re-reads its files on SIGHUP: the data
	// directory must be searchable by others (t.TempDir makes 0700 directories).
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}

	ip := netip.MustParseAddr
	sub := dataplane.Subnet{ID: "mdi-subnet", IPVersion: 4, CIDR: netip.MustParsePrefix("10.63.1.0/24"), GatewayIP: ip("10.63.1.1"), EnableDHCP: true}
	port := func(id, mac, owner, addr string) dataplane.Port {
		return dataplane.Port{ID: id, MAC: mac, DeviceOwner: owner, AdminStateUp: true, Hostname: "",
			FixedIPs: []dataplane.FixedIP{{SubnetID: sub.ID, IP: ip(addr)}}}
	}
	dhcpPort := port("md1dhcp0-00", "fa:16:3e:63:01:02", dataplane.OwnerDHCP, "10.63.1.2")
	vmPorts := []dataplane.Port{
		port("md1vm001-01", "fa:16:3e:63:01:10", "compute:nova", "10.63.1.10"),
		port("md1vm002-02", "fa:16:3e:63:01:11", "compute:nova", "10.63.1.11"),
		port("md1vm003-03", "fa:16:3e:63:01:12", "compute:nova", "10.63.1.12"), // the lookup does not know it
	}
	n := dataplane.Network{ID: b.Prefix + "-net", Type: dataplane.TypeLocal, MTU: 1450, AdminStateUp: true, DHCP: true,
		Subnets: []dataplane.Subnet{sub}, Ports: append([]dataplane.Port{dhcpPort}, vmPorts...)}
	n.DHCPHosts = slices.Clone(n.Ports)
	st := dataplane.State{Host: dataplane.Host{Name: "node1", Namespace: b.Host, EnableIsolatedMetadata: true}, Networks: []dataplane.Network{n}}

	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: dataplanetest.Mutating}
	dhcpOpts := dhcp.Options{DataDir: dir}
	l2, dhcpPart := linuxbridge.New(rec, quiet), dhcp.New(rec, quiet, dhcpOpts)
	t.Cleanup(func() { // dnsmasq and the qdhcp namespace go even when the test fails
		_, _ = dhcp.New(dataplane.ExecRunner{}, quiet, dhcpOpts).Converge(context.Background(), dataplane.State{Host: st.Host})
	})

	const secret = "isolated-secret"
	compute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderInstanceID)
		if !VerifySignature(secret, id, r.Header.Get(HeaderSignature)) {
			http.Error(w, "Invalid proxy request signature.", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"uuid": id, "project_id": r.Header.Get(HeaderTenantID),
			"forwarded_for": r.Header.Get(HeaderForwardedFor), "network": r.Header.Get(HeaderNetworkID), "router": r.Header.Get(HeaderRouterID)})
	}))
	defer compute.Close()
	lookup := &fakeLookup{instances: map[string][2]string{
		"network:" + n.ID + "|10.63.1.10": {"vm-1", "project-a"},
		"network:" + n.ID + "|10.63.1.11": {"vm-2", "project-a"},
	}}
	newProxy := func() *Proxy {
		p, err := New(Options{Runner: rec, Lookup: lookup, MetadataURL: compute.URL, SharedSecret: secret, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	proxy := newProxy()
	pass := func(st dataplane.State) {
		t.Helper()
		for _, part := range []interface {
			Converge(context.Context, dataplane.State) ([]string, error)
		}{l2, dhcpPart, proxy} {
			if _, err := part.Converge(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The instances: eth0 whose veth peer is the tap the L2 part plugs.
	var vms []string
	for i, p := range vmPorts {
		ns := b.Netns(fmt.Sprintf("vm%d", i+1))
		b.Sh(b.Host, "ip", "link", "add", dataplane.TapName(p.ID), "type", "veth", "peer", "name", "eth0", "address", p.MAC, "netns", ns)
		vms = append(vms, ns)
	}
	pass(st)
	if got, want := proxy.Serving(), []string{dataplane.DHCPNamespace(n.ID)}; !slices.Equal(got, want) {
		t.Fatalf("serving %v, want %v", got, want)
	}
	for i, ns := range vms {
		lease := dataplanetest.Lease(t, dir, ns)
		routes, err := dataplanetest.ClasslessRoutes(lease["rfc3442_classless_static_routes"])
		if err != nil {
			t.Fatal(err)
		}
		want := [][2]string{{"169.254.169.254/32", "10.63.1.2"}, {"0.0.0.0/0", "10.63.1.1"}}
		if lease["ip_address"] != vmPorts[i].FixedIPs[0].IP.String() || !slices.Equal(routes, want) {
			t.Fatalf("%s's lease: %v (routes %v, want %v)", ns, lease, routes, want)
		}
		b.Sh(ns, "ip", "route", "add", routes[0][0], "via", routes[0][1])
	}

	get := func(ns string) (int, map[string]string) {
		t.Helper()
		out, _ := b.Try(ns, "curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", "http://169.254.169.254/openstack/latest/meta_data.json")
		i := strings.LastIndex(out, "\n")
		var code int
		fmt.Sscan(out[i+1:], &code)
		var body map[string]string
		_ = json.Unmarshal([]byte(out[:max(i, 0)]), &body)
		return code, body
	}
	identities := func(t *testing.T) {
		t.Helper()
		for i, id := range []string{"vm-1", "vm-2"} {
			code, body := get(vms[i])
			want := map[string]string{"uuid": id, "project_id": "project-a", "forwarded_for": vmPorts[i].FixedIPs[0].IP.String(), "network": n.ID, "router": ""}
			if code != 200 || !maps.Equal(body, want) {
				t.Errorf("%s: %d %v, want 200 %v", vms[i], code, body, want)
			}
		}
		if code, body := get(vms[2]); code != 404 {
			t.Errorf("an instance the network service does not know: %d %v, want 404", code, body)
		}
	}
	t.Run("each instance gets its own identity", identities)

	t.Run("converge twice and after a restart changes nothing", func(t *testing.T) {
		rec.Take()
		pass(st)
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("second pass changed:\n%s", strings.Join(c, "\n"))
		}
		proxy.Close()
		proxy = newProxy()
		pass(st)
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("pass with a restarted proxy changed:\n%s", strings.Join(c, "\n"))
		}
		identities(t)
	})

	t.Run("a router on the subnet takes over", func(t *testing.T) {
		routed := n
		routed.DHCPHosts = append(slices.Clone(n.DHCPHosts), port("md1qr000-00", "fa:16:3e:63:01:01", dataplane.OwnerRouterInterface, "10.63.1.1"))
		pass(dataplane.State{Host: st.Host, Networks: []dataplane.Network{routed}})
		if got := proxy.Serving(); len(got) != 0 {
			t.Fatalf("serving %v once a router serves the subnet", got)
		}
		addrs := b.Sh(dataplane.DHCPNamespace(n.ID), "ip", "-4", "-o", "addr", "show")
		if strings.Contains(addrs, Address) || !strings.Contains(addrs, "10.63.1.2/24") {
			t.Fatalf("the DHCP namespace's addresses once a router serves the subnet:\n%s", addrs)
		}
		if code, _ := get(vms[0]); code != 0 {
			t.Fatalf("the DHCP namespace still answers: %d", code)
		}
		pass(st)
		identities(t)
	})

	t.Run("a removed network leaves nothing", func(t *testing.T) {
		pass(dataplane.State{Host: st.Host})
		if got := proxy.Serving(); len(got) != 0 {
			t.Fatalf("serving %v after the network went", got)
		}
		if l := b.Sh("", "ip", "netns", "list"); strings.Contains(l, dataplane.DHCPNamespace(n.ID)) {
			t.Fatalf("the DHCP namespace is left:\n%s", l)
		}
	})
}
