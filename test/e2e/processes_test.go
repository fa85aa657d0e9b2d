package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
)

// Issue 17, acceptance 3: two processes serve one cloud's APIs on one PostgreSQL
// database, `nimbus up` and `nimbus serve --role api`, with every concurrent
// load split between them (request i to process i mod 2, as a load balancer
// would), and the invariants hold: names unique, no duplicate address, one
// floating IP per fixed IP, quotas never exceeded, each host's usage the sum of
// its live instances, no server a delete answered brought back; a token issued
// by one process works on the other, and a revocation made on either reaches both.

// concurrency is how many requests each load fires at once.
const concurrency = 32

// imageQuota is the cloud's image_count_total: the api process must learn it from
// api.toml, as it has no environment of the cloud's.
const imageQuota = 12

func TestTwoAPIProcessesOnPostgreSQL(t *testing.T) {
	t.Parallel()
	up := startPostgresCloud(t, "NIMBUS_COMPUTE_FAKE_HOSTS=2", fmt.Sprintf("NIMBUS_IMAGE_COUNT_TOTAL=%d", imageQuota))
	api := startAPIProcess(t, up)
	procs := fleet{up, api}
	admin := loginTo(t, apisOf(up), "admin", up.Secret("admin"), "admin")
	fakeImage(t, up, "procs-img")

	t.Run("tokens", func(t *testing.T) { tokensAcrossProcesses(t, up, procs, admin) })
	t.Run("identity names", func(t *testing.T) { identityNamesUnique(t, procs, admin) })
	t.Run("default security group", func(t *testing.T) { oneDefaultSecurityGroup(t, up, procs, admin) })
	t.Run("ports and floating IPs", func(t *testing.T) { portsAndFloatingIPs(t, up, procs, admin) })
	t.Run("images", func(t *testing.T) { imageUploads(t, up, procs, admin) })
	t.Run("servers", func(t *testing.T) { serversCreateRenameDelete(t, up, procs, admin) })
	// Last: the api process's conductor has reported by now.
	t.Run("nothing registered twice", func(t *testing.T) { registeredOnce(t, procs, admin) })

	// What the loads left, read from either process: the same cloud.
	var st cloudState
	if !eventuallyWithin(time.Minute, func() bool { st = readCloudState(t, apisOf(api), admin); return settled(st) }) {
		t.Errorf("the cloud has not settled a minute after the loads")
	}
	checkInvariants(t, st, noDuplicateAddress, oneFloatingIPPerFixedIP, usageIsLiveInstances, namesUniquePerDomain,
		noLeakedPorts, nothingInFlight)
}

// registeredOnce: the api process bootstraps and registers nothing: the catalog
// has each service once, with nimbus up's endpoints; the compute services, the
// default flavors and networks are there once.
func registeredOnce(t *testing.T, procs fleet, admin string) {
	a := procs.at(1)
	count := map[string]int{}
	var services struct{ Services []struct{ Type string } }
	must(t, http.StatusOK, &services, "GET", a.identity+"/services", admin, nil)
	for _, s := range services.Services {
		count["catalog service "+s.Type]++
	}
	var endpoints struct {
		Endpoints []struct {
			Interface, URL string
			ServiceID      string `json:"service_id"`
		}
	}
	must(t, http.StatusOK, &endpoints, "GET", a.identity+"/endpoints", admin, nil)
	for _, e := range endpoints.Endpoints {
		count["endpoint "+e.ServiceID+" "+e.Interface]++
		for name, url := range procs[1].Endpoints {
			if strings.HasPrefix(e.URL, url) {
				t.Errorf("the catalog lists the api process's %s URL %s", name, url)
			}
		}
	}
	var osServices struct {
		Services []struct{ Host, Binary string }
	}
	must(t, http.StatusOK, &osServices, "GET", a.compute+"/os-services", admin, nil)
	for _, s := range osServices.Services {
		count["compute service "+s.Host+" "+s.Binary]++
	}
	var flavors struct{ Flavors []struct{ Name string } }
	must(t, http.StatusOK, &flavors, "GET", a.compute+"/flavors", admin, nil)
	for _, f := range flavors.Flavors {
		count["flavor "+f.Name]++
	}
	var networks struct{ Networks []struct{ Name string } }
	must(t, http.StatusOK, &networks, "GET", a.network+"/networks", admin, nil)
	for _, n := range networks.Networks {
		count["network "+n.Name]++
	}
	for what, n := range count {
		if n > 1 {
			t.Errorf("%s: %d times", what, n)
		}
	}
	for _, want := range []string{"catalog service compute", "catalog service identity", "flavor m1.nano", "network public"} {
		if count[want] != 1 {
			t.Errorf("%s: %d times, want once", want, count[want])
		}
	}
}

// tokensAcrossProcesses: a token either process issues works on both, and a
// revocation made on either (of one token, or of a user's by disabling them)
// reaches the other over the bus, without a restart or a resync.
func tokensAcrossProcesses(t *testing.T, up *Cloud, procs fleet, admin string) {
	// answers says whether the token is accepted by every API of process a, and
	// whether it is refused by every one (both false while a revocation is on its
	// way).
	answers := func(what, tok string, a apis) (accepted, refused bool) {
		t.Helper()
		v := send("GET", a.identity+"/auth/tokens?nocatalog", admin, nil, "X-Subject-Token", tok)
		s := send("GET", a.compute+"/servers", tok, nil)
		n := send("GET", a.network+"/networks", tok, nil)
		i := send("GET", a.image+"/images", tok, nil)
		for _, o := range []outcome{v, s, n, i} {
			if o.err != nil {
				t.Fatalf("%s: %v", what, o)
			}
		}
		accepted = v.Status == http.StatusOK && s.Status == http.StatusOK && n.Status == http.StatusOK && i.Status == http.StatusOK
		refused = v.Status == http.StatusNotFound && s.Status == http.StatusUnauthorized &&
			n.Status == http.StatusUnauthorized && i.Status == http.StatusUnauthorized
		return accepted, refused
	}
	works := func(what, tok string, a apis) bool {
		t.Helper()
		accepted, _ := answers(what, tok, a)
		return accepted
	}
	// revokedEverywhere: the revocation, made on one process, holds on both
	// within a few seconds (the bus delivers in milliseconds; the resync from the
	// database, every 10 s, must not be what makes this pass).
	revokedEverywhere := func(what, tok string) {
		t.Helper()
		for i := range procs {
			a := procs.at(i)
			if !eventuallyWithin(5*time.Second, func() bool { _, refused := answers(what, tok, a); return refused }) {
				t.Errorf("%s: the token is not refused by every API of process %d", what, i)
			}
		}
	}
	pw := up.Secret("admin")
	for issuer := range procs {
		tok := loginTo(t, procs.at(issuer), "admin", pw, "admin")
		for i := range procs {
			if !works(fmt.Sprintf("token of process %d on process %d", issuer, i), tok, procs.at(i)) {
				t.Errorf("a token issued by process %d is refused by process %d", issuer, i)
			}
		}
		// The other process revokes it.
		other := procs.at(issuer + 1)
		must(t, http.StatusNoContent, nil, "DELETE", other.identity+"/auth/tokens", admin, nil, "X-Subject-Token", tok)
		revokedEverywhere(fmt.Sprintf("token of process %d revoked by process %d", issuer, issuer+1), tok)
	}
	// A user disabled on one process: their tokens stop working on the other.
	a, b := procs.at(0), procs.at(1)
	name := uniqueName("procs-user")
	var user struct{ User struct{ ID string } }
	must(t, http.StatusCreated, &user, "POST", a.identity+"/users", admin, map[string]any{"user": map[string]any{
		"name": name, "password": "procs-secret-1", "domain_id": "default"}})
	var roles struct{ Roles []struct{ ID string } }
	must(t, http.StatusOK, &roles, "GET", a.identity+"/roles?name=member", admin, nil)
	var projects struct{ Projects []struct{ ID string } }
	must(t, http.StatusOK, &projects, "GET", a.identity+"/projects?name=demo", admin, nil)
	must(t, http.StatusNoContent, nil, "PUT", fmt.Sprintf("%s/projects/%s/users/%s/roles/%s", a.identity,
		projects.Projects[0].ID, user.User.ID, roles.Roles[0].ID), admin, nil)
	tok := loginTo(t, b, name, "procs-secret-1", "demo")
	if !works("the new user's token on the process that issued it", tok, b) {
		t.Fatal("a new user's token is refused")
	}
	must(t, http.StatusOK, nil, "PATCH", a.identity+"/users/"+user.User.ID, admin,
		map[string]any{"user": map[string]any{"enabled": false}})
	revokedEverywhere("token of a user disabled on the other process", tok)
}

// identityNamesUnique: concurrent creates of users, and of projects, with the
// same names on both processes make one of each name; the others are 409.
func identityNamesUnique(t *testing.T, procs fleet, admin string) {
	const names = concurrency / 4
	base := uniqueName("procs-name")
	for _, kind := range []string{"user", "project"} {
		outs := make([]outcome, concurrency)
		conctest.Burst(concurrency, func(i int) error {
			body := map[string]any{kind: map[string]any{"name": fmt.Sprintf("%s-%s-%d", base, kind, i%names),
				"domain_id": "default"}}
			outs[i] = send("POST", procs.at(i).identity+"/"+kind+"s", admin, body)
			return nil
		})
		noServerErrors(t, kind+" creates", outs)
		created := map[int]int{}
		for i, o := range outs {
			switch {
			case o.err == nil && o.Status == http.StatusCreated:
				created[i%names]++
			case o.err == nil && o.Status != http.StatusConflict && o.Status < 500:
				t.Errorf("%s create: %v, want 201 or 409", kind, o)
			}
		}
		for n := range names {
			if created[n] != 1 {
				t.Errorf("%d concurrent creates of %s %s-%s-%d on two processes: %d answered 201, want 1",
					concurrency/names, kind, base, kind, n, created[n])
			}
		}
	}
}

// oneDefaultSecurityGroup: a new project's first requests, all at once on both
// processes, make its "default" security group once.
func oneDefaultSecurityGroup(t *testing.T, up *Cloud, procs fleet, admin string) {
	project, tok := projectWithAdmin(t, up, admin, uniqueName("procs-sg"))
	outs := make([]outcome, concurrency)
	conctest.Burst(concurrency, func(i int) error {
		outs[i] = send("GET", procs.at(i).network+"/security-groups", tok, nil)
		return nil
	})
	noServerErrors(t, "security group listings", outs)
	var list struct {
		SecurityGroups []struct {
			Name      string
			ProjectID string `json:"project_id"`
		} `json:"security_groups"`
	}
	must(t, http.StatusOK, &list, "GET", procs.at(1).network+"/security-groups?project_id="+project, admin, nil)
	defaults := 0
	for _, g := range list.SecurityGroups {
		if g.Name == "default" && g.ProjectID == project {
			defaults++
		}
	}
	if defaults != 1 {
		t.Errorf("project %s has %d default security groups after %d concurrent first listings, want 1", project, defaults, concurrency)
	}
}

// portsAndFloatingIPs: concurrent port creates on both processes stay within the
// port quota and never hand out an address twice; concurrent associations of
// floating IPs with one port (by create and by update) leave one floating IP on it.
func portsAndFloatingIPs(t *testing.T, up *Cloud, procs fleet, admin string) {
	project, tok := projectWithAdmin(t, up, admin, uniqueName("procs-net"))
	a := procs.at(0)
	var network struct{ Network struct{ ID string } }
	must(t, http.StatusCreated, &network, "POST", a.network+"/networks", tok, map[string]any{"network": map[string]any{"name": "procs-net"}})
	var subnet struct{ Subnet struct{ ID string } }
	must(t, http.StatusCreated, &subnet, "POST", a.network+"/subnets", tok, map[string]any{"subnet": map[string]any{
		"network_id": network.Network.ID, "ip_version": 4, "cidr": "10.77.0.0/24"}})
	var public struct{ Networks []struct{ ID string } }
	must(t, http.StatusOK, &public, "GET", a.network+"/networks?name=public", tok, nil)
	var router struct{ Router struct{ ID string } }
	must(t, http.StatusCreated, &router, "POST", a.network+"/routers", tok, map[string]any{"router": map[string]any{
		"name": "procs-router", "external_gateway_info": map[string]any{"network_id": public.Networks[0].ID}}})
	must(t, http.StatusOK, nil, "PUT", a.network+"/routers/"+router.Router.ID+"/add_router_interface", tok,
		map[string]any{"subnet_id": subnet.Subnet.ID})

	// Ports: a quota of what the project holds now plus 10, and 32 creates.
	before := portsOf(project)(readCloudState(t, a, admin))
	limit := before + 10
	must(t, http.StatusOK, nil, "PUT", a.network+"/quotas/"+project, admin, map[string]any{"quota": map[string]any{"port": limit}})
	outs := make([]outcome, concurrency)
	conctest.Burst(concurrency, func(i int) error {
		outs[i] = send("POST", procs.at(i).network+"/ports", tok, map[string]any{"port": map[string]any{
			"network_id": network.Network.ID, "name": fmt.Sprintf("procs-port-%d", i)}})
		return nil
	})
	noServerErrors(t, "port creates", outs)
	var ports []string
	for _, o := range outs {
		if o.err == nil && o.Status == http.StatusCreated {
			var p struct{ Port struct{ ID string } }
			decodeJSON(t, string(o.Body), &p)
			ports = append(ports, p.Port.ID)
		}
	}
	if len(ports) > 10 {
		t.Errorf("%d concurrent port creates with room for 10 under the quota: %d answered 201", concurrency, len(ports))
	}
	if len(ports) == 0 {
		t.Fatalf("no port created: %v", statusCounts(outs))
	}
	st := readCloudState(t, a, admin)
	checkInvariants(t, st, noDuplicateAddress, quotaHolds("port", project, limit, portsOf(project)))

	// Floating IPs: 16 made free, then 16 more made on the port and the 16 free
	// ones associated with it, all at once.
	const free = concurrency / 2
	target := ports[0]
	fipOuts := make([]outcome, free)
	conctest.Burst(free, func(i int) error {
		fipOuts[i] = send("POST", procs.at(i).network+"/floatingips", tok, map[string]any{"floatingip": map[string]any{
			"floating_network_id": public.Networks[0].ID}})
		return nil
	})
	noServerErrors(t, "floating IP creates", fipOuts)
	var fips []string
	for _, o := range fipOuts {
		if o.err == nil && o.Status == http.StatusCreated {
			var f struct{ FloatingIP struct{ ID string } }
			decodeJSON(t, string(o.Body), &f)
			fips = append(fips, f.FloatingIP.ID)
		}
	}
	if len(fips) != free {
		t.Fatalf("%d of %d floating IP creates answered 201: %v", len(fips), free, statusCounts(fipOuts))
	}
	outs = make([]outcome, 2*free)
	conctest.Burst(2*free, func(i int) error {
		if i%2 == 0 {
			outs[i] = send("POST", procs.at(i/2).network+"/floatingips", tok, map[string]any{"floatingip": map[string]any{
				"floating_network_id": public.Networks[0].ID, "port_id": target}})
		} else {
			outs[i] = send("PUT", procs.at(i/2).network+"/floatingips/"+fips[i/2], tok, map[string]any{"floatingip": map[string]any{
				"port_id": target}})
		}
		return nil
	})
	noServerErrors(t, "floating IP associations", outs)
	won := 0
	for _, o := range outs {
		if o.err == nil && o.Status < 300 {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent associations of floating IPs with one port: %d succeeded, want 1 (%v)", 2*free, won, statusCounts(outs))
	}
	st = readCloudState(t, procs.at(1), admin)
	checkInvariants(t, st, oneFloatingIPPerFixedIP)
	on := 0
	for _, f := range st.FloatingIPs {
		if f.PortID == target {
			on++
		}
	}
	if on != 1 {
		t.Errorf("port %s has %d floating IPs after the associations, want 1", target, on)
	}
}

// imageUploads: concurrent image creates on both processes stay within the
// image quota (which the api process reads from api.toml); concurrent uploads to
// one image, on both processes, make it active once with one upload's data,
// which both processes serve.
func imageUploads(t *testing.T, up *Cloud, procs fleet, admin string) {
	project, tok := projectWithAdmin(t, up, admin, uniqueName("procs-img"))
	outs := make([]outcome, concurrency)
	conctest.Burst(concurrency, func(i int) error {
		outs[i] = send("POST", procs.at(i).image+"/images", tok, map[string]any{"name": fmt.Sprintf("procs-image-%d", i),
			"disk_format": "raw", "container_format": "bare"})
		return nil
	})
	noServerErrors(t, "image creates", outs)
	var images []string
	for _, o := range outs {
		if o.err == nil && o.Status == http.StatusCreated {
			var im struct{ ID string }
			decodeJSON(t, string(o.Body), &im)
			images = append(images, im.ID)
		}
	}
	if len(images) > imageQuota {
		t.Errorf("%d concurrent image creates under image_count_total %d: %d answered 201", concurrency, imageQuota, len(images))
	}
	checkInvariants(t, readCloudState(t, procs.at(0), admin), quotaHolds("image", project, imageQuota, imagesOf(project)))
	// Both processes enforce the quota (the api process has it from api.toml).
	for p := range procs {
		o := send("POST", procs.at(p).image+"/images", tok, map[string]any{"name": "procs-image-over", "disk_format": "raw",
			"container_format": "bare"})
		if o.err != nil || o.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("image create on process %d with the quota used up: %v, want 413", p, o)
		}
	}
	if len(images) > 8 {
		images = images[:8]
	}
	if len(images) == 0 {
		t.Fatalf("no image created: %v", statusCounts(outs))
	}

	// Four uploads to each image at once, of four different contents, two on
	// each process.
	const tries = concurrency / 8
	payload := func(i int) []byte {
		return bytes.Repeat([]byte(fmt.Sprintf("image %s upload %d|", images[i/tries], i%tries)), 4096)
	}
	outs = make([]outcome, len(images)*tries)
	conctest.Burst(len(outs), func(i int) error {
		outs[i] = send("PUT", procs.at(i).image+"/images/"+images[i/tries]+"/file", tok, payload(i),
			"Content-Type", "application/octet-stream")
		return nil
	})
	noServerErrors(t, "image uploads", outs)
	for n, id := range images {
		var acked []int
		for k := range tries {
			if o := outs[n*tries+k]; o.err == nil && o.Status == http.StatusNoContent {
				acked = append(acked, n*tries+k)
			}
		}
		if len(acked) != 1 {
			t.Errorf("image %s: %d of %d concurrent uploads answered 204, want 1", id, len(acked), tries)
			continue
		}
		want := payload(acked[0])
		sum := md5.Sum(want)
		var im imageView
		must(t, http.StatusOK, &im, "GET", procs.at(1).image+"/images/"+id, tok, nil)
		if im.Status != "active" || im.Checksum != hex.EncodeToString(sum[:]) || im.Size != int64(len(want)) {
			t.Errorf("image %s after its upload: %s, checksum %s, size %d; want active with the acknowledged upload's %x, %d",
				id, im.Status, im.Checksum, im.Size, sum, len(want))
		}
		for p := range procs {
			r := must(t, http.StatusOK, nil, "GET", procs.at(p).image+"/images/"+id+"/file", tok, nil)
			if !bytes.Equal(r.Body, want) {
				t.Errorf("image %s read from process %d: %d bytes, not the acknowledged upload's %d", id, p, len(r.Body), len(want))
			}
		}
	}
}

// serversCreateRenameDelete: concurrent server creates on both processes stay
// within the instance quota; a delete racing renames on both processes is never
// undone; each host's usage stays the sum of its live instances.
func serversCreateRenameDelete(t *testing.T, up *Cloud, procs fleet, admin string) {
	const quota = 20
	project, tok := projectWithAdmin(t, up, admin, uniqueName("procs-srv"))
	a := procs.at(0)
	var network struct{ Network struct{ ID string } }
	must(t, http.StatusCreated, &network, "POST", a.network+"/networks", tok, map[string]any{"network": map[string]any{"name": "procs-srv-net"}})
	must(t, http.StatusCreated, nil, "POST", a.network+"/subnets", tok, map[string]any{"subnet": map[string]any{
		"network_id": network.Network.ID, "ip_version": 4, "cidr": "10.78.0.0/24"}})
	must(t, http.StatusOK, nil, "PUT", a.compute+"/os-quota-sets/"+project, admin, map[string]any{"quota_set": map[string]any{
		"instances": quota, "cores": 1000, "ram": 1 << 20}})
	var images struct{ Images []struct{ ID string } }
	must(t, http.StatusOK, &images, "GET", a.image+"/images?name=procs-img", tok, nil)
	if len(images.Images) != 1 {
		t.Fatalf("image procs-img: %v", images)
	}
	outs := make([]outcome, concurrency)
	conctest.Burst(concurrency, func(i int) error {
		outs[i] = send("POST", procs.at(i).compute+"/servers", tok, map[string]any{"server": map[string]any{
			"name": fmt.Sprintf("procs-server-%d", i), "imageRef": images.Images[0].ID, "flavorRef": "42",
			"networks": []map[string]any{{"uuid": network.Network.ID}}}})
		return nil
	})
	noServerErrors(t, "server creates", outs)
	var servers []string
	for _, o := range outs {
		if o.err == nil && o.Status == http.StatusAccepted {
			var s struct{ Server struct{ ID string } }
			decodeJSON(t, string(o.Body), &s)
			servers = append(servers, s.Server.ID)
		}
	}
	if len(servers) > quota {
		t.Errorf("%d concurrent server creates under an instance quota of %d: %d answered 202", concurrency, quota, len(servers))
	}
	var st cloudState
	if !eventuallyWithin(time.Minute, func() bool { st = readCloudState(t, a, admin); return settled(st) }) {
		t.Errorf("servers still building a minute after their creates")
	}
	checkInvariants(t, st, quotaHolds("instance", project, quota, serversOf(project)), usageIsLiveInstances, noDuplicateAddress)
	if n := serversOf(project)(st); n != len(servers) {
		t.Errorf("%d server creates answered 202, and the project has %d servers", len(servers), n)
	}

	// One delete and six renames of each of the first half, all at once on both
	// processes (the race of issue 17's first finding); four renames of each of
	// the others.
	doomed, renamed := servers[:len(servers)/2], servers[len(servers)/2:]
	const renames = 6
	type req struct{ method, id, name string }
	var reqs []req
	for _, id := range doomed {
		reqs = append(reqs, req{"DELETE", id, ""})
		for k := range renames {
			reqs = append(reqs, req{"PUT", id, fmt.Sprintf("doomed-%d", k)})
		}
	}
	for _, id := range renamed {
		for k := range 4 {
			reqs = append(reqs, req{"PUT", id, fmt.Sprintf("renamed-%d", k)})
		}
	}
	outs = make([]outcome, len(reqs))
	conctest.Burst(len(reqs), func(i int) error {
		r := reqs[i]
		var body any
		if r.method == "PUT" {
			body = map[string]any{"server": map[string]any{"name": r.name}}
		}
		outs[i] = send(r.method, procs.at(i).compute+"/servers/"+r.id, tok, body)
		return nil
	})
	noServerErrors(t, "server deletes and renames", outs)
	for i, r := range reqs {
		if o := outs[i]; r.method == "DELETE" && o.err == nil && o.Status != http.StatusNoContent {
			t.Errorf("delete of server %s: %v, want 204", r.id, o)
		}
	}
	// A deleted server goes, and stays gone, on both processes.
	// A deleted server is 404, or DELETED to an admin (as upstream shows it).
	seen := map[string]string{} // what a GET of a doomed server last answered
	gone := func(id string) bool {
		for p := range procs {
			o := send("GET", procs.at(p).compute+"/servers/"+id, tok, nil)
			if o.err == nil && o.Status == http.StatusNotFound {
				continue
			}
			if o.err != nil {
				seen[id] = o.String()
				return false
			}
			var s struct{ Server serverView }
			_ = json.Unmarshal(o.Body, &s)
			if o.Status == http.StatusOK && s.Server.Status == "DELETED" {
				continue
			}
			seen[id] = fmt.Sprintf("HTTP %d, %s %q, task %q", o.Status, s.Server.Status, s.Server.Name, s.Server.TaskState)
			return false
		}
		return true
	}
	left := slices.Clone(doomed)
	eventuallyWithin(time.Minute, func() bool {
		left = slices.DeleteFunc(left, gone)
		return len(left) == 0
	})
	for _, id := range left {
		t.Errorf("server %s, whose delete answered 204, is still there a minute later (%s)", id, seen[id])
	}
	if !eventuallyWithin(time.Minute, func() bool { st = readCloudState(t, procs.at(1), admin); return settled(st) }) {
		t.Errorf("servers still in flight a minute after the deletes")
	}
	for _, s := range st.Servers {
		for _, id := range doomed {
			if s.ID == id {
				t.Errorf("server %s, whose delete answered 204, came back: %s %q", id, s.Status, s.Name)
			}
		}
		for _, id := range renamed {
			if s.ID == id && (!strings.HasPrefix(s.Name, "renamed-") || s.Status != "ACTIVE") {
				t.Errorf("server %s after four renames: %s %q, want ACTIVE with one of the names", id, s.Status, s.Name)
			}
		}
	}
	checkInvariants(t, st, usageIsLiveInstances, noDuplicateAddress, noLeakedPorts)
}
