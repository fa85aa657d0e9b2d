package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream anchors of the compute scenarios.
const (
	// UpstreamBootMedian is Rally's NovaServers.boot_and_delete_server median boot.
	UpstreamBootMedian = 8600 * time.Millisecond
	// UpstreamBuildBeforeQEMU is how long a typical upstream build spends before
	// QEMU starts (API, scheduler, conductor, compute manager).
	UpstreamBuildBeforeQEMU = 2800 * time.Millisecond
	// UpstreamBuildNeutronWait is how long a typical upstream build waits for
	// Neutron (ports and network-vif-plugged).
	UpstreamBuildNeutronWait = 3600 * time.Millisecond
	// ComputeAimBootsPerSec is the aim: the control plane boots at least this many
	// servers a second with the fake driver on 2 cores.
	ComputeAimBootsPerSec = 100
)

// Compute scenario names, as the report shows them.
const (
	CompScenarioCreate     = "server create (POST)"
	CompScenarioDetail     = "server list detail (GET)"
	CompScenarioDelete     = "server delete (DELETE)"
	CompScenarioWalkDetail = "walk /servers/detail?limit=1000"
	CompScenarioWalkIndex  = "walk /servers"
)

// computePhaseLimit bounds one phase: the bench is a measurement, not a soak test.
const computePhaseLimit = 15 * time.Minute

// ComputeOptions configure `nimbus bench compute`.
type ComputeOptions struct {
	Credentials Credentials
	// Concurrency is how many requests run at once.
	Concurrency int
	// Servers are booted (POST /servers at Concurrency) until all are ACTIVE.
	Servers int
	// ListServers is how many servers the large listing pages through: the bench
	// adds servers without networks (max_count batches) up to that many; those that
	// find no room end in ERROR, which lists the same (0: no large listing).
	ListServers int
	// DetailRequests is how many GET /servers/detail run at Concurrency.
	DetailRequests int
	// SerialBoots are booted one at a time, each polled until ACTIVE (Rally's
	// boot, the figure compared with upstream's).
	SerialBoots int
	// WalkRounds is how many times each listing is paged through (the median counts).
	WalkRounds int
	// CIDR is the subnet of the bench network the booted servers' ports are on.
	CIDR string
	// Poll is how often the bench lists the servers while it waits for them.
	Poll time.Duration
	// ServerPID, when set, adds the server's CPU and memory to the report.
	ServerPID int
	Timeout   time.Duration // per request
}

// Walk is one listing paged through to its end.
type Walk struct {
	Name    string        `json:"name"`
	Servers int           `json:"servers"`
	Pages   int           `json:"pages"`
	Rounds  int           `json:"rounds"`
	Median  time.Duration `json:"median_ns"`
	Min     time.Duration `json:"min_ns"`
	Max     time.Duration `json:"max_ns"`
}

// ComputeReport is the outcome of `nimbus bench compute`.
type ComputeReport struct {
	Target      string    `json:"target"`
	User        string    `json:"user"`
	Project     string    `json:"project"`
	Concurrency int       `json:"concurrency"`
	Cores       int       `json:"cores"`
	GoVersion   string    `json:"go_version"`
	Started     time.Time `json:"started"`
	Hosts       int       `json:"hosts"`
	Flavor      string    `json:"flavor"`
	// QuotaNote says how the project's quota admitted the servers.
	QuotaNote string `json:"quota_note,omitempty"`
	// Scenarios are the request stats (see the CompScenario names).
	Scenarios []Stats `json:"scenarios"`
	// Boots: Servers requested, Active of them reached ACTIVE, Failed ERROR,
	// within BootElapsed from the first POST to the last ACTIVE.
	Servers     int           `json:"servers"`
	Active      int           `json:"active"`
	Failed      int           `json:"failed"`
	BootElapsed time.Duration `json:"boot_elapsed_ns"`
	BootsPerSec float64       `json:"boots_per_s"`
	// ToActive are POST→ACTIVE times (at the bench's poll resolution).
	ToActiveP50 time.Duration `json:"to_active_p50_ns"`
	ToActiveP99 time.Duration `json:"to_active_p99_ns"`
	ToActiveMax time.Duration `json:"to_active_max_ns"`
	Poll        time.Duration `json:"poll_ns"`
	// Serial is one boot at a time, POST to ACTIVE (GET /servers/{id} every 5 ms).
	Serial *Stats `json:"serial_boot,omitempty"`
	// BootServer is the server's CPU during the boots.
	BootServer *ProcessUsage `json:"boot_server,omitempty"`
	// Walks are the listings paged through, at 1,000 servers and at ListServers.
	Walks []Walk `json:"walks"`
	// ListStates counts the large listing's servers by status.
	ListStates map[string]int `json:"list_states,omitempty"`
	// Deletes: every server the bench made deleted (DELETE at Concurrency), gone
	// from the listing within DeleteElapsed.
	Deleted       int           `json:"deleted"`
	DeleteElapsed time.Duration `json:"delete_elapsed_ns"`
	DeletesPerSec float64       `json:"deletes_per_s"`
	// Speedup is the upstream boot median divided by the serial boots' median here.
	Speedup        float64 `json:"boot_speedup"`
	ServerRSSStart int64   `json:"server_rss_start_bytes,omitempty"`
	ServerRSSEnd   int64   `json:"server_rss_end_bytes,omitempty"`
}

// Scenario returns the stats of the named scenario, if it ran.
func (r *ComputeReport) Scenario(name string) *Stats { return findStats(r.Scenarios, name) }

// Check fails when a request failed or a booted server did not reach ACTIVE.
func (r *ComputeReport) Check() error {
	errs := failedScenarios(r.Scenarios)
	if r.Active != r.Servers {
		errs = append(errs, fmt.Errorf("%d of %d servers reached ACTIVE (%d ERROR)", r.Active, r.Servers, r.Failed))
	}
	return errors.Join(errs...)
}

// Compute logs in, uploads a tiny raw image, makes a flavor (1 vCPU, 64 MB, 1 GB)
// and a network with a subnet of o.CIDR, lifts the project's compute quota when
// the cloud can, and measures: o.Servers servers booted at o.Concurrency until
// ACTIVE, GET /servers/detail at o.Concurrency, the listings paged through at
// that size and, topped up, at o.ListServers, and every server deleted. What it
// made is removed again.
func Compute(ctx context.Context, o ComputeOptions, progress func(string)) (*ComputeReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	o.Concurrency = max(o.Concurrency, 1)
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.CIDR == "" {
		o.CIDR = "10.96.0.0/16"
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	o.WalkRounds = max(o.WalkRounds, 1)
	if hosts, err := usableHosts(o.CIDR); err != nil {
		return nil, err
	} else if hosts < o.Servers+o.Concurrency {
		return nil, fmt.Errorf("--cidr %s has %d addresses, the bench boots %d servers", o.CIDR, hosts, o.Servers)
	}
	token, computeURL, project, err := serviceLogin(ctx, o.Credentials, "compute")
	if err != nil {
		return nil, err
	}
	_, imageURL, _, err := serviceLogin(ctx, o.Credentials, "image")
	if err != nil {
		return nil, err
	}
	_, networkURL, _, err := serviceLogin(ctx, o.Credentials, "network")
	if err != nil {
		return nil, err
	}
	nb, err := neutronBase(networkURL)
	if err != nil {
		return nil, err
	}
	c, err := newNova(computeURL, token, o)
	if err != nil {
		return nil, err
	}
	c.progress = progress
	defer c.close()
	img, err := hostRoot(imageURL)
	if err != nil {
		return nil, err
	}
	glance := newKeystone(img, 1, o.Timeout)
	defer glance.close()
	n := &neutron{keystone: newKeystone(nb, 1, o.Timeout), auth: c.auth}
	defer n.close()

	rep := &ComputeReport{Target: c.base + c.prefix, User: o.Credentials.Username,
		Project: firstNonEmpty(o.Credentials.ProjectName, project), Concurrency: o.Concurrency, Cores: runtime.NumCPU(),
		GoVersion: runtime.Version(), Started: time.Now().UTC(), Servers: o.Servers, Poll: o.Poll}
	if o.ServerPID > 0 {
		rep.ServerRSSStart, _ = RSS(o.ServerPID)
	}
	cleanup := context.WithoutCancel(ctx)

	// The fixtures: image, flavor, network, quotas.
	progress("uploading a 1 MiB raw image, making a flavor and a network with subnet " + o.CIDR)
	imageID, err := uploadTinyImage(ctx, glance, c.auth)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _, _ = glance.request(cleanup, http.MethodDelete, "/v2/images/"+imageID, nil, c.auth, http.StatusNoContent)
	}()
	flavorID, err := c.createFlavor(ctx, 1, 64, 1)
	if err != nil {
		return nil, err
	}
	rep.Flavor = "nimbus-bench-compute (1 vCPU, 64 MB RAM, 1 GB disk)"
	defer func() {
		_, _, _ = c.request(cleanup, http.MethodDelete, c.prefix+"/flavors/"+flavorID, nil, c.auth, http.StatusAccepted)
	}()
	restorePorts, _, err := n.ensurePortQuota(ctx, project, o.Servers+o.Concurrency)
	if err != nil {
		return nil, err
	}
	defer func() { _ = restorePorts(cleanup) }()
	net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-compute"})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := n.removeNetwork(cleanup, net.ID); err != nil {
			progress("could not remove the bench network: " + err.Error())
		}
	}()
	if _, err := n.create(ctx, "subnet", map[string]any{"name": "nimbus-bench-compute", "network_id": net.ID,
		"ip_version": 4, "cidr": o.CIDR}); err != nil {
		return nil, err
	}
	restoreQuota, note, err := c.liftQuota(ctx, project)
	if err != nil {
		return nil, err
	}
	rep.QuotaNote = note
	defer func() {
		if err := restoreQuota(cleanup); err != nil {
			progress("could not put the compute quota back: " + err.Error())
		}
	}()
	if hosts, err := c.hypervisorCount(ctx); err == nil {
		rep.Hosts = hosts
	}
	// Whatever happens, every server the bench made goes again.
	defer func() {
		if ctx.Err() == nil {
			return
		}
		progress("deleting the bench's servers")
		ids, _ := c.ids(cleanup)
		for _, id := range ids {
			_ = c.deleteServer(cleanup, id)
		}
	}()
	boot := map[string]any{"imageRef": imageID, "flavorRef": flavorID, "networks": []map[string]string{{"uuid": net.ID}}}

	// Warm-up, unmeasured: one server per worker, ACTIVE, deleted.
	progress(fmt.Sprintf("warm-up: booting and deleting %d servers", o.Concurrency))
	var warm []string
	var warmMu sync.Mutex
	st := Measure(ctx, "warm-up", Load{Concurrency: o.Concurrency, Duration: computePhaseLimit, MaxRequests: int64(o.Concurrency)},
		func(ctx context.Context, _ int) error {
			id, err := c.createServer(ctx, "nimbus-bench-warm", boot)
			warmMu.Lock()
			warm = append(warm, id)
			warmMu.Unlock()
			return err
		})
	if st.Errors > 0 {
		return nil, fmt.Errorf("create a server: %s", st.FirstError)
	}
	if _, err := c.waitStates(ctx, warm, nil); err != nil {
		return nil, err
	}
	for _, id := range warm {
		if err := c.deleteServer(ctx, id); err != nil {
			return nil, err
		}
	}
	if err := c.waitGone(ctx); err != nil {
		return nil, err
	}

	// 0. One boot at a time: POST, then GET /servers/{id} until ACTIVE, deleted.
	if o.SerialBoots > 0 {
		progress(fmt.Sprintf("booting %d servers one at a time", o.SerialBoots))
		st := Measure(ctx, "serial boot", Load{Concurrency: 1, Duration: computePhaseLimit, MaxRequests: int64(o.SerialBoots)},
			func(ctx context.Context, _ int) error {
				id, err := c.createServer(ctx, "nimbus-bench-serial", boot)
				if err != nil {
					return err
				}
				defer func() { _ = c.deleteServer(cleanup, id) }()
				return c.waitActive(ctx, id)
			})
		rep.Serial = &st
		rep.Speedup = speedup(UpstreamBootMedian, st.P50)
		if err := c.waitGone(ctx); err != nil {
			return nil, err
		}
	}

	// 1. Boots: o.Servers POSTs at o.Concurrency while a poller notes when each
	// reached ACTIVE.
	progress(fmt.Sprintf("booting %d servers at concurrency %d", o.Servers, o.Concurrency))
	posted := make(map[string]time.Time, o.Servers)
	var postedMu sync.Mutex
	var seq atomic.Int64
	done := make(chan struct{})
	var final map[string]serverSeen
	var waitErr error
	go func() {
		defer close(done)
		final, waitErr = c.waitStates(ctx, nil, func() ([]string, bool) {
			postedMu.Lock()
			defer postedMu.Unlock()
			ids := make([]string, 0, len(posted))
			for id := range posted {
				if !strings.HasPrefix(id, "failed-") {
					ids = append(ids, id)
				}
			}
			return ids, len(posted) >= o.Servers || ctx.Err() != nil
		})
	}()
	serverUse, clientUse, machine := startUsage(serverPIDs(o.ServerPID)...), startUsage(os.Getpid()), startMachine()
	start := time.Now()
	create := Measure(ctx, CompScenarioCreate, Load{Concurrency: min(o.Concurrency, o.Servers), Duration: computePhaseLimit,
		MaxRequests: int64(o.Servers)}, func(ctx context.Context, _ int) error {
		t0 := time.Now()
		id, err := c.createServer(ctx, fmt.Sprintf("nimbus-bench-%d", seq.Add(1)), boot)
		postedMu.Lock()
		if id != "" {
			posted[id] = t0
		} else {
			posted[fmt.Sprintf("failed-%d", len(posted))] = t0 // counted, never seen
		}
		postedMu.Unlock()
		return err
	})
	<-done
	if waitErr != nil {
		return nil, waitErr
	}
	var last time.Time
	var toActive []time.Duration
	for id, t0 := range posted {
		s, ok := final[id]
		switch {
		case !ok:
		case s.Status == "ACTIVE":
			rep.Active++
			toActive = append(toActive, s.At.Sub(t0))
			if s.At.After(last) {
				last = s.At
			}
		case s.Status == "ERROR":
			rep.Failed++
		}
	}
	rep.BootElapsed = last.Sub(start)
	if rep.BootElapsed > 0 {
		rep.BootsPerSec = float64(rep.Active) / rep.BootElapsed.Seconds()
	}
	boots := Stats{Elapsed: rep.BootElapsed, Requests: int64(rep.Active)}
	rep.BootServer, _, _ = serverUse.stop(&boots), clientUse.stop(&boots), machine.stop(&boots)
	slices.Sort(toActive)
	rep.ToActiveP50, rep.ToActiveP99 = Percentile(toActive, 50), Percentile(toActive, 99)
	if len(toActive) > 0 {
		rep.ToActiveMax = toActive[len(toActive)-1]
	}
	rep.Scenarios = append(rep.Scenarios, create)
	progress(fmt.Sprintf("%d of %d ACTIVE in %s: %s boots/s; POST→ACTIVE p50 %s, p99 %s", rep.Active, o.Servers,
		ms(rep.BootElapsed), rate(rep.BootsPerSec), ms(rep.ToActiveP50), ms(rep.ToActiveP99)))

	// 2. GET /servers/detail at o.Concurrency, and the listings paged through.
	if o.DetailRequests > 0 {
		progress(fmt.Sprintf("%d GET /servers/detail at concurrency %d", o.DetailRequests, o.Concurrency))
		rep.Scenarios = append(rep.Scenarios, measureUsage(ctx, CompScenarioDetail, Load{Concurrency: o.Concurrency,
			Duration: computePhaseLimit, MaxRequests: int64(o.DetailRequests)}, func(ctx context.Context, _ int) error {
			_, _, err := c.page(ctx, c.prefix+"/servers/detail")
			return err
		}, serverPIDs(o.ServerPID)...))
	}
	progress(fmt.Sprintf("paging through %d servers", o.Servers))
	rep.Walks = append(rep.Walks, c.walks(ctx, o.WalkRounds)...)

	// 3. Topped up to o.ListServers with servers without networks, in batches of
	// max_count 100; the listings paged through once none is building.
	if extra := o.ListServers - o.Servers; extra > 0 && ctx.Err() == nil {
		progress(fmt.Sprintf("adding %d servers (max_count 100, no network) for the listing of %d", extra, o.ListServers))
		var left atomic.Int64
		left.Store(int64(extra))
		more := map[string]any{"imageRef": imageID, "flavorRef": flavorID, "networks": []any{}}
		st := Measure(ctx, "top-up", Load{Concurrency: o.Concurrency, Duration: computePhaseLimit,
			MaxRequests: int64((extra + 99) / 100)}, func(ctx context.Context, _ int) error {
			n := min(100, left.Add(-100)+100)
			if n <= 0 {
				return nil
			}
			body := map[string]any{"name": "nimbus-bench-list", "min_count": n, "max_count": n}
			for k, v := range more {
				body[k] = v
			}
			_, err := c.createServer(ctx, "", body)
			return err
		})
		if st.Errors > 0 {
			return nil, fmt.Errorf("top-up: %s", st.FirstError)
		}
		states, err := c.settle(ctx)
		if err != nil {
			return nil, err
		}
		rep.ListStates = states
		progress(fmt.Sprintf("paging through %d servers", o.ListServers))
		rep.Walks = append(rep.Walks, c.walks(ctx, o.WalkRounds)...)
	}

	// 4. Deletes: every server at o.Concurrency, until the listing is empty.
	ids, err := c.ids(ctx)
	if err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("deleting %d servers at concurrency %d", len(ids), o.Concurrency))
	var next atomic.Int64
	start = time.Now()
	rep.Scenarios = append(rep.Scenarios, measureUsage(ctx, CompScenarioDelete, Load{Concurrency: min(o.Concurrency, max(len(ids), 1)),
		Duration: computePhaseLimit, MaxRequests: int64(len(ids))}, func(ctx context.Context, _ int) error {
		return c.deleteServer(ctx, ids[next.Add(1)-1])
	}, serverPIDs(o.ServerPID)...))
	if err := c.waitGone(ctx); err != nil {
		return rep, err
	}
	rep.Deleted, rep.DeleteElapsed = len(ids), time.Since(start)
	rep.DeletesPerSec = float64(rep.Deleted) / rep.DeleteElapsed.Seconds()
	if o.ServerPID > 0 {
		rep.ServerRSSEnd, _ = RSS(o.ServerPID)
	}
	return rep, ctx.Err()
}

// nova is a minimal Nova v2.1 client on the bench's keep-alive HTTP client.
type nova struct {
	*keystone
	// prefix is the catalog endpoint's path (/v2.1, maybe with a project id).
	prefix string
	auth   map[string]string
	poll   time.Duration
	// progress tells the figures as they come.
	progress func(string)
}

func newNova(endpoint, token string, o ComputeOptions) (*nova, error) {
	root, err := hostRoot(endpoint)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(strings.TrimRight(endpoint, "/"))
	return &nova{keystone: newKeystone(root, o.Concurrency+2, o.Timeout), prefix: u.Path,
		auth: map[string]string{"X-Auth-Token": token}, poll: o.Poll}, nil
}

// hostRoot is an endpoint's scheme://host:port.
func hostRoot(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: want http(s)://host:port", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// uploadTinyImage makes a public 1 MiB raw image (the fake driver never reads it).
func uploadTinyImage(ctx context.Context, g *keystone, auth map[string]string) (string, error) {
	_, body, err := g.request(ctx, http.MethodPost, "/v2/images", mustJSON(map[string]any{"name": "nimbus-bench-compute",
		"disk_format": "raw", "container_format": "bare"}), auth, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("create the image: %w", err)
	}
	var img struct{ ID string }
	if err := json.Unmarshal(body, &img); err != nil || img.ID == "" {
		return "", fmt.Errorf("create the image: no id in %s", snippet(body))
	}
	hdr := map[string]string{"X-Auth-Token": auth["X-Auth-Token"], "Content-Type": "application/octet-stream"}
	if _, _, err := g.request(ctx, http.MethodPut, "/v2/images/"+img.ID+"/file", make([]byte, 1<<20), hdr, http.StatusNoContent); err != nil {
		return "", fmt.Errorf("upload the image: %w", err)
	}
	return img.ID, nil
}

// createFlavor makes a flavor of the given size (RAM in MB, disk in GB).
func (c *nova) createFlavor(ctx context.Context, vcpus, ramMB, diskGB int) (string, error) {
	_, body, err := c.request(ctx, http.MethodPost, c.prefix+"/flavors", mustJSON(map[string]any{"flavor": map[string]any{
		"name": fmt.Sprintf("nimbus-bench-compute-%d", time.Now().UnixNano()), "vcpus": vcpus, "ram": ramMB, "disk": diskGB}}),
		c.auth, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("create the flavor (needs an admin): %w", err)
	}
	var doc struct{ Flavor struct{ ID string } }
	if err := json.Unmarshal(body, &doc); err != nil || doc.Flavor.ID == "" {
		return "", fmt.Errorf("create the flavor: no id in %s", snippet(body))
	}
	return doc.Flavor.ID, nil
}

// liftQuota makes the project's instances, cores and ram unlimited with
// os-quota-sets, and returns what puts them back. A cloud without os-quota-sets
// keeps its defaults (start it with NIMBUS_COMPUTE_QUOTA_*=-1, as --start does).
func (c *nova) liftQuota(ctx context.Context, project string) (func(context.Context) error, string, error) {
	noop := func(context.Context) error { return nil }
	path := c.prefix + "/os-quota-sets/" + project
	_, body, err := c.request(ctx, http.MethodGet, path, nil, c.auth, http.StatusOK)
	if err != nil {
		return noop, "no os-quota-sets here: the cloud's default quotas apply (--start lifts them: NIMBUS_COMPUTE_QUOTA_*=-1)", nil
	}
	var doc struct {
		QuotaSet map[string]any `json:"quota_set"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return noop, "", fmt.Errorf("read the compute quota: %w", err)
	}
	old := map[string]any{}
	for _, k := range []string{"instances", "cores", "ram"} {
		old[k] = doc.QuotaSet[k]
	}
	if _, _, err := c.request(ctx, http.MethodPut, path, mustJSON(map[string]any{"quota_set": map[string]any{
		"instances": -1, "cores": -1, "ram": -1}}), c.auth, http.StatusOK); err != nil {
		return noop, "", fmt.Errorf("lift the compute quota (needs an admin): %w", err)
	}
	return func(ctx context.Context) error {
		_, _, err := c.request(ctx, http.MethodPut, path, mustJSON(map[string]any{"quota_set": old}), c.auth, http.StatusOK)
		return err
	}, "the project's instances, cores and ram quotas were lifted with os-quota-sets and put back", nil
}

// hypervisorCount is how many compute hosts the cloud has (os-hypervisors, else os-services).
func (c *nova) hypervisorCount(ctx context.Context) (int, error) {
	if _, body, err := c.request(ctx, http.MethodGet, c.prefix+"/os-hypervisors", nil, c.auth, http.StatusOK); err == nil {
		var doc struct{ Hypervisors []any }
		if json.Unmarshal(body, &doc) == nil {
			return len(doc.Hypervisors), nil
		}
	}
	_, body, err := c.request(ctx, http.MethodGet, c.prefix+"/os-services?binary=nova-compute", nil, c.auth, http.StatusOK)
	if err != nil {
		return 0, err
	}
	var doc struct{ Services []any }
	err = json.Unmarshal(body, &doc)
	return len(doc.Services), err
}

// createServer posts a server (name "" keeps body's) and returns its id.
func (c *nova) createServer(ctx context.Context, name string, body map[string]any) (string, error) {
	srv := map[string]any{}
	for k, v := range body {
		srv[k] = v
	}
	if name != "" {
		srv["name"] = name
	}
	_, resp, err := c.request(ctx, http.MethodPost, c.prefix+"/servers", mustJSON(map[string]any{"server": srv}), c.auth, http.StatusAccepted)
	if err != nil {
		return "", err
	}
	var doc struct{ Server struct{ ID string } }
	if err := json.Unmarshal(resp, &doc); err != nil || doc.Server.ID == "" {
		return "", fmt.Errorf("POST /servers: no id in %s", snippet(resp))
	}
	return doc.Server.ID, nil
}

// deleteServer deletes a server: 204, as upstream; an already gone one counts as deleted.
func (c *nova) deleteServer(ctx context.Context, id string) error {
	_, _, err := c.request(ctx, http.MethodDelete, c.prefix+"/servers/"+id, nil, c.auth, http.StatusNoContent)
	if err != nil && strings.Contains(err.Error(), "status 404") {
		return nil
	}
	return err
}

// listedServer is what the bench reads of a listed server.
type listedServer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// page gets one page of a listing and the path of the next ("" at the end).
func (c *nova) page(ctx context.Context, path string) ([]listedServer, string, error) {
	_, body, err := c.request(ctx, http.MethodGet, path, nil, c.auth, http.StatusOK)
	if err != nil {
		return nil, "", err
	}
	var doc struct {
		Servers []listedServer
		Links   []struct{ Rel, Href string } `json:"servers_links"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	for _, l := range doc.Links {
		if l.Rel == "next" {
			u, err := url.Parse(l.Href)
			if err != nil {
				return nil, "", err
			}
			return doc.Servers, u.RequestURI(), nil
		}
	}
	return doc.Servers, "", nil
}

// list pages through a listing from path and returns every server and the pages.
func (c *nova) list(ctx context.Context, path string) ([]listedServer, int, error) {
	var all []listedServer
	pages := 0
	for path != "" {
		servers, next, err := c.page(ctx, path)
		if err != nil {
			return nil, pages, err
		}
		all, pages, path = append(all, servers...), pages+1, next
	}
	return all, pages, nil
}

// ids are every server of the project.
func (c *nova) ids(ctx context.Context) ([]string, error) {
	servers, _, err := c.list(ctx, c.prefix+"/servers?limit=1000")
	ids := make([]string, len(servers))
	for i, s := range servers {
		ids[i] = s.ID
	}
	return ids, err
}

// walks pages through /servers/detail?limit=1000 and /servers rounds times each,
// one request at a time.
func (c *nova) walks(ctx context.Context, rounds int) []Walk {
	var out []Walk
	for _, w := range []struct{ name, path string }{
		{CompScenarioWalkDetail, c.prefix + "/servers/detail?limit=1000"},
		{CompScenarioWalkIndex, c.prefix + "/servers"},
	} {
		walk := Walk{Name: w.name}
		var times []time.Duration
		for range rounds {
			t0 := time.Now()
			servers, pages, err := c.list(ctx, w.path)
			if err != nil {
				break
			}
			times = append(times, time.Since(t0))
			walk.Servers, walk.Pages = len(servers), pages
		}
		slices.Sort(times)
		walk.Rounds = len(times)
		if len(times) > 0 {
			walk.Median, walk.Min, walk.Max = Percentile(times, 50), times[0], times[len(times)-1]
		}
		out = append(out, walk)
		c.progress(fmt.Sprintf("%s: %d servers in %d pages, median %s", walk.Name, walk.Servers, walk.Pages, ms(walk.Median)))
	}
	return out
}

// serverSeen is when the bench first saw a server in a final state.
type serverSeen struct {
	Status string
	At     time.Time
}

// waitStates polls the listing every c.poll until every server of ids (or, with
// more, of the ids more returns once it says they are complete) is ACTIVE or ERROR, and
// returns when each was first seen so.
func (c *nova) waitStates(ctx context.Context, ids []string, more func() ([]string, bool)) (map[string]serverSeen, error) {
	seen := map[string]serverSeen{}
	deadline := time.Now().Add(computePhaseLimit)
	// Each poll asks only for what changed since shortly before the previous one
	// (changes-since has a resolution of a second), as upstream's clients wait.
	since := time.Now().Add(-2 * time.Second)
	for {
		t0 := time.Now()
		servers, _, err := c.list(ctx, c.prefix+"/servers/detail?limit=1000&changes-since="+
			url.QueryEscape(since.UTC().Format("2006-01-02T15:04:05Z")))
		if err != nil {
			return nil, err
		}
		since = t0.Add(-2 * time.Second)
		now := time.Now()
		for _, s := range servers {
			if _, ok := seen[s.ID]; !ok && (s.Status == "ACTIVE" || s.Status == "ERROR") {
				seen[s.ID] = serverSeen{Status: s.Status, At: now}
			}
		}
		want, complete := ids, true
		if more != nil {
			want, complete = more()
		}
		pending := 0
		for _, id := range want {
			if _, ok := seen[id]; !ok {
				pending++
			}
		}
		if complete && pending == 0 {
			return seen, nil
		}
		if now.After(deadline) {
			return nil, fmt.Errorf("%d servers still building after %s", pending, computePhaseLimit)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// settle waits until no server of the project is building and counts them by status.
func (c *nova) settle(ctx context.Context) (map[string]int, error) {
	deadline := time.Now().Add(computePhaseLimit)
	for {
		servers, _, err := c.list(ctx, c.prefix+"/servers/detail?limit=1000")
		if err != nil {
			return nil, err
		}
		states := map[string]int{}
		for _, s := range servers {
			states[s.Status]++
		}
		if states["BUILD"] == 0 {
			return states, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d servers still building after %s", states["BUILD"], computePhaseLimit)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// waitGone polls until the project has no server left (a one-server page is
// enough to tell).
func (c *nova) waitGone(ctx context.Context) error {
	deadline := time.Now().Add(computePhaseLimit)
	for {
		servers, _, err := c.page(ctx, c.prefix+"/servers?limit=1")
		if err != nil {
			return err
		}
		if len(servers) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("servers still there after %s of deleting", computePhaseLimit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.poll):
		}
	}
}

// waitActive polls one server every 5 ms until it is ACTIVE (ERROR fails).
func (c *nova) waitActive(ctx context.Context, id string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, body, err := c.request(ctx, http.MethodGet, c.prefix+"/servers/"+id, nil, c.auth, http.StatusOK)
		if err != nil {
			return err
		}
		var doc struct{ Server listedServer }
		if err := json.Unmarshal(body, &doc); err != nil {
			return err
		}
		switch doc.Server.Status {
		case "ACTIVE":
			return nil
		case "ERROR":
			return fmt.Errorf("server %s went to ERROR", id)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %s not ACTIVE after a minute", id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
