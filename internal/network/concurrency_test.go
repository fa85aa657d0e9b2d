package network

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// The invariant tests of issue 17: many API calls at once, spread over two network
// service instances on one database (as two Nimbus processes on one PostgreSQL),
// then the invariants checked in the database. They run on SQLite, and on
// PostgreSQL with NIMBUS_TEST_DATABASE_URL.

// concurrency is how many calls each burst makes at once.
const concurrency = 32

// twoInstances puts a second network service on e's database behind e's URL, the
// requests alternating between the two.
func (e *testEnv) twoInstances() *Service {
	e.t.Helper()
	second, err := New(context.Background(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.handler = &conctest.RoundRobin{Handlers: []http.Handler{e.handler, second.Handler()}}
	return second
}

// slowClock is time.Now after a pause, for the services of tests that hold open the
// window between a transaction's reads and its writes.
func slowClock() time.Time {
	time.Sleep(20 * time.Millisecond)
	return time.Now()
}

// warmPool opens n connections to PostgreSQL and leaves them idle in the pool, as a
// running server has them: a burst on a cold pool waits for PostgreSQL to start a
// backend for each connection, one after another, which spreads the burst out
// until nothing overlaps.
func (e *testEnv) warmPool(n int) {
	if e.DB.Dialect != db.Postgres {
		return
	}
	var opened atomic.Int32
	errs := conctest.Burst(n, func(int) error {
		return e.DB.InTx(context.Background(), func(*db.Tx) error {
			// Hold the connection until all n are open (or the pool has no more).
			opened.Add(1)
			for deadline := time.Now().Add(2 * time.Second); opened.Load() < int32(n) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			return nil
		})
	})
	for _, err := range errs {
		if err != nil {
			e.t.Fatalf("warm the pool: %v", err)
		}
	}
}

// reply is one answer of a burst.
type reply struct {
	status int
	out    map[string]any
	raw    []byte
}

// kind is the NeutronError type of a failed reply.
func (r reply) kind() string {
	ne, _ := r.out["NeutronError"].(map[string]any)
	kind, _ := ne["type"].(string)
	return kind
}

// request is one call of a burst.
type request struct {
	method, path, token string
	body                any
}

// send is Do for goroutines: a transport failure is a reply of status 0, not a
// test failure from outside the test's goroutine. header are name/value pairs.
func (e *testEnv) send(rq request, header ...string) reply {
	var rd io.Reader
	if rq.body != nil {
		data, _ := json.Marshal(rq.body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(rq.method, e.URL+rq.path, rd)
	if err != nil {
		return reply{raw: []byte(err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", rq.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return reply{raw: []byte(err.Error())}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: data}
	_ = json.Unmarshal(data, &r.out)
	return r
}

// burst sends the n requests of build at once and returns their replies by index.
func (e *testEnv) burst(n int, build func(i int) request) []reply {
	e.warmPool(n)
	replies := make([]reply, n)
	conctest.Burst(n, func(i int) error {
		replies[i] = e.send(build(i))
		return nil
	})
	return replies
}

// expect fails unless every reply is one of the outcomes allowed (status with an
// error type, "" for a success), and returns how many had each status.
func expect(t *testing.T, what string, replies []reply, allowed map[int]string) map[int]int {
	t.Helper()
	counts := map[int]int{}
	for i, r := range replies {
		counts[r.status]++
		kind, ok := allowed[r.status]
		if !ok || kind != r.kind() {
			t.Errorf("%s: call %d answered %d %s", what, i, r.status, r.raw)
		}
	}
	return counts
}

// count runs a COUNT query on the database.
func (e *testEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// setQuota sets one of a project's limits.
func (e *testEnv) setQuota(project, resource string, limit int) {
	e.t.Helper()
	e.Must(200, "PUT", "/v2.0/quotas/"+project, e.AdminToken, map[string]any{"quota": map[string]any{resource: limit}})
}

// checkAddresses checks IPAM's invariants over the whole database: no address is
// held twice, and every port's fixed_ips are exactly its rows in ip_allocations.
func (e *testEnv) checkAddresses() {
	e.t.Helper()
	ctx := context.Background()
	ports, err := loadBodies[portBody](ctx, e.DB, `SELECT body FROM ports`)
	if err != nil {
		e.t.Fatal(err)
	}
	holder := map[fixedIP]string{}
	for _, p := range ports {
		var shown []string
		for _, f := range p.FixedIPs {
			if other, taken := holder[f]; taken {
				e.t.Errorf("address %s of subnet %s is held by ports %s and %s", f.IPAddress, f.SubnetID, other, p.ID)
			}
			holder[f] = p.ID
			shown = append(shown, f.SubnetID+"/"+f.IPAddress)
		}
		stored, err := loadRows(ctx, e, `SELECT subnet_id, ip_address FROM ip_allocations WHERE port_id = ?`, p.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		slices.Sort(shown)
		slices.Sort(stored)
		if !slices.Equal(shown, stored) {
			e.t.Errorf("port %s shows fixed IPs %v, ip_allocations has %v", p.ID, shown, stored)
		}
	}
	if orphans := e.count(`SELECT COUNT(*) FROM ip_allocations a WHERE NOT EXISTS (SELECT 1 FROM ports p WHERE p.id = a.port_id)`); orphans > 0 {
		e.t.Errorf("%d allocations of ports that do not exist", orphans)
	}
}

// loadRows reads two text columns joined by "/".
func loadRows(ctx context.Context, e *testEnv, query string, args ...any) ([]string, error) {
	rows, err := e.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out = append(out, a+"/"+b)
	}
	return out, rows.Err()
}

// TestConcurrentFloatingIPsOnOneFixedIP is finding 3: floating IPs associated with
// one fixed IP at once, by update and at creation; one wins, the others get
// upstream's 409.
func TestConcurrentFloatingIPsOnOneFixedIP(t *testing.T) {
	e := newTestEnv(t, nil)
	second := e.twoInstances()
	extID, privNet, _, _ := e.routedNetwork()
	e.setQuota(e.DemoProject, "floatingip", -1)
	vm := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})
	var fips []string
	for range concurrency {
		fips = append(fips, e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})["id"].(string))
	}
	// An update reads the clock between its check and its write: a slow clock holds
	// that window open as a loaded server would.
	for _, svc := range []*Service{e.Network, second} {
		svc.now = slowClock
	}

	replies := e.burst(concurrency, func(i int) request {
		return request{"PUT", fipPath(fips[i]), e.DemoToken, fipBody(map[string]any{"port_id": vm["id"]})}
	})
	counts := expect(t, "associate", replies, map[int]string{200: "", 409: "FloatingIPPortAlreadyAssociated"})
	if counts[200] != 1 {
		t.Errorf("%d associations succeeded, want 1", counts[200])
	}
	if n := e.count(`SELECT COUNT(*) FROM floatingips WHERE port_id = ?`, vm["id"]); n != 1 {
		t.Errorf("%d floating IPs on port %s, want 1", n, vm["id"])
	}

	vm2 := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})
	replies = e.burst(concurrency, func(int) request {
		return request{"POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "port_id": vm2["id"]})}
	})
	counts = expect(t, "create associated", replies, map[int]string{201: "", 409: "FloatingIPPortAlreadyAssociated"})
	if counts[201] != 1 {
		t.Errorf("%d associated creations succeeded, want 1", counts[201])
	}
	if n := e.count(`SELECT COUNT(*) FROM floatingips WHERE port_id = ?`, vm2["id"]); n != 1 {
		t.Errorf("%d floating IPs on port %s, want 1", n, vm2["id"])
	}
	// The refused creations left no floating IP port behind.
	fipPorts := e.count(`SELECT COUNT(*) FROM ports WHERE device_id IN (SELECT id FROM floatingips)`)
	if all := e.count(`SELECT COUNT(*) FROM floatingips`); fipPorts != all || all != concurrency+1 {
		t.Errorf("%d floating IPs with %d ports, want %d of each", all, fipPorts, concurrency+1)
	}
	e.checkAddresses()
}

// TestConcurrentPortCreatesRespectQuota is finding 4: at limits 5 and 30, 32 port
// creations at once make exactly the limit's ports.
func TestConcurrentPortCreatesRespectQuota(t *testing.T) {
	for _, limit := range []int{5, 30} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			e := newTestEnv(t, nil)
			e.twoInstances()
			netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
			e.setQuota(e.DemoProject, "port", limit)
			replies := e.burst(concurrency, func(int) request {
				return request{"POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": netID})}
			})
			counts := expect(t, "create port", replies, map[int]string{201: "", 409: "OverQuota"})
			if used := e.count(`SELECT COUNT(*) FROM ports WHERE project_id = ?`, e.DemoProject); counts[201] != limit || used != limit {
				t.Errorf("%d creations succeeded, %d ports exist; want %d of each", counts[201], used, limit)
			}
			e.checkAddresses()
		})
	}
}

// TestConcurrentCreatesRespectEveryQuota: every quota of the network service holds
// when its resource is created 32 times at once, bulk creations included.
func TestConcurrentCreatesRespectEveryQuota(t *testing.T) {
	type quotaCase struct {
		resource, table string
		// setup prepares what the creations need; create is the i-th creation; per
		// is how many resources one creation makes.
		setup  func(e *testEnv) map[string]string
		create func(e *testEnv, ids map[string]string, i int) request
		per    int
	}
	onNetwork := func(e *testEnv) map[string]string {
		netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
		return map[string]string{"net": netID}
	}
	cases := []quotaCase{
		{"network", "networks", nil, func(e *testEnv, _ map[string]string, i int) request {
			return request{"POST", "/v2.0/networks", e.DemoToken, map[string]any{"network": map[string]any{"name": fmt.Sprint("n", i)}}}
		}, 1},
		{"subnet", "subnets", func(e *testEnv) map[string]string {
			return map[string]string{"net": e.Create(e.DemoToken, "networks", "network", map[string]any{})["id"].(string)}
		}, func(e *testEnv, ids map[string]string, i int) request {
			return request{"POST", "/v2.0/subnets", e.DemoToken, map[string]any{"subnet": map[string]any{
				"network_id": ids["net"], "ip_version": 4, "cidr": fmt.Sprintf("10.%d.0.0/24", i)}}}
		}, 1},
		{"port", "ports", onNetwork, func(e *testEnv, ids map[string]string, _ int) request {
			return request{"POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": ids["net"]})}
		}, 1},
		{"port", "ports", onNetwork, func(e *testEnv, ids map[string]string, _ int) request {
			one := map[string]any{"network_id": ids["net"]}
			return request{"POST", "/v2.0/ports", e.DemoToken, map[string]any{"ports": []any{one, one}}}
		}, 2},
		{"router", "routers", nil, func(e *testEnv, _ map[string]string, _ int) request {
			return request{"POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{}}}
		}, 1},
		{"floatingip", "floatingips", func(e *testEnv) map[string]string {
			extID, _ := e.externalNetwork("172.24.4.0/24")
			return map[string]string{"ext": extID}
		}, func(e *testEnv, ids map[string]string, _ int) request {
			return request{"POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": ids["ext"]})}
		}, 1},
		{"security_group", "security_groups", nil, func(e *testEnv, _ map[string]string, i int) request {
			return request{"POST", "/v2.0/security-groups", e.DemoToken, map[string]any{"security_group": map[string]any{"name": fmt.Sprint("sg", i)}}}
		}, 1},
		{"security_group", "security_groups", nil, func(e *testEnv, _ map[string]string, i int) request {
			return request{"POST", "/v2.0/security-groups", e.DemoToken, map[string]any{"security_groups": []any{
				map[string]any{"name": fmt.Sprint("a", i)}, map[string]any{"name": fmt.Sprint("b", i)}}}}
		}, 2},
		{"security_group_rule", "security_group_rules", func(e *testEnv) map[string]string {
			return map[string]string{"sg": e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "web"})["id"].(string)}
		}, func(e *testEnv, ids map[string]string, i int) request {
			return request{"POST", "/v2.0/security-group-rules", e.DemoToken, map[string]any{"security_group_rule": map[string]any{
				"security_group_id": ids["sg"], "direction": "ingress", "protocol": "tcp", "port_range_min": 1000 + i, "port_range_max": 1000 + i}}}
		}, 1},
	}
	for _, qc := range cases {
		name := qc.resource
		if qc.per > 1 {
			name += "-bulk"
		}
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			e.twoInstances()
			ids := map[string]string{}
			if qc.setup != nil {
				ids = qc.setup(e)
			}
			e.Must(200, "GET", "/v2.0/security-groups", e.DemoToken, nil) // the project's default group exists before the count
			const room = 5
			before := e.count(`SELECT COUNT(*) FROM `+qc.table+` WHERE project_id = ?`, e.DemoProject)
			e.setQuota(e.DemoProject, qc.resource, before+room)
			replies := e.burst(concurrency, func(i int) request { return qc.create(e, ids, i) })
			counts := expect(t, "create "+name, replies, map[int]string{201: "", 409: "OverQuota"})
			made := e.count(`SELECT COUNT(*) FROM `+qc.table+` WHERE project_id = ?`, e.DemoProject) - before
			if made != counts[201]*qc.per || made > room || made < room-qc.per+1 {
				t.Errorf("%d creations succeeded making %d %ss; want %d made (quota room %d)", counts[201], made, qc.resource, room-room%qc.per, room)
			}
			e.checkAddresses()
		})
	}
}

// TestConcurrentPortsNeverShareAnAddress: ports created at once on one network get
// distinct addresses, each shown exactly as IPAM holds it, until the network is
// full (finding 5: its second subnet too).
func TestConcurrentPortsNeverShareAnAddress(t *testing.T) {
	e := newTestEnv(t, nil)
	e.twoInstances()
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/28") // 13 addresses
	e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.0.1.0/28"})
	replies := e.burst(concurrency, func(int) request {
		return request{"POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": netID})}
	})
	counts := expect(t, "create port", replies, map[int]string{201: "", 409: "IpAddressGenerationFailure"})
	if counts[201] != 26 {
		t.Errorf("%d ports created on two subnets of 13 addresses, want 26", counts[201])
	}
	e.checkAddresses()

	// And with addresses released and taken again at once.
	var ports []string
	for _, r := range replies {
		if r.status == 201 {
			ports = append(ports, r.out["port"].(map[string]any)["id"].(string))
		}
	}
	replies = e.burst(concurrency, func(i int) request {
		if i%2 == 0 && i/2 < len(ports) {
			return request{"DELETE", "/v2.0/ports/" + ports[i/2], e.DemoToken, nil}
		}
		return request{"POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": netID})}
	})
	expect(t, "delete and create", replies, map[int]string{201: "", 204: "", 409: "IpAddressGenerationFailure"})
	e.checkAddresses()
}

// TestConcurrentDefaultSecurityGroup: a project's first calls, at once, make
// exactly one default security group (with its four rules), which every new port
// gets.
func TestConcurrentDefaultSecurityGroup(t *testing.T) {
	e := newTestEnv(t, nil)
	e.twoInstances()
	token, project := e.NewProjectUser("racer")
	e.setQuota(project, "security_group", -1)
	netID := e.Create(token, "networks", "network", map[string]any{})["id"].(string)
	e.Create(token, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.0.0.0/24"})
	if n := e.count(`SELECT COUNT(*) FROM security_groups WHERE project_id = ?`, project); n != 0 {
		t.Fatalf("%d groups before the race", n)
	}
	replies := e.burst(concurrency, func(i int) request {
		switch i % 3 {
		case 0:
			return request{"GET", "/v2.0/security-groups", token, nil}
		case 1:
			return request{"POST", "/v2.0/ports", token, portReq(map[string]any{"network_id": netID})}
		}
		return request{"POST", "/v2.0/security-groups", token, map[string]any{"security_group": map[string]any{"name": fmt.Sprint("sg", i)}}}
	})
	expect(t, "first calls", replies, map[int]string{200: "", 201: ""})
	var defaultID string
	if err := e.DB.QueryRowContext(context.Background(), `SELECT id FROM security_groups WHERE project_id = ? AND name = 'default'`, project).Scan(&defaultID); err != nil {
		t.Fatalf("the default group: %v", err)
	}
	if n := e.count(`SELECT COUNT(*) FROM security_groups WHERE project_id = ? AND name = 'default'`, project); n != 1 {
		t.Errorf("%d default groups", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM security_group_rules WHERE security_group_id = ?`, defaultID); n != 4 {
		t.Errorf("the default group has %d rules, want 4", n)
	}
	for _, r := range replies {
		if p, ok := r.out["port"].(map[string]any); ok {
			if groups := fmt.Sprint(p["security_groups"]); groups != "["+defaultID+"]" {
				t.Errorf("port %s has groups %s, want [%s]", p["id"], groups, defaultID)
			}
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM port_security_groups WHERE security_group_id <> ?`, defaultID); n != 0 {
		t.Errorf("%d ports in another group", n)
	}
}

// TestConcurrentSegmentAllocation: networks created at once get distinct VNIs; one
// VNI asked for by many gets one network; a VLAN pool of three makes three.
func TestConcurrentSegmentAllocation(t *testing.T) {
	t.Run("vxlan", func(t *testing.T) {
		e := newTestEnv(t, nil)
		e.twoInstances()
		replies := e.burst(concurrency, func(int) request {
			return request{"POST", "/v2.0/networks", e.AdminToken, map[string]any{"network": map[string]any{}}}
		})
		counts := expect(t, "create network", replies, map[int]string{201: ""})
		vnis := map[any]bool{}
		for _, r := range replies {
			if r.status == 201 {
				n := r.out["network"].(map[string]any)
				if n["provider:network_type"] != "vxlan" || vnis[n["provider:segmentation_id"]] {
					t.Errorf("network %s: %s %v, a VNI twice or not VXLAN", n["id"], n["provider:network_type"], n["provider:segmentation_id"])
				}
				vnis[n["provider:segmentation_id"]] = true
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM segment_allocations`); n != counts[201] || n != concurrency {
			t.Errorf("%d segments for %d networks", n, counts[201])
		}

		replies = e.burst(concurrency, func(int) request {
			return request{"POST", "/v2.0/networks", e.AdminToken, map[string]any{"network": map[string]any{
				"provider:network_type": "vxlan", "provider:segmentation_id": 4242}}}
		})
		counts = expect(t, "create network on one VNI", replies, map[int]string{201: "", 409: "TunnelIdInUse"})
		if counts[201] != 1 {
			t.Errorf("%d networks made on VNI 4242, want 1", counts[201])
		}
	})
	t.Run("vlan", func(t *testing.T) {
		e := newTestEnv(t, func(o *Options) {
			o.Segments = SegmentConfig{TenantNetworkTypes: []string{"vlan"}, VLANRanges: []string{"physnet1:100:102"}}
		})
		e.twoInstances()
		replies := e.burst(concurrency, func(int) request {
			return request{"POST", "/v2.0/networks", e.AdminToken, map[string]any{"network": map[string]any{}}}
		})
		counts := expect(t, "create network", replies, map[int]string{201: "", 503: "NoNetworkAvailable"})
		if n := e.count(`SELECT COUNT(DISTINCT segmentation_id) FROM segment_allocations`); counts[201] != 3 || n != 3 {
			t.Errorf("%d networks on %d VLANs, want 3 of each", counts[201], n)
		}
		if n := e.count(`SELECT COUNT(*) FROM networks`); n != 3 {
			t.Errorf("%d networks stored, want 3", n)
		}
	})
}

// TestConcurrentRouterInterfaces: a subnet added to one router many times at once,
// or to many routers, gets one router interface (its gateway address is one port's).
func TestConcurrentRouterInterfaces(t *testing.T) {
	e := newTestEnv(t, nil)
	e.twoInstances()
	e.setQuota(e.DemoProject, "router", -1)
	_, subID := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	routerID := e.Create(e.DemoToken, "routers", "router", map[string]any{})["id"].(string)
	replies := e.burst(concurrency, func(int) request {
		return request{"PUT", routerPath(routerID, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": subID}}
	})
	counts := expect(t, "add one subnet to one router", replies, map[int]string{200: "", 400: "BadRequest"})
	if counts[200] != 1 {
		t.Errorf("%d interfaces added, want 1", counts[200])
	}

	_, sub2 := e.NetworkWithSubnet(e.DemoToken, "10.1.0.0/24")
	var routers []string
	for range concurrency {
		routers = append(routers, e.Create(e.DemoToken, "routers", "router", map[string]any{})["id"].(string))
	}
	replies = e.burst(concurrency, func(i int) request {
		return request{"PUT", routerPath(routers[i], "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": sub2}}
	})
	counts = expect(t, "add one subnet to many routers", replies, map[int]string{200: "", 409: "IpAddressAlreadyAllocated"})
	if counts[200] != 1 {
		t.Errorf("%d routers got the subnet's gateway, want 1", counts[200])
	}
	if n := e.count(`SELECT COUNT(*) FROM router_ports`); n != 2 {
		t.Errorf("%d router ports, want 2", n)
	}
	e.checkAddresses()
}

// TestConcurrentDHCPPorts: the DHCP agents of two service instances and port
// creations at once leave one DHCP port per network, with one address on each
// DHCP subnet.
func TestConcurrentDHCPPorts(t *testing.T) {
	e := newTestEnv(t, nil)
	second := e.twoInstances()
	netID, sub1 := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	sub2 := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.0.1.0/24"})["id"].(string)
	instances := []*Service{e.Network, second}
	e.warmPool(concurrency)
	errs := conctest.Burst(concurrency, func(i int) error {
		if i%2 == 0 {
			return instances[i/2%2].EnsureDHCPPorts(context.Background(), "host1")
		}
		if r := e.send(request{"POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": netID})}); r.status != 201 {
			return fmt.Errorf("create port: %d %s", r.status, r.raw)
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	dhcp, err := loadBodies[portBody](context.Background(), e.DB, `SELECT body FROM ports WHERE device_id LIKE 'dhcp%'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(dhcp) != 1 {
		t.Fatalf("%d DHCP ports, want 1", len(dhcp))
	}
	var subnets []string
	for _, f := range dhcp[0].FixedIPs {
		subnets = append(subnets, f.SubnetID)
	}
	slices.Sort(subnets)
	want := []string{sub1, sub2}
	slices.Sort(want)
	if !slices.Equal(subnets, want) {
		t.Errorf("the DHCP port has addresses on %v, want one on each of %v", subnets, want)
	}
	e.checkAddresses()
}

// TestConcurrentWritesOfOneRow: tags, agent reports and quotas written at once
// lose none of each other's changes, and the first writes make one row.
func TestConcurrentWritesOfOneRow(t *testing.T) {
	e := newTestEnv(t, nil)
	second := e.twoInstances()
	netID := e.Create(e.DemoToken, "networks", "network", map[string]any{})["id"].(string)
	replies := e.burst(concurrency, func(i int) request {
		return request{"PUT", fmt.Sprintf("/v2.0/networks/%s/tags/t%d", netID, i), e.DemoToken, nil}
	})
	expect(t, "add tag", replies, map[int]string{201: ""})
	tags := e.Must(200, "GET", "/v2.0/networks/"+netID+"/tags", e.DemoToken, nil)["tags"].([]any)
	if len(tags) != concurrency {
		t.Errorf("%d tags after %d additions: %v", len(tags), concurrency, tags)
	}
	if n := e.Must(200, "GET", "/v2.0/networks/"+netID, e.DemoToken, nil)["network"].(map[string]any)["revision_number"]; n != float64(1+concurrency) {
		t.Errorf("revision %v after %d changes", n, concurrency)
	}

	instances := []*Service{e.Network, second}
	e.warmPool(concurrency)
	errs := conctest.Burst(concurrency, func(i int) error {
		return instances[i%2].ReportAgent(context.Background(), "DHCP agent", "neutron-dhcp-agent", "host1", map[string]any{"n": i % 4})
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("report %d: %v", i, err)
		}
	}
	if n := e.count(`SELECT COUNT(*) FROM agents`); n != 1 {
		t.Errorf("%d agent rows for one agent", n)
	}

	_, project := e.NewProjectUser("quotas")
	replies = e.burst(concurrency, func(i int) request {
		return request{"PUT", "/v2.0/quotas/" + project, e.AdminToken, map[string]any{"quota": map[string]any{"port": 100 + i, "network": 7}}}
	})
	expect(t, "set quota", replies, map[int]string{200: ""})
	if n := e.count(`SELECT COUNT(*) FROM quotas WHERE project_id = ?`, project); n != 2 {
		t.Errorf("%d quota rows for two limits", n)
	}
}

// TestConcurrentIfMatch: updates constrained to one revision, at once, make one
// change; the others find the revision gone (412), as upstream checks it where
// it writes.
func TestConcurrentIfMatch(t *testing.T) {
	e := newTestEnv(t, nil)
	e.twoInstances()
	netID := e.Create(e.DemoToken, "networks", "network", map[string]any{})["id"].(string)
	portID := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})["id"].(string)
	for _, path := range []string{"/v2.0/networks/" + netID, "/v2.0/ports/" + portID} {
		member := "network"
		if strings.Contains(path, "ports") {
			member = "port"
		}
		replies := make([]reply, concurrency)
		e.warmPool(concurrency)
		conctest.Burst(concurrency, func(i int) error {
			replies[i] = e.send(request{"PUT", path, e.DemoToken, map[string]any{member: map[string]any{"name": fmt.Sprint("n", i)}}},
				"If-Match", "revision_number=1")
			return nil
		})
		counts := expect(t, "update "+member, replies, map[int]string{200: "", 412: "RevisionNumberConstraintFailed"})
		if counts[200] != 1 {
			t.Errorf("%d updates of %s at revision 1 succeeded, want 1", counts[200], member)
		}
		if rev := e.Must(200, "GET", path, e.DemoToken, nil)[member].(map[string]any)["revision_number"]; rev != 2.0 {
			t.Errorf("%s at revision %v after one update", member, rev)
		}
	}
	// A deletion constrained to a revision the resource has left is refused.
	status, _, body := e.DoWithHeader("DELETE", "/v2.0/ports/"+portID, e.DemoToken, nil, "If-Match", "revision_number=1")
	if status != 412 {
		t.Errorf("delete at a stale revision: %d %s", status, body)
	}
	e.Must(204, "DELETE", "/v2.0/ports/"+portID, e.DemoToken, nil)
}

// TestConcurrentDeleteWins: a port or floating IP deleted while it is updated at
// once stays deleted, with nothing of it left.
func TestConcurrentDeleteWins(t *testing.T) {
	e := newTestEnv(t, nil)
	e.twoInstances()
	extID, privNet, _, _ := e.routedNetwork()
	for try := range 4 {
		port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})["id"].(string)
		fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})["id"].(string)
		replies := e.burst(16, func(i int) request {
			switch {
			case i == 0:
				return request{"DELETE", "/v2.0/ports/" + port, e.DemoToken, nil}
			case i == 1:
				return request{"DELETE", fipPath(fip), e.DemoToken, nil}
			case i%2 == 0:
				return request{"PUT", "/v2.0/ports/" + port, e.DemoToken, portReq(map[string]any{"name": fmt.Sprint("p", i)})}
			}
			return request{"PUT", fipPath(fip), e.DemoToken, fipBody(map[string]any{"port_id": port, "description": fmt.Sprint(i)})}
		})
		for i, r := range replies {
			if r.status >= 500 || r.status == 0 || (i < 2 && r.status != 204) {
				t.Errorf("try %d call %d: %d %s", try, i, r.status, r.raw)
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM ports WHERE id = ? OR device_id = ?`, port, fip); n != 0 {
			t.Errorf("try %d: %d ports survived their deletion", try, n)
		}
		if n := e.count(`SELECT COUNT(*) FROM floatingips WHERE id = ? OR port_id = ?`, fip, port); n != 0 {
			t.Errorf("try %d: %d floating IPs on or of the deleted", try, n)
		}
	}
	e.checkAddresses()
}
