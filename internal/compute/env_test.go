package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// testEnv is identity and compute on one database, the compute API behind an
// httptest server, with in-memory image and network services (the other
// services' own tests cover them; here they only answer as they would).
type testEnv struct {
	t           testing.TB
	Compute     *Service
	URL         string
	identity    *identitytest.Env
	images      *memImages
	net         *memNetwork
	AdminToken  string
	DemoToken   string
	DemoProject string
	// drivers are the fake hypervisors of run's hosts.
	drivers map[string]*fake.Driver
	// opts made Compute; handler serves the API (atomic: a test may put a
	// second process behind it while the server runs).
	opts    Options
	handler atomic.Pointer[http.Handler]
}

// testNetworkID is the demo project's network in memNetwork, and its ports'
// ids are UUIDs too, as upstream's schemas ask (os-interface's net_id, port_id).
const testNetworkID = "11111111-0000-4000-8000-000000000001"

func newTestEnv(t testing.TB, tune func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	database := dbtest.Open(t, dir)
	e := &testEnv{t: t, images: &memImages{images: map[string]Image{}}, net: newMemNetwork()}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*e.handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	enforcer := policy.NewEnforcer()
	e.identity = identitytest.Start(t, database, dir, policy.NewEnforcer(), identity.CatalogService{Type: "compute", Name: "nova", URL: ts.URL + "/v2.1"})
	e.AdminToken, e.DemoToken, e.DemoProject = e.identity.AdminToken, e.identity.DemoToken, e.identity.DemoProject
	e.net.auth = e.identity.Service.Validator()
	e.images.auth = e.identity.Service.Validator()
	e.net.networks[testNetworkID] = NetworkInfo{ID: testNetworkID, Name: "private", ProjectID: e.DemoProject, MTU: 1450}
	opts := Options{DB: database, Logger: slog.New(failOnViolations(t)), Auth: e.identity.Service.Validator(),
		Policy: enforcer, PublicURL: ts.URL, Images: e.images, Network: e.net, CheckResponses: true}
	if tune != nil {
		tune(&opts)
	}
	svc, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.EnsureDefaultFlavors(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.Compute, e.opts = svc, opts
	h := svc.Handler()
	e.handler.Store(&h)
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000001", Name: "guest", Status: "active", DiskFormat: "qcow2", Size: 16 << 20, VirtualSize: 33 << 20,
		Properties: map[string]string{"hypervisor_type": "qemu", "architecture": "x86_64"},
		CreatedAt:  "2026-01-01T00:00:00Z", UpdatedAt: "2026-01-01T00:00:00Z"})
	return e
}

// violations is a log that fails the test for every response that broke its
// route's response schema, so each schema a route declares is proven by the
// tests that call it.
type violations struct {
	t testing.TB
	slog.Handler
}

func failOnViolations(t testing.TB) slog.Handler {
	return violations{t: t, Handler: slog.NewTextHandler(io.Discard, nil)}
}

func (v violations) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Message == httpapi.ResponseViolation {
		var attrs []string
		rec.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a.String())
			return true
		})
		v.t.Errorf("%s: %s", rec.Message, strings.Join(attrs, " "))
	}
	return nil
}

func (v violations) WithAttrs(as []slog.Attr) slog.Handler {
	return violations{t: v.t, Handler: v.Handler.WithAttrs(as)}
}

func (v violations) WithGroup(name string) slog.Handler {
	return violations{t: v.t, Handler: v.Handler.WithGroup(name)}
}

// secondProcess starts another compute service on the same database, as a
// second Nimbus process on one PostgreSQL (its own conductor host name), and
// spreads the API's requests over both in turn. It returns the second service,
// whose conductor the test may run beside the first's.
func (e *testEnv) secondProcess() *Service {
	e.t.Helper()
	opts := e.opts
	opts.Policy, opts.Host = policy.NewEnforcer(), "conductor-2"
	svc, err := New(context.Background(), opts)
	if err != nil {
		e.t.Fatal(err)
	}
	var rr http.Handler = &conctest.RoundRobin{Handlers: []http.Handler{*e.handler.Load(), svc.Handler()}}
	e.handler.Store(&rr)
	return svc
}

// Do sends a JSON request and decodes the JSON answer.
func (e *testEnv) Do(method, path, token string, body any) (int, map[string]any, []byte) {
	e.t.Helper()
	status, out, data, _ := e.send("", method, path, token, body)
	return status, out, data
}

// send is Do at compute microversion version ("" sends none): a string body
// goes as it is, anything else as JSON.
func (e *testEnv) send(version, method, path, token string, body any) (int, map[string]any, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if raw, ok := body.(string); ok {
		rd = bytes.NewReader([]byte(raw))
	} else if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	if version != "" {
		req.Header.Set("OpenStack-API-Version", "compute "+version)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, data, resp.Header
}

// Must sends a request and fails unless the status is want.
func (e *testEnv) Must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, data := e.Do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, data)
	}
	return out
}

// host registers a compute host of the given size, heard from now.
func (e *testEnv) host(name string, vcpus, ramMB, diskGB int) {
	e.t.Helper()
	if err := e.Compute.ReportService(context.Background(), ServiceReport{Host: name, VCPUs: vcpus, MemoryMB: ramMB, DiskGB: diskGB,
		HypervisorType: "QEMU", HypervisorVersion: 7002000}); err != nil {
		e.t.Fatal(err)
	}
}

// hostUsage reads a host's state with what its claims use.
func (e *testEnv) hostUsage(host string) hostState {
	e.t.Helper()
	hosts, err := loadHostStates(context.Background(), e.Compute.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, host)
	if err != nil || len(hosts) != 1 {
		e.t.Fatalf("host %s: %v %v", host, hosts, err)
	}
	return hosts[0]
}

// conduct runs conductor passes until nothing is left to schedule or allocate.
func (e *testEnv) conduct() {
	e.t.Helper()
	for range 5 {
		if err := e.Compute.conduct(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

// server reads a server as admin.
func (e *testEnv) server(id string) map[string]any {
	e.t.Helper()
	return e.Must(200, "GET", "/v2.1/servers/"+id, e.AdminToken, nil)["server"].(map[string]any)
}

// memImages is an image service in memory: public images, and private ones
// that only their project (and admins) may see, as the real service answers.
type memImages struct {
	mu     sync.Mutex
	images map[string]Image
	// owners are the projects of private images.
	owners map[string]string
	// auth tells the project of a caller's token; nil sees every image.
	auth *auth.Validator
}

func (m *memImages) add(img Image) {
	if img.CreatedAt == "" {
		img.CreatedAt, img.UpdatedAt = "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.images[img.ID] = img
}

// addPrivate adds an image only project (and admins) may see.
func (m *memImages) addPrivate(img Image, project string) {
	m.add(img)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owners == nil {
		m.owners = map[string]string{}
	}
	m.owners[img.ID] = project
}

func (m *memImages) Get(ctx context.Context, token, id string) (Image, error) {
	m.mu.Lock()
	img, ok := m.images[id]
	owner := m.owners[id]
	m.mu.Unlock()
	if ok && owner != "" && m.auth != nil && token != "" { // "": compute's own credentials, an admin's
		creds, err := m.auth.Authenticate(ctx, token)
		if err != nil {
			return Image{}, httpapi.Unauthorized("The request you have made requires authentication.")
		}
		ok = creds.ProjectID == owner || isAdmin(creds)
	}
	if !ok {
		return Image{}, httpapi.NotFound("No image found with ID %s", id)
	}
	return img, nil
}

func (m *memImages) Download(_ context.Context, id string, w io.Writer) error {
	_, err := w.Write([]byte("image " + id))
	return err
}

// memNetwork is a network service in memory: networks, ports with addresses
// from 10.0.0.0/24, and security groups (env_security_groups_test.go) with the
// "default" one of every project.
type memNetwork struct {
	mu       sync.Mutex
	networks map[string]NetworkInfo
	ports    map[string]*Port
	groups   map[string]*SecurityGroup
	next     int
	// auth tells the project of a caller's token, as the real service's
	// validation does; nil treats every caller as an admin.
	auth *auth.Validator
	// creators are the projects ports were made as.
	creators map[string]string
	// fips are the floating IPs by id, fipOwners their projects.
	fips      map[string]*FloatingIP
	fipOwners map[string]string
	// beforeDelete, if set, runs as a port is deleted (without the lock).
	beforeDelete func(id string)
}

func newMemNetwork() *memNetwork {
	return &memNetwork{networks: map[string]NetworkInfo{testNetworkID: {ID: testNetworkID, Name: "private", MTU: 1450}}, ports: map[string]*Port{},
		groups: map[string]*SecurityGroup{}}
}

func (m *memNetwork) Networks(context.Context, string) ([]NetworkInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []NetworkInfo
	for _, n := range m.networks {
		out = append(out, n)
	}
	return out, nil
}

func (m *memNetwork) GetNetwork(_ context.Context, _, id string) (NetworkInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.networks[id]
	if !ok {
		return n, httpapi.NotFound("Network %s could not be found.", id)
	}
	return n, nil
}

// GetPort answers as Neutron's get_port: the port's project, its network's
// owner and admins see it; anyone else gets a 404.
func (m *memNetwork) GetPort(ctx context.Context, token, id string) (Port, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return Port{}, err
	}
	p, err := m.PortStatus(ctx, id)
	if err != nil {
		return Port{}, err
	}
	m.mu.Lock()
	owner := m.networks[p.NetworkID].ProjectID
	m.mu.Unlock()
	if !c.sees(p.ProjectID) && !c.sees(owner) {
		return Port{}, httpapi.NotFound("Port %s could not be found.", id)
	}
	return p, nil
}

func (m *memNetwork) PortStatus(_ context.Context, id string) (Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.ports[id]
	if !ok {
		return Port{}, httpapi.NotFound("Port %s could not be found.", id)
	}
	return *p, nil
}

// SecurityGroupIDs resolves as the real client does: ids or names among the
// project's groups, 400 for an unknown or an ambiguous name.
func (m *memNetwork) SecurityGroupIDs(_ context.Context, _, project string, names []string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ensureDefault(project)
	var out []string
	for _, n := range names {
		found := ""
		for _, g := range m.sortedGroups() {
			if g.ProjectID != project {
				continue
			}
			if g.ID == n {
				found = g.ID
				break
			}
			if g.Name == n {
				if found != "" {
					return nil, httpapi.BadRequest("Multiple security_group matches found for name '%s', use an ID to be more specific.", n)
				}
				found = g.ID
			}
		}
		if found == "" {
			return nil, httpapi.BadRequest("Security group %s not found for project %s.", n, project)
		}
		out = append(out, found)
	}
	return out, nil
}

// CreatePort answers as Neutron's create_port with its default policies: the
// network must be one the caller sees, a fixed IP is an admin's or the
// network owner's to ask for, another project's port an admin's.
// Creators records the project each port was made as ("" for compute's own
// credentials).
func (m *memNetwork) CreatePort(ctx context.Context, token string, req PortRequest) (Port, error) {
	c, err := m.caller(ctx, token)
	if err != nil {
		return Port{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.networks[req.NetworkID]
	if !ok || !(c.sees(n.ProjectID) || n.Shared || n.External) {
		return Port{}, httpapi.NotFound("Network %s could not be found.", req.NetworkID)
	}
	switch {
	case req.ProjectID != "" && !c.sees(req.ProjectID):
		return Port{}, httpapi.Forbidden("Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges")
	case req.FixedIP != "" && !c.sees(n.ProjectID):
		return Port{}, httpapi.Forbidden("(rule:create_port and rule:create_port:fixed_ips:ip_address) is disallowed by policy")
	}
	project := req.ProjectID
	if project == "" {
		project = c.project
	}
	for _, g := range req.SecurityGroups {
		if sg, ok := m.groups[g]; ok && sg.ProjectID != project && !c.admin {
			return Port{}, groupNotFoundErr(g)
		}
	}
	m.next++
	p := &Port{ID: fmt.Sprintf("22222222-0000-4000-8000-%012d", m.next), NetworkID: req.NetworkID, ProjectID: project,
		MAC: fmt.Sprintf("fa:16:3e:00:00:%02x", m.next), Status: "DOWN", DeviceID: req.DeviceID,
		FixedIPs:       []PortIP{{SubnetID: "bbbbbbbb-0000-4000-8000-000000000001", IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(m.next + 2)})}},
		SecurityGroups: slices.Clone(req.SecurityGroups), PortSecurityEnabled: true}
	if req.FixedIP != "" {
		p.FixedIPs[0].IP = netip.MustParseAddr(req.FixedIP)
	}
	if req.SecurityGroups == nil && project != "" {
		p.SecurityGroups = []string{m.ensureDefault(project)} // as Neutron gives a port of no groups
	}
	m.ports[p.ID] = p
	if m.creators == nil {
		m.creators = map[string]string{}
	}
	m.creators[p.ID] = c.project
	return *p, nil
}

func (m *memNetwork) BindPort(_ context.Context, id, device, owner, host string) (Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.ports[id]
	if !ok {
		return Port{}, httpapi.NotFound("Port %s could not be found.", id)
	}
	p.DeviceID, p.DeviceOwner, p.HostID = device, owner, host
	return *p, nil
}

func (m *memNetwork) UnbindPort(ctx context.Context, id string) error {
	_, err := m.BindPort(ctx, id, "", "", "")
	return err
}

func (m *memNetwork) DeletePort(_ context.Context, id string) error {
	if m.beforeDelete != nil {
		m.beforeDelete(id)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ports, id)
	return nil
}

func (m *memNetwork) FloatingIPs(context.Context, string) ([]netip.Addr, error) { return nil, nil }

func (m *memNetwork) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ports)
}

func (m *memNetwork) PortsOf(_ context.Context, device string) ([]Port, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Port
	for _, p := range m.ports {
		if p.DeviceID == device {
			out = append(out, *p)
		}
	}
	return out, nil
}
