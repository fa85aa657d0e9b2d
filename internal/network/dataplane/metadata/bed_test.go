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
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/l3"
)

// TestMetadataPackets builds two routers with the L3 part on a simulated host, each
// with a tenant network of the same CIDR 10.62.1.0/24, instances as namespaces, and
// a fake compute metadata API on 127.0.0.1 that checks the signature and echoes the
// identity it was given. With real packets (curl from the instances to
// 169.254.169.254): each instance gets its own identity only, also the two with the
// same address behind different routers; an unknown source gets 404 and is not
// forwarded; a second pass and a restarted proxy run no mutating command; a router
// taken out of the state stops answering.
func TestMetadataPackets(t *testing.T) {
	dataplanetest.RequireHost(t, "ip", "nft", "sysctl", "curl")
	b := dataplanetest.NewBed(t, "mdt")
	ip := netip.MustParseAddr
	netA, netB := "mdaaaaaa-0a", "mdbbbbbb-0b"
	b.Bridge(netA)
	b.Bridge(netB)
	sub := func(id string) dataplane.Subnet {
		return dataplane.Subnet{ID: id, IPVersion: 4, CIDR: netip.MustParsePrefix("10.62.1.0/24"), GatewayIP: ip("10.62.1.1")}
	}
	port := func(id, mac, subnet, addr string) dataplane.Port {
		return dataplane.Port{ID: id, MAC: mac, AdminStateUp: true, FixedIPs: []dataplane.FixedIP{{SubnetID: subnet, IP: ip(addr)}}}
	}
	routerA := dataplane.Router{ID: b.Prefix + "-ra", AdminStateUp: true, Interfaces: []dataplane.RouterPort{
		{Port: port("aaaa1111-qr", "fa:16:3e:62:01:01", "sa", "10.62.1.1"), NetworkID: netA, Subnets: []dataplane.Subnet{sub("sa")}}}}
	routerB := dataplane.Router{ID: b.Prefix + "-rb", AdminStateUp: true, Interfaces: []dataplane.RouterPort{
		{Port: port("bbbb2222-qr", "fa:16:3e:62:02:01", "sb", "10.62.1.1"), NetworkID: netB, Subnets: []dataplane.Subnet{sub("sb")}}}}
	st := dataplane.State{Host: dataplane.Host{Name: "node1", Namespace: b.Host}, Routers: []dataplane.Router{routerA, routerB}}
	for _, r := range st.Routers {
		ns := dataplane.RouterNamespace(r.ID)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: dataplanetest.Mutating}
	router := l3.New(rec, quiet)
	ctx := context.Background()
	if _, err := router.Converge(ctx, st); err != nil {
		t.Fatal(err)
	}

	vm1 := b.Instance("vm1", netA, port("vm1aaaaa-01", "fa:16:3e:62:10:01", "sa", "10.62.1.10"), "10.62.1.10/24", "10.62.1.1")
	vm2 := b.Instance("vm2", netA, port("vm2aaaaa-02", "fa:16:3e:62:10:02", "sa", "10.62.1.11"), "10.62.1.11/24", "10.62.1.1")
	stranger := b.Instance("vm3", netA, port("vm3aaaaa-03", "fa:16:3e:62:10:03", "sa", "10.62.1.12"), "10.62.1.12/24", "10.62.1.1")
	vm4 := b.Instance("vm4", netB, port("vm4bbbbb-04", "fa:16:3e:62:20:01", "sb", "10.62.1.10"), "10.62.1.10/24", "10.62.1.1")

	const secret = "metadata-secret"
	var mu sync.Mutex
	var forwarded []string // instance IDs the compute API was asked for
	compute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Instance-ID")
		mu.Lock()
		forwarded = append(forwarded, id)
		mu.Unlock()
		if !VerifySignature(secret, id, r.Header.Get("X-Instance-ID-Signature")) {
			http.Error(w, "Invalid proxy request signature.", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/openstack/latest/meta_data.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"uuid": id, "project_id": r.Header.Get("X-Tenant-ID"),
			"forwarded_for": r.Header.Get("X-Forwarded-For"), "router": r.Header.Get("X-Neutron-Router-ID")})
	}))
	defer compute.Close()
	lookup := &fakeLookup{instances: map[string][2]string{
		routerA.ID + "|10.62.1.10": {"vm-1", "project-a"},
		routerA.ID + "|10.62.1.11": {"vm-2", "project-a"},
		routerB.ID + "|10.62.1.10": {"vm-4", "project-b"},
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
	converge := func(st dataplane.State) {
		t.Helper()
		if _, err := proxy.Converge(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	rec.Take()
	converge(st)
	var want []string
	for _, r := range st.Routers {
		want = append(want, dataplane.RouterNamespace(r.ID)+"| ip addr add 169.254.169.254/32 dev lo")
	}
	if got := rec.Take(); !slices.Equal(got, want) {
		t.Fatalf("first pass ran %q, want %q", got, want)
	}

	// curl asks as a guest's cloud-init would; it prints the body, then the status.
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
		for _, tc := range []struct {
			ns, id, project, router, ip string
		}{
			{vm1, "vm-1", "project-a", routerA.ID, "10.62.1.10"},
			{vm2, "vm-2", "project-a", routerA.ID, "10.62.1.11"},
			{vm4, "vm-4", "project-b", routerB.ID, "10.62.1.10"}, // vm1's address, behind the other router
		} {
			code, body := get(tc.ns)
			want := map[string]string{"uuid": tc.id, "project_id": tc.project, "router": tc.router, "forwarded_for": tc.ip}
			if code != 200 || !maps.Equal(body, want) {
				t.Errorf("%s: %d %v, want 200 %v", tc.ns, code, body, want)
			}
		}
	}
	t.Run("each instance gets its own identity", identities)

	t.Run("unknown source gets 404 and is not forwarded", func(t *testing.T) {
		mu.Lock()
		forwarded = nil
		mu.Unlock()
		if code, _ := get(stranger); code != 404 {
			t.Fatalf("unknown instance got %d, want 404", code)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(forwarded) != 0 {
			t.Fatalf("forwarded %v for an unknown source", forwarded)
		}
	})

	t.Run("converge twice changes nothing", func(t *testing.T) {
		rec.Take()
		converge(st)
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("second pass changed:\n%s", strings.Join(c, "\n"))
		}
		// A restarted agent (kill -9): the addresses are there, only listeners are new.
		proxy.Close()
		proxy = newProxy()
		converge(st)
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("pass after a restart changed:\n%s", strings.Join(c, "\n"))
		}
		identities(t)
	})

	t.Run("router out of the state stops answering", func(t *testing.T) {
		converge(dataplane.State{Host: st.Host, Routers: []dataplane.Router{routerB}})
		if got := proxy.Serving(); !slices.Equal(got, []string{dataplane.RouterNamespace(routerB.ID)}) {
			t.Fatalf("serving %v, want only router B's namespace", got)
		}
		if code, body := get(vm1); code != 0 {
			t.Fatalf("router A still answers: %d %v", code, body)
		}
		if code, body := get(vm4); code != 200 || body["uuid"] != "vm-4" {
			t.Fatalf("router B stopped answering: %d %v", code, body)
		}
		// Then the L3 part removes the router, and its namespace goes for good (no
		// socket of ours holds it).
		st.Routers = []dataplane.Router{routerB}
		if _, err := router.Converge(ctx, st); err != nil {
			t.Fatal(err)
		}
		converge(st)
		if l := b.Sh("", "ip", "netns", "list"); strings.Contains(l, dataplane.RouterNamespace(routerA.ID)) {
			t.Fatalf("router A's namespace left:\n%s", l)
		}
	})
}
