package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Upstream anchors of the network scenarios: Rally's medians for Neutron.
const (
	// UpstreamNetworkCreateDelete is NeutronNetworks.create_and_delete_networks.
	UpstreamNetworkCreateDelete = 380 * time.Millisecond
	// UpstreamPortIteration is one iteration of 10 ports created and deleted.
	UpstreamPortIteration = 8500 * time.Millisecond
	// NetworkAim is how many times faster than upstream the network API should be.
	NetworkAim = 20
)

// Network scenario names, as the report shows them.
const (
	NetScenarioPortCreate    = "port create"
	NetScenarioPortDelete    = "port delete"
	NetScenarioNetwork       = "network create+delete"
	NetScenarioNetworkSubnet = "network+subnet create+delete"
	NetScenarioPortIteration = "port iteration"
)

// networkPhaseLimit bounds one scenario: the bench is a measurement, not a soak test.
const networkPhaseLimit = 10 * time.Minute

// NetworkOptions configure `nimbus bench network`.
type NetworkOptions struct {
	Credentials Credentials
	// Concurrency is how many requests (or iterations) run at once.
	Concurrency int
	// Ports are created on one network, then deleted (the throughput scenario).
	Ports int
	// Networks is how many network create+delete pairs, and as many network+subnet
	// create+delete rounds, run.
	Networks int
	// Iterations of PortsPerIteration ports created one after the other, then
	// deleted (Rally's port iteration).
	Iterations        int
	PortsPerIteration int
	// CIDR is the IPv4 subnet the ports get their addresses from.
	CIDR string
	// ServerPID, when set, adds the server's CPU and memory to the report.
	ServerPID int
	Timeout   time.Duration // per request
}

// NetworkReport is the outcome of `nimbus bench network`.
type NetworkReport struct {
	Target            string    `json:"target"`
	User              string    `json:"user"`
	Project           string    `json:"project"`
	Concurrency       int       `json:"concurrency"`
	Cores             int       `json:"cores"`
	GoVersion         string    `json:"go_version"`
	Started           time.Time `json:"started"`
	CIDR              string    `json:"cidr"`
	PortsPerIteration int       `json:"ports_per_iteration"`
	// QuotaRaised says the project's port quota was lifted for the run (and put back).
	QuotaRaised bool `json:"quota_raised,omitempty"`
	// Scenarios are the stats in the order they ran (see the NetScenario names).
	Scenarios []Stats `json:"scenarios"`
	// PortsCreated and DistinctIPs check the port scenario: every port it created
	// should have had an address of its own.
	PortsCreated int      `json:"ports_created"`
	DistinctIPs  int      `json:"distinct_ips"`
	DuplicateIPs []string `json:"duplicate_ips,omitempty"`
	// Speedups are the upstream anchor divided by the median here.
	NetworkSpeedup       float64 `json:"network_create_delete_speedup"`
	PortIterationSpeedup float64 `json:"port_iteration_speedup"`
	ServerRSSStart       int64   `json:"server_rss_start_bytes,omitempty"`
	ServerRSSEnd         int64   `json:"server_rss_end_bytes,omitempty"`
	// Dataplane holds the data-plane scenarios, when they ran (on a cloud of their own).
	Dataplane *DataplaneReport `json:"dataplane,omitempty"`
}

// Scenario returns the stats of the named scenario, if it ran.
func (r *NetworkReport) Scenario(name string) *Stats { return findStats(r.Scenarios, name) }

// Check fails when a scenario had errors or ports shared an address.
func (r *NetworkReport) Check() error {
	errs := failedScenarios(r.Scenarios)
	if r.DistinctIPs != r.PortsCreated {
		errs = append(errs, fmt.Errorf("%d ports had %d distinct IP addresses (shared: %s)",
			r.PortsCreated, r.DistinctIPs, strings.Join(r.DuplicateIPs, ", ")))
	}
	return errors.Join(errs...)
}

// Network logs in, creates a network with an IPv4 subnet of o.CIDR, and runs the
// scenarios against the cloud's network API: o.Ports ports created and deleted at
// o.Concurrency, o.Networks network (and network+subnet) create+delete rounds, and
// o.Iterations iterations of o.PortsPerIteration ports. Whatever it created is
// deleted again, and a raised port quota put back. The report's Check says whether
// every request succeeded and every port had an address of its own.
func Network(ctx context.Context, o NetworkOptions, progress func(string)) (*NetworkReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	o.Concurrency = max(o.Concurrency, 1)
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.CIDR == "" {
		o.CIDR = "10.240.0.0/20"
	}
	hosts, err := usableHosts(o.CIDR)
	if err != nil {
		return nil, err
	}
	if need := portsAtOnce(o); need > hosts {
		return nil, fmt.Errorf("--cidr %s has %d addresses for ports, the bench needs %d at once", o.CIDR, hosts, need)
	}
	token, endpoint, project, err := serviceLogin(ctx, o.Credentials, "network")
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
	n := &neutron{keystone: newKeystone(base, o.Concurrency, o.Timeout), auth: map[string]string{"X-Auth-Token": token}}
	defer n.close()
	rep := &NetworkReport{
		Target: base, User: o.Credentials.Username, Project: firstNonEmpty(o.Credentials.ProjectName, project),
		Concurrency: o.Concurrency, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now().UTC(),
		CIDR: o.CIDR, PortsPerIteration: o.PortsPerIteration,
	}
	if o.ServerPID > 0 {
		rep.ServerRSSStart, _ = RSS(o.ServerPID)
	}
	cleanup := context.WithoutCancel(ctx)

	restore, raised, err := n.ensurePortQuota(ctx, project, portsAtOnce(o)+o.Concurrency)
	if err != nil {
		return nil, err
	}
	rep.QuotaRaised = raised
	defer func() {
		if err := restore(cleanup); err != nil {
			progress("could not put the port quota back: " + err.Error())
		}
	}()

	progress(fmt.Sprintf("creating network nimbus-bench-network with subnet %s", o.CIDR))
	net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-network"})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := n.removeNetwork(cleanup, net.ID); err != nil {
			progress("could not remove the bench network: " + err.Error())
		}
	}()
	if _, err := n.create(ctx, "subnet", map[string]any{"name": "nimbus-bench-subnet", "network_id": net.ID,
		"ip_version": 4, "cidr": o.CIDR}); err != nil {
		return nil, err
	}
	measure := func(name string, count int, op Op) {
		if count < 1 || ctx.Err() != nil {
			return
		}
		l := Load{Concurrency: min(o.Concurrency, count), Duration: networkPhaseLimit, MaxRequests: int64(count)}
		rep.Scenarios = append(rep.Scenarios, measureUsage(ctx, name, l, op, serverPIDs(o.ServerPID)...))
	}
	portAttrs := map[string]any{"network_id": net.ID, "name": "nimbus-bench-port"}

	// Warm-up, unmeasured: opens the connections, and the first port of a project
	// makes its default security group.
	warm := make([][]resource, o.Concurrency)
	st := Measure(ctx, "warm-up", Load{Concurrency: o.Concurrency, Duration: networkPhaseLimit, MaxRequests: int64(o.Concurrency)},
		func(ctx context.Context, w int) error {
			p, err := n.create(ctx, "port", portAttrs)
			if err == nil {
				warm[w] = append(warm[w], p)
			}
			return err
		})
	if st.Errors > 0 {
		return nil, fmt.Errorf("create a port: %s", st.FirstError)
	}
	for _, p := range slices.Concat(warm...) {
		if err := n.remove(ctx, "port", p.ID); err != nil {
			return nil, err
		}
	}

	// 1. Port throughput: o.Ports ports on the network, then deleted.
	progress(fmt.Sprintf("creating %d ports at concurrency %d", o.Ports, o.Concurrency))
	created := make([][]resource, o.Concurrency)
	measure(NetScenarioPortCreate, o.Ports, func(ctx context.Context, w int) error {
		p, err := n.create(ctx, "port", portAttrs)
		if err == nil {
			created[w] = append(created[w], p)
		}
		return err
	})
	ports := slices.Concat(created...)
	rep.PortsCreated = len(ports)
	var ips []string
	for _, p := range ports {
		if len(p.FixedIPs) > 0 {
			ips = append(ips, p.FixedIPs[0].IPAddress)
		}
	}
	rep.DuplicateIPs = duplicates(ips)
	rep.DistinctIPs = len(slices.Compact(slices.Sorted(slices.Values(ips))))
	progress(fmt.Sprintf("deleting %d ports at concurrency %d", len(ports), o.Concurrency))
	var next atomic.Int64
	measure(NetScenarioPortDelete, len(ports), func(ctx context.Context, _ int) error {
		return n.remove(ctx, "port", ports[next.Add(1)-1].ID)
	})

	// 2. Networks: create+delete pairs (Rally's create_and_delete_networks), then
	// the same with a subnet created and deleted in between.
	progress(fmt.Sprintf("creating and deleting %d networks, then %d networks with a subnet", o.Networks, o.Networks))
	measure(NetScenarioNetwork, o.Networks, func(ctx context.Context, _ int) error {
		net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-net"})
		if err != nil {
			return err
		}
		return n.remove(ctx, "network", net.ID)
	})
	measure(NetScenarioNetworkSubnet, o.Networks, func(ctx context.Context, _ int) error {
		net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-net"})
		if err != nil {
			return err
		}
		sub, err := n.create(ctx, "subnet", map[string]any{"name": "nimbus-bench-net", "network_id": net.ID,
			"ip_version": 4, "cidr": "10.241.0.0/24"})
		if err == nil {
			err = n.remove(ctx, "subnet", sub.ID)
		}
		return errors.Join(err, n.remove(cleanup, "network", net.ID))
	})

	// 3. Rally's port iteration: PortsPerIteration ports created one after the
	// other on the network, then deleted.
	progress(fmt.Sprintf("running %d iterations of %d ports created and deleted", o.Iterations, o.PortsPerIteration))
	measure(NetScenarioPortIteration, o.Iterations, func(ctx context.Context, _ int) error {
		var made []resource
		var err error
		for range o.PortsPerIteration {
			var p resource
			if p, err = n.create(ctx, "port", portAttrs); err != nil {
				break
			}
			made = append(made, p)
		}
		for _, p := range made {
			if e := n.remove(ctx, "port", p.ID); e != nil && err == nil {
				err = e
			}
		}
		return err
	})

	if s := rep.Scenario(NetScenarioNetwork); s != nil {
		rep.NetworkSpeedup = speedup(UpstreamNetworkCreateDelete, s.P50)
	}
	if s := rep.Scenario(NetScenarioPortIteration); s != nil {
		rep.PortIterationSpeedup = speedup(UpstreamPortIteration, s.P50)
	}
	if o.ServerPID > 0 {
		rep.ServerRSSEnd, _ = RSS(o.ServerPID)
	}
	return rep, ctx.Err()
}

// portsAtOnce is the most ports the scenarios hold at one time.
func portsAtOnce(o NetworkOptions) int {
	return max(o.Ports, o.Concurrency*o.PortsPerIteration, o.Concurrency)
}

func serverPIDs(pid int) []int {
	if pid > 0 {
		return []int{pid}
	}
	return nil
}

// speedup is how many times shorter d is than the upstream anchor (0 when unknown).
func speedup(anchor, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(anchor) / float64(d)
}

// duplicates returns, sorted, the values that occur more than once.
func duplicates(values []string) []string {
	seen := make(map[string]int, len(values))
	var out []string
	for _, v := range values {
		seen[v]++
		if seen[v] == 2 {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// usableHosts is how many addresses an IPv4 subnet gives ports: all but the
// network and broadcast addresses and the gateway.
func usableHosts(cidr string) (int, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p != p.Masked() {
		return 0, fmt.Errorf("--cidr %q: want an IPv4 network such as 10.240.0.0/20", cidr)
	}
	if p.Bits() > 29 {
		return 0, fmt.Errorf("--cidr %s: too small, want at most /29", cidr)
	}
	return 1<<(32-p.Bits()) - 3, nil
}

// neutronBase turns the catalog's network endpoint into the API root, without
// the version: upstream's catalog lists Neutron unversioned, some list /v2.0.
func neutronBase(endpoint string) (string, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("network endpoint %q: want http(s)://host:port", endpoint)
	}
	u.Path = strings.TrimSuffix(u.Path, "/v2.0")
	return u.String(), nil
}

// neutron is a minimal Neutron v2.0 client on the bench's keep-alive HTTP client.
type neutron struct {
	*keystone
	auth map[string]string
}

// resource is what the bench reads back of a created network, subnet or port.
type resource struct {
	ID       string `json:"id"`
	FixedIPs []struct {
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
}

// collection is the path of a kind's resources: /v2.0/ports, and with upstream's
// dashes /v2.0/security-groups for the body's "security_group".
func collection(kind string) string {
	return "/v2.0/" + strings.ReplaceAll(kind, "_", "-") + "s"
}

// create posts {kind: attrs} to the kind's collection and returns the created resource.
func (n *neutron) create(ctx context.Context, kind string, attrs map[string]any) (resource, error) {
	path := collection(kind)
	_, body, err := n.request(ctx, http.MethodPost, path, mustJSON(map[string]any{kind: attrs}), n.auth, http.StatusCreated)
	if err != nil {
		return resource{}, err
	}
	var doc map[string]resource
	if err := json.Unmarshal(body, &doc); err != nil {
		return resource{}, fmt.Errorf("POST %s: %w", path, err)
	}
	r, ok := doc[kind]
	if !ok || r.ID == "" {
		return resource{}, fmt.Errorf("POST %s: no %s id in %s", path, kind, snippet(body))
	}
	return r, nil
}

// remove deletes the kind's resource id: 204, as upstream.
func (n *neutron) remove(ctx context.Context, kind, id string) error {
	_, _, err := n.request(ctx, http.MethodDelete, collection(kind)+"/"+id, nil, n.auth, http.StatusNoContent)
	return err
}

// removeNetwork deletes a network's ports, then the network (and its subnets).
func (n *neutron) removeNetwork(ctx context.Context, id string) error {
	_, body, err := n.request(ctx, http.MethodGet, "/v2.0/ports?fields=id&network_id="+url.QueryEscape(id), nil, n.auth, http.StatusOK)
	if err != nil {
		return err
	}
	var doc struct{ Ports []resource }
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	for _, p := range doc.Ports {
		if err := n.remove(ctx, "port", p.ID); err != nil {
			return err
		}
	}
	return n.remove(ctx, "network", id)
}

// ensurePortQuota lifts the project's port quota when fewer than need ports are
// left (admins only), and returns what puts it back: the earlier limit, or the
// defaults when the project had no quota of its own.
func (n *neutron) ensurePortQuota(ctx context.Context, project string, need int) (restore func(context.Context) error, raised bool, err error) {
	noop := func(context.Context) error { return nil }
	_, body, err := n.request(ctx, http.MethodGet, "/v2.0/quotas/"+project+"/details.json", nil, n.auth, http.StatusOK)
	if err != nil {
		return noop, false, fmt.Errorf("read the port quota: %w", err)
	}
	var details struct {
		Quota struct {
			Port struct{ Limit, Used int }
		}
	}
	if err := json.Unmarshal(body, &details); err != nil {
		return noop, false, fmt.Errorf("read the port quota: %w", err)
	}
	q := details.Quota.Port
	if q.Limit < 0 || q.Limit-q.Used >= need {
		return noop, false, nil
	}
	_, body, err = n.request(ctx, http.MethodGet, "/v2.0/quotas", nil, n.auth, http.StatusOK)
	if err != nil {
		return noop, false, fmt.Errorf("the project's port quota is %d with %d used and the bench needs %d more: "+
			"run as an admin, raise the quota or lower --ports (%w)", q.Limit, q.Used, need, err)
	}
	var list struct {
		Quotas []struct {
			ProjectID string `json:"project_id"`
		}
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return noop, false, err
	}
	own := false // whether the project has quotas of its own
	for _, e := range list.Quotas {
		own = own || e.ProjectID == project
	}
	if _, _, err := n.request(ctx, http.MethodPut, "/v2.0/quotas/"+project,
		mustJSON(map[string]any{"quota": map[string]any{"port": -1}}), n.auth, http.StatusOK); err != nil {
		return noop, false, fmt.Errorf("raise the port quota: %w", err)
	}
	return func(ctx context.Context) error {
		if !own {
			_, _, err := n.request(ctx, http.MethodDelete, "/v2.0/quotas/"+project, nil, n.auth, http.StatusNoContent)
			return err
		}
		_, _, err := n.request(ctx, http.MethodPut, "/v2.0/quotas/"+project,
			mustJSON(map[string]any{"quota": map[string]any{"port": q.Limit}}), n.auth, http.StatusOK)
		return err
	}, true, nil
}
