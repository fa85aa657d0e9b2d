package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

// DataplaneAim is the target for data-plane wiring: "well under a second".
const DataplaneAim = time.Second

// Data-plane timing names, as the report shows them.
const (
	DPTimingActive = "bind to port ACTIVE"
	DPTimingDHCP   = "port ACTIVE to DHCP lease"
	DPTimingLease  = "bind to DHCP lease"
	DPTimingFIP    = "FIP associate to ping"
)

// dpPoll is how often the bench looks at a port's status, and the interval of the
// outside host's pings: the resolution of the timings.
const dpPoll = 10 * time.Millisecond

// DataplaneOptions configure the data-plane scenarios of `nimbus bench network`.
type DataplaneOptions struct {
	Credentials Credentials
	// Bed holds the cloud's host namespace (Bed.Host), which also plays the outside
	// host, and gets the instance namespaces.
	Bed *testbed.Bed
	// Host is the cloud's network.host: ports bound to it are wired by its agents.
	Host string
	// Dir holds the DHCP clients' files.
	Dir string
	// Iterations are measured after one unmeasured warm-up iteration.
	Iterations int
	// CIDR is the bench network's IPv4 subnet (default 10.242.0.0/24).
	CIDR string
	// Settle is the pause after creating a port (or floating IP) before binding
	// (associating) it, so that the measured request meets agents done with the
	// pass the creation started (default 1 s; a pass takes a few hundred ms here).
	Settle time.Duration
	// Timeout bounds each wait: for ACTIVE, for the lease, for the first ping reply.
	Timeout time.Duration
}

// DataplaneSample is one iteration: a port bound to the host, leased by its
// instance, then given a floating IP that the outside host pings.
type DataplaneSample struct {
	// Active is from the binding request to the port's status ACTIVE.
	Active time.Duration `json:"bind_to_active_ns"`
	// Lease is from the binding request to the instance holding its lease; the
	// DHCP client starts once the port is ACTIVE, as Nova starts a guest on
	// network-vif-plugged.
	Lease time.Duration `json:"bind_to_lease_ns"`
	// Reach is from the association request to the first echo reply through the
	// floating IP.
	Reach time.Duration `json:"associate_to_ping_ns"`
}

// Timing summarises one timing over the measured iterations.
type Timing struct {
	Name  string        `json:"name"`
	Count int           `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	Max   time.Duration `json:"max_ns"`
}

// DataplaneReport is the outcome of the data-plane scenarios.
type DataplaneReport struct {
	Host          string            `json:"host"`
	HostNamespace string            `json:"host_namespace"`
	CIDR          string            `json:"cidr"`
	Settle        time.Duration     `json:"settle_ns"`
	Warmup        *DataplaneSample  `json:"warmup,omitempty"`
	Samples       []DataplaneSample `json:"samples"`
	// Timings are DPTimingActive, DPTimingDHCP, DPTimingLease and DPTimingFIP.
	Timings []Timing `json:"timings"`
	// MachineCores is how many cores the whole machine kept busy during the
	// measured iterations (the cloud, its agents' commands, the bench and anything
	// else): on a shared machine, what else ran shows here. -1 when unknown.
	MachineCores float64 `json:"machine_cores"`
}

// Timing returns the named timing, if measured.
func (r *DataplaneReport) Timing(name string) *Timing {
	for i := range r.Timings {
		if r.Timings[i].Name == name {
			return &r.Timings[i]
		}
	}
	return nil
}

// summarize computes the timings of the samples (nearest-rank percentiles).
func summarize(samples []DataplaneSample) []Timing {
	if len(samples) == 0 {
		return nil
	}
	one := func(name string, of func(DataplaneSample) time.Duration) Timing {
		var d []time.Duration
		for _, s := range samples {
			d = append(d, of(s))
		}
		slices.Sort(d)
		return Timing{Name: name, Count: len(d), P50: Percentile(d, 50), P90: Percentile(d, 90), Max: d[len(d)-1]}
	}
	return []Timing{
		one(DPTimingActive, func(s DataplaneSample) time.Duration { return s.Active }),
		one(DPTimingDHCP, func(s DataplaneSample) time.Duration { return s.Lease - s.Active }),
		one(DPTimingLease, func(s DataplaneSample) time.Duration { return s.Lease }),
		one(DPTimingFIP, func(s DataplaneSample) time.Duration { return s.Reach }),
	}
}

// Dataplane measures, against a cloud whose data plane lives in o.Bed's host
// namespace, how long the data plane takes to wire what the API was told:
// o.Iterations times, a port with ICMP allowed is plugged into a new instance
// namespace and bound to o.Host, the instance takes a DHCP lease once the port is
// ACTIVE, and a floating IP associated with the port is pinged from the outside
// host until it answers. The network, router, security group, ports and floating
// IPs are deleted at the end, also when ctx ends; the namespaces go with the bed.
func Dataplane(ctx context.Context, o DataplaneOptions, progress func(string)) (*DataplaneReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if o.Bed == nil || o.Host == "" || o.Dir == "" {
		return nil, errors.New("the data-plane scenarios need a bed, the cloud's host and a directory")
	}
	if o.CIDR == "" {
		o.CIDR = "10.242.0.0/24"
	}
	if _, err := usableHosts(o.CIDR); err != nil {
		return nil, err
	}
	if o.Settle <= 0 {
		o.Settle = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	token, endpoint, _, err := serviceLogin(ctx, o.Credentials, "network")
	if err != nil {
		return nil, err
	}
	base, err := neutronBase(endpoint)
	if err != nil {
		return nil, err
	}
	if err := CheckLoopback(ctx, base); err != nil {
		return nil, err
	}
	n := &neutron{keystone: newKeystone(base, 2, o.Timeout), auth: map[string]string{"X-Auth-Token": token}}
	defer n.close()
	rep := &DataplaneReport{Host: o.Host, HostNamespace: o.Bed.Host, CIDR: o.CIDR, Settle: o.Settle}

	// What the bench creates is deleted in reverse order, even when ctx ends.
	cleanup := context.WithoutCancel(ctx)
	d := &dpRun{n: n, o: o, cleanup: cleanup}
	defer func() {
		for i := len(d.undo) - 1; i >= 0; i-- {
			if err := d.undo[i](); err != nil {
				progress("cleanup: " + err.Error())
			}
		}
	}()
	undo := func(f func() error) { d.undo = append(d.undo, f) }
	progress("creating the data-plane bench's network " + o.CIDR + ", router to the external network and security group")
	if d.external, err = n.externalNetwork(ctx); err != nil {
		return nil, err
	}
	net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-dataplane"})
	if err != nil {
		return nil, err
	}
	undo(func() error { return n.remove(cleanup, "network", net.ID) })
	d.network = net.ID
	sub, err := n.create(ctx, "subnet", map[string]any{"name": "nimbus-bench-dataplane", "network_id": net.ID,
		"ip_version": 4, "cidr": o.CIDR})
	if err != nil {
		return nil, err
	}
	router, err := n.create(ctx, "router", map[string]any{"name": "nimbus-bench-dataplane",
		"external_gateway_info": map[string]any{"network_id": d.external}})
	if err != nil {
		return nil, err
	}
	undo(func() error { return n.remove(cleanup, "router", router.ID) })
	iface := mustJSON(map[string]any{"subnet_id": sub.ID})
	if _, _, err := n.request(ctx, http.MethodPut, "/v2.0/routers/"+router.ID+"/add_router_interface", iface, n.auth, http.StatusOK); err != nil {
		return nil, err
	}
	undo(func() error {
		_, _, err := n.request(cleanup, http.MethodPut, "/v2.0/routers/"+router.ID+"/remove_router_interface", iface, n.auth, http.StatusOK)
		return err
	})
	// The instances' own group, so the project's default group stays as it was:
	// ICMP from anywhere, as the e2e test allows it before pinging a floating IP.
	sg, err := n.create(ctx, "security_group", map[string]any{"name": "nimbus-bench-dataplane"})
	if err != nil {
		return nil, err
	}
	undo(func() error { return n.remove(cleanup, "security_group", sg.ID) })
	if _, err := n.create(ctx, "security_group_rule", map[string]any{"security_group_id": sg.ID,
		"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"}); err != nil {
		return nil, err
	}
	d.securityGroup = sg.ID

	// The first port of the network also builds its bridge, VXLAN device and DHCP
	// server: reported, not counted.
	progress("warm-up: the network's first port")
	w, err := d.iteration(ctx, "warm")
	if err != nil {
		return rep, fmt.Errorf("warm-up: %w", err)
	}
	rep.Warmup = &w
	machine, began := startMachine(), time.Now()
	defer func() { rep.MachineCores = machine.stop(&Stats{Elapsed: time.Since(began)}) }()
	for i := range o.Iterations {
		progress(fmt.Sprintf("iteration %d of %d: bind, lease, associate a floating IP, ping", i+1, o.Iterations))
		s, err := d.iteration(ctx, fmt.Sprintf("vm%d", i))
		if err != nil {
			rep.Timings = summarize(rep.Samples)
			return rep, fmt.Errorf("iteration %d: %w", i+1, err)
		}
		rep.Samples = append(rep.Samples, s)
	}
	rep.Timings = summarize(rep.Samples)
	return rep, ctx.Err()
}

// dpRun is the state one data-plane run shares between its iterations.
type dpRun struct {
	n                                *neutron
	o                                DataplaneOptions
	cleanup                          context.Context // outlives ctx, for deletions
	external, network, securityGroup string
	undo                             []func() error // deletions, run last first at the end
}

// iteration measures one port from binding to lease and one floating IP from
// association to the first ping reply. The port, its instance and the floating
// IP stay until the end of the run, as instances accumulate on a host: a port
// deleted here would free its address for the next one, to which dnsmasq would
// refuse a lease while the old MAC's lease lasts (the DHCP agent does not release
// leases yet, see docs/network.md).
func (d *dpRun) iteration(ctx context.Context, name string) (DataplaneSample, error) {
	var s DataplaneSample
	n, bed := d.n, d.o.Bed
	var p dpPort
	if err := n.call(ctx, http.MethodPost, "/v2.0/ports", map[string]any{"port": map[string]any{
		"network_id": d.network, "name": "nimbus-bench-" + name, "device_owner": "compute:nova", "device_id": newUUID(),
		"security_groups": []string{d.securityGroup}}}, http.StatusCreated, &p); err != nil {
		return s, err
	}
	d.undo = append(d.undo, func() error { return n.remove(d.cleanup, "port", p.Port.ID) })
	if len(p.Port.FixedIPs) == 0 {
		return s, fmt.Errorf("port %s has no address", p.Port.ID)
	}
	ip := p.Port.FixedIPs[0].IPAddress
	// Plugged before the binding, as the compute agent's tap exists when Nova binds.
	ns, err := bed.Plug(name, p.Port.ID, p.Port.MAC) // removed with the bed
	if err != nil {
		return s, err
	}
	if err := sleep(ctx, d.o.Settle); err != nil {
		return s, err
	}

	start := time.Now()
	if err := n.call(ctx, http.MethodPut, "/v2.0/ports/"+p.Port.ID, map[string]any{"port": map[string]any{
		"binding:host_id": d.o.Host}}, http.StatusOK, nil); err != nil {
		return s, err
	}
	if err := d.waitActive(ctx, p.Port.ID); err != nil {
		return s, err
	}
	s.Active = time.Since(start)
	lease, err := testbed.Lease(ctx, d.o.Dir, ns)
	if err != nil {
		return s, err
	}
	s.Lease = time.Since(start)
	if lease["ip_address"] != ip {
		return s, fmt.Errorf("the instance of port %s leased %q, want its port's %s", p.Port.ID, lease["ip_address"], ip)
	}
	gw := strings.Fields(lease["routers"])
	if len(gw) == 0 {
		return s, fmt.Errorf("the lease of port %s has no router: %v", p.Port.ID, lease)
	}
	if out, err := bed.Run(ns, "ip", "route", "replace", "default", "via", gw[0]); err != nil {
		return s, fmt.Errorf("default route: %v: %s", err, out)
	}

	var fip struct {
		FloatingIP struct {
			ID      string `json:"id"`
			Address string `json:"floating_ip_address"`
		} `json:"floatingip"`
	}
	if err := n.call(ctx, http.MethodPost, "/v2.0/floatingips", map[string]any{"floatingip": map[string]any{
		"floating_network_id": d.external}}, http.StatusCreated, &fip); err != nil {
		return s, err
	}
	d.undo = append(d.undo, func() error { return n.remove(d.cleanup, "floatingip", fip.FloatingIP.ID) })
	addr := fip.FloatingIP.Address
	if err := sleep(ctx, d.o.Settle); err != nil {
		return s, err
	}
	// The outside host must learn where the address is (ARP, or the router's
	// gratuitous ARP); a neighbour entry left by an earlier run must not help.
	_, _ = bed.Run(bed.Host, "ip", "neigh", "flush", "to", addr)
	// Pings go out every dpPoll from before the association; the first reply ends ping.
	pingCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ping := exec.CommandContext(pingCtx, "ip", "netns", "exec", bed.Host, "ping", "-n", "-q", "-c", "1",
		"-i", strconv.FormatFloat(dpPoll.Seconds(), 'f', 3, 64), "-w", strconv.Itoa(int(d.o.Timeout.Seconds())), addr)
	if err := ping.Start(); err != nil {
		return s, err
	}
	done := make(chan error, 1)
	go func() { done <- ping.Wait() }()
	start = time.Now()
	if err := n.call(ctx, http.MethodPut, "/v2.0/floatingips/"+fip.FloatingIP.ID, map[string]any{"floatingip": map[string]any{
		"port_id": p.Port.ID}}, http.StatusOK, nil); err != nil {
		cancel()
		<-done
		return s, err
	}
	if err := <-done; err != nil {
		if ctx.Err() != nil {
			return s, ctx.Err()
		}
		return s, fmt.Errorf("the outside host got no echo reply from floating IP %s of port %s within %s", addr, p.Port.ID, d.o.Timeout)
	}
	s.Reach = time.Since(start)
	return s, nil
}

// waitActive polls the port's status every dpPoll until the agents report it ACTIVE.
func (d *dpRun) waitActive(ctx context.Context, id string) error {
	deadline := time.Now().Add(d.o.Timeout)
	for {
		var p struct {
			Port struct{ Status string } `json:"port"`
		}
		if err := d.n.call(ctx, http.MethodGet, "/v2.0/ports/"+id+"?fields=status", nil, http.StatusOK, &p); err != nil {
			return err
		}
		if p.Port.Status == "ACTIVE" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s still %s after %s", id, p.Port.Status, d.o.Timeout)
		}
		if err := sleep(ctx, dpPoll); err != nil {
			return err
		}
	}
}

// dpPort is a port as the data-plane scenarios read it.
type dpPort struct {
	Port struct {
		ID       string `json:"id"`
		MAC      string `json:"mac_address"`
		FixedIPs []struct {
			IPAddress string `json:"ip_address"`
		} `json:"fixed_ips"`
	} `json:"port"`
}

// call sends body (JSON, unless nil) and decodes the answer into out (unless nil).
func (n *neutron) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var b []byte
	if body != nil {
		b = mustJSON(body)
	}
	_, data, err := n.request(ctx, method, path, b, n.auth, want)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// externalNetwork returns the id of the first external network (devstack's
// "public", which `nimbus up` makes).
func (n *neutron) externalNetwork(ctx context.Context) (string, error) {
	var doc struct{ Networks []resource }
	if err := n.call(ctx, http.MethodGet, "/v2.0/networks?fields=id&router:external="+url.QueryEscape("true"), nil, http.StatusOK, &doc); err != nil {
		return "", err
	}
	if len(doc.Networks) == 0 {
		return "", errors.New("the cloud has no external network for floating IPs (network.default_networks off?)")
	}
	return doc.Networks[0].ID, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newUUID is a random (version 4) UUID, for the ports' device_id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
