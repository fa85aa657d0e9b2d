package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 17, acceptance 4: kill -9 at random moments during a concurrent load of
// creates, renames and deletes (servers on the fake driver, ports, floating IPs,
// images with their data, users), on SQLite with one process and on PostgreSQL
// with two (nimbus up and nimbus serve --role api, the load split between them),
// then restart and let the cloud reconcile: every invariant holds, and nothing a
// client saw acknowledged is lost. An operation whose answer never came (the
// process died under it) may or may not have happened, but no more than once.

func TestKillDuringConcurrentLoad(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		up, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), []string{"NIMBUS_IMAGE_GUEST_IMAGE=false",
			"NIMBUS_COMPUTE_FAKE_HOSTS=2"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := up.Stop(); err != nil {
				t.Errorf("stop nimbus up: %v", err)
			}
			if t.Failed() {
				t.Logf("nimbus up log (tail):\n%s", failureLog(up.Log(), 60))
			}
		})
		l := newCrashLoad(t, fleet{up})
		l.round(t, []int{0})
	})
	t.Run("postgresql", func(t *testing.T) {
		t.Parallel()
		up := startPostgresCloud(t, "NIMBUS_COMPUTE_FAKE_HOSTS=2")
		api := startAPIProcess(t, up)
		l := newCrashLoad(t, fleet{up, api})
		// One process dies while the other serves on, then both, in either order.
		one := l.rng.IntN(2)
		l.round(t, []int{one})
		l.round(t, l.rng.Perm(2))
	})
}

// crashLoad is the load of one test: the cloud's processes, what the load runs
// in, and the ledger of every operation and its answer.
type crashLoad struct {
	procs   fleet
	rng     *rand.Rand
	admin   string // the bootstrap admin's token, project admin
	token   string // the admin's token, scoped to the project the load works in
	project string
	rounds  int

	mu     sync.Mutex
	ledger []*tracked
	acks   atomic.Int64

	// What the resources are made of.
	image, network, publicNetwork string
	fipPorts                      []string // the round's port of each floating IP worker
	// down are the processes a request found dead this round.
	down []atomic.Bool
	// Tokens issued before the crashes, by each process, and one revoked.
	issued  []string
	revoked string
}

// tracked is one resource of the load, as the answers the client saw describe it.
type tracked struct {
	kind string
	id   string // "" until a create is acknowledged
	// name is what the last acknowledged create or rename set; deleted, that a
	// delete was acknowledged; data, an image's acknowledged upload.
	name    string
	deleted bool
	data    []byte
	// pending is the operation whose answer never came ("create", "rename",
	// "upload", "delete"), with the name or data it would set.
	pending     string
	pendingName string
	pendingData []byte
}

// churn is one kind of resource the load creates, renames and deletes.
type churn struct {
	kind    string
	workers int
	create  func(a apis, tok, name string) (id string, o outcome)
	upload  func(a apis, tok, id string, data []byte) outcome // images only
	rename  func(a apis, tok, id, name string) outcome
	remove  func(a apis, tok, id string) outcome
	// keep says whether cycle i leaves its resource alive.
	keep func(i int) bool
	// names are the resources of the kind in a cloud's state, id to name.
	names func(st cloudState) map[string]string
}

func newCrashLoad(t *testing.T, procs fleet) *crashLoad {
	t.Helper()
	seed := time.Now().UnixNano()
	t.Logf("random seed %d", seed)
	l := &crashLoad{procs: procs, rng: rand.New(rand.NewPCG(uint64(seed), 17))}
	up := procs[0]
	a := apisOf(up)
	l.admin = loginTo(t, a, "admin", up.Secret("admin"), "admin")
	l.image = fakeImage(t, up, "crash-load-img")
	l.project, l.token = projectWithAdmin(t, up, l.admin, uniqueName("crash-load"))
	must(t, http.StatusOK, nil, "PUT", a.compute+"/os-quota-sets/"+l.project, l.admin, map[string]any{"quota_set": map[string]any{
		"instances": -1, "cores": -1, "ram": -1}})
	must(t, http.StatusOK, nil, "PUT", a.network+"/quotas/"+l.project, l.admin, map[string]any{"quota": map[string]any{
		"port": -1, "floatingip": -1}})
	var network struct{ Network struct{ ID string } }
	must(t, http.StatusCreated, &network, "POST", a.network+"/networks", l.token, map[string]any{"network": map[string]any{"name": "crash-net"}})
	l.network = network.Network.ID
	var subnet struct{ Subnet struct{ ID string } }
	must(t, http.StatusCreated, &subnet, "POST", a.network+"/subnets", l.token, map[string]any{"subnet": map[string]any{
		"network_id": l.network, "ip_version": 4, "cidr": "10.64.0.0/20"}})
	var public struct{ Networks []struct{ ID string } }
	must(t, http.StatusOK, &public, "GET", a.network+"/networks?name=public", l.token, nil)
	l.publicNetwork = public.Networks[0].ID
	var router struct{ Router struct{ ID string } }
	must(t, http.StatusCreated, &router, "POST", a.network+"/routers", l.token, map[string]any{"router": map[string]any{
		"name": "crash-router", "external_gateway_info": map[string]any{"network_id": l.publicNetwork}}})
	must(t, http.StatusOK, nil, "PUT", a.network+"/routers/"+router.Router.ID+"/add_router_interface", l.token,
		map[string]any{"subnet_id": subnet.Subnet.ID})
	l.down = make([]atomic.Bool, len(procs))
	return l
}

// fipWorkers is how many workers churn floating IPs, each on a port of its own.
const fipWorkers = 4

// churns are the kinds of the load: 32 workers in all.
func (l *crashLoad) churns() []churn {
	return []churn{
		{kind: "server", workers: 8, keep: func(i int) bool { return i%2 == 1 },
			create: func(a apis, tok, name string) (string, outcome) {
				var s struct{ Server struct{ ID string } }
				o := sendJSON(&s, "POST", a.compute+"/servers", tok, map[string]any{"server": map[string]any{
					"name": name, "imageRef": l.image, "flavorRef": "42", "networks": []map[string]any{{"uuid": l.network}}}})
				return s.Server.ID, o
			},
			rename: func(a apis, tok, id, name string) outcome {
				return send("PUT", a.compute+"/servers/"+id, tok, map[string]any{"server": map[string]any{"name": name}})
			},
			remove: func(a apis, tok, id string) outcome { return send("DELETE", a.compute+"/servers/"+id, tok, nil) },
			names: func(st cloudState) map[string]string {
				m := map[string]string{}
				for _, s := range st.Servers {
					m[s.ID] = s.Name
				}
				return m
			}},
		{kind: "port", workers: 8, keep: func(i int) bool { return i%2 == 1 },
			create: func(a apis, tok, name string) (string, outcome) {
				var p struct{ Port struct{ ID string } }
				o := sendJSON(&p, "POST", a.network+"/ports", tok, map[string]any{"port": map[string]any{
					"network_id": l.network, "name": name}})
				return p.Port.ID, o
			},
			rename: func(a apis, tok, id, name string) outcome {
				return send("PUT", a.network+"/ports/"+id, tok, map[string]any{"port": map[string]any{"name": name}})
			},
			remove: func(a apis, tok, id string) outcome { return send("DELETE", a.network+"/ports/"+id, tok, nil) },
			names: func(st cloudState) map[string]string {
				m := map[string]string{}
				for _, p := range st.Ports {
					m[p.ID] = p.Name
				}
				return m
			}},
		// A floating IP on its worker's own port, renamed by its description,
		// always deleted: the next cycle's goes on the same port.
		{kind: "floatingip", workers: fipWorkers, keep: func(int) bool { return false },
			create: nil, // per worker: see work
			rename: func(a apis, tok, id, name string) outcome {
				return send("PUT", a.network+"/floatingips/"+id, tok, map[string]any{"floatingip": map[string]any{"description": name}})
			},
			remove: func(a apis, tok, id string) outcome { return send("DELETE", a.network+"/floatingips/"+id, tok, nil) },
			names: func(st cloudState) map[string]string {
				m := map[string]string{}
				for _, f := range st.FloatingIPs {
					m[f.ID] = f.Description
				}
				return m
			}},
		{kind: "image", workers: 4, keep: func(i int) bool { return i%2 == 1 },
			create: func(a apis, tok, name string) (string, outcome) {
				var im struct{ ID string }
				o := sendJSON(&im, "POST", a.image+"/images", tok, map[string]any{"name": name, "disk_format": "raw",
					"container_format": "bare"})
				return im.ID, o
			},
			upload: func(a apis, tok, id string, data []byte) outcome {
				return send("PUT", a.image+"/images/"+id+"/file", tok, data, "Content-Type", "application/octet-stream")
			},
			rename: func(a apis, tok, id, name string) outcome {
				return send("PATCH", a.image+"/images/"+id, tok, fmt.Sprintf(`[{"op": "replace", "path": "/name", "value": %q}]`, name),
					"Content-Type", "application/openstack-images-v2.1-json-patch")
			},
			remove: func(a apis, tok, id string) outcome { return send("DELETE", a.image+"/images/"+id, tok, nil) },
			names: func(st cloudState) map[string]string {
				m := map[string]string{}
				for _, im := range st.Images {
					m[im.ID] = im.Name
				}
				return m
			}},
		{kind: "user", workers: 8, keep: func(i int) bool { return i%2 == 1 },
			create: func(a apis, _, name string) (string, outcome) {
				var u struct{ User struct{ ID string } }
				o := sendJSON(&u, "POST", a.identity+"/users", l.admin, map[string]any{"user": map[string]any{
					"name": name, "domain_id": "default"}})
				return u.User.ID, o
			},
			rename: func(a apis, _, id, name string) outcome {
				return send("PATCH", a.identity+"/users/"+id, l.admin, map[string]any{"user": map[string]any{"name": name}})
			},
			remove: func(a apis, _, id string) outcome { return send("DELETE", a.identity+"/users/"+id, l.admin, nil) },
			names: func(st cloudState) map[string]string {
				m := map[string]string{}
				for _, u := range st.Users {
					m[u.ID] = u.Name
				}
				return m
			}},
	}
}

// sendJSON is send, decoding a 2xx answer into out.
func sendJSON(out any, method, url, token string, body any) outcome {
	o := send(method, url, token, body)
	if o.err == nil && o.Status < 300 {
		if err := json.Unmarshal(o.Body, out); err != nil {
			o.err = fmt.Errorf("undecodable answer %s: %w", truncate(string(o.Body), 200), err)
		}
	}
	return o
}

// expected is the status that acknowledges each operation of each kind.
func expected(kind, op string) int {
	switch op {
	case "create":
		if kind == "server" {
			return http.StatusAccepted
		}
		return http.StatusCreated
	case "rename":
		return http.StatusOK
	}
	return http.StatusNoContent // upload, delete
}

// round runs the load, kills the processes victims (indexes into procs), one
// after the other at random moments, restarts them, waits for the cloud to
// settle, and checks everything the load was told.
func (l *crashLoad) round(t *testing.T, victims []int) {
	t.Helper()
	l.rounds++
	l.beforeCrash(t)
	l.fipPorts = l.fipPorts[:0]
	for i := range fipWorkers {
		var p struct{ Port struct{ ID string } }
		must(t, http.StatusCreated, &p, "POST", l.procs.at(0).network+"/ports", l.token, map[string]any{"port": map[string]any{
			"network_id": l.network, "name": fmt.Sprintf("crash-fip-port-r%d-%d", l.rounds, i)}})
		l.fipPorts = append(l.fipPorts, p.Port.ID)
	}
	for i := range l.down {
		l.down[i].Store(false)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, k := range l.churns() {
		for w := range k.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.work(t, k, w, stop)
			}()
		}
	}
	for i, v := range victims {
		wait := time.Second + time.Duration(l.rng.Int64N(int64(2*time.Second)))
		if i == 0 {
			wait = 3*time.Second + time.Duration(l.rng.Int64N(int64(4*time.Second)))
		}
		time.Sleep(wait)
		t.Logf("round %d: kill -9 process %d after %v, %d operations acknowledged so far", l.rounds, v, wait, l.acks.Load())
		l.down[v].Store(true) // no new request goes to it: its restart rewrites its endpoints
		l.procs[v].Kill()
	}
	// Restarted in order, nimbus up first: the api process joins its bus.
	restart := func() {
		for _, v := range slices.Sorted(slices.Values(victims)) {
			if err := l.procs[v].Restart(); err != nil {
				t.Fatalf("restart process %d: %v", v, err)
			}
		}
	}
	if len(victims) < len(l.procs) {
		// The others serve on alone for a while, and go on while the dead
		// come back (and recover what they left half done); then all serve.
		time.Sleep(time.Second + time.Duration(l.rng.Int64N(int64(time.Second))))
		restart()
		t.Logf("round %d: restarted while the others served, %d operations acknowledged so far", l.rounds, l.acks.Load())
		for _, v := range victims {
			l.down[v].Store(false)
		}
		time.Sleep(time.Second + time.Duration(l.rng.Int64N(int64(time.Second))))
		close(stop)
		wg.Wait()
	} else {
		close(stop)
		wg.Wait()
		restart()
	}
	l.afterCrash(t)
}

// work runs one worker: cycles of create, (upload,) rename, rename and, for the
// cycles not kept, delete, each operation on the next live process in turn. An
// operation whose answer does not come (its process died under it) is left
// pending, and the worker goes on with a new resource on the processes still up,
// until none is, or stop.
func (l *crashLoad) work(t *testing.T, k churn, w int, stop <-chan struct{}) {
	turn := w
	// next is the next process not found dead (-1: none).
	next := func() int {
		for range l.procs {
			turn++
			if p := turn % len(l.procs); !l.down[p].Load() {
				return p
			}
		}
		return -1
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if next() < 0 {
			return
		}
		base := fmt.Sprintf("crash-%s-r%d-%d-%d", k.kind, l.rounds, w, i)
		r := &tracked{kind: k.kind}
		l.mu.Lock()
		l.ledger = append(l.ledger, r)
		l.mu.Unlock()
		// step runs op and records its answer; false: this resource is done with.
		step := func(op, name string, data []byte, do func(a apis) outcome) bool {
			p := next()
			if p < 0 {
				return false
			}
			l.mu.Lock()
			r.pending, r.pendingName, r.pendingData = op, name, data
			l.mu.Unlock()
			o := do(l.procs.at(p))
			if o.err != nil {
				l.down[p].Store(true) // no answer: the operation stays pending
				return false
			}
			if want := expected(k.kind, op); o.Status != want {
				t.Errorf("%s %s %s (%s) on process %d: %v, want %d", op, k.kind, r.id, name, p, o, want)
				return false
			}
			l.mu.Lock()
			switch op {
			case "create", "rename":
				r.name = name
			case "upload":
				r.data = data
			case "delete":
				r.deleted = true
			}
			r.pending, r.pendingName, r.pendingData = "", "", nil
			l.mu.Unlock()
			l.acks.Add(1)
			return true
		}
		create := k.create
		if k.kind == "floatingip" {
			port := l.fipPorts[w]
			create = func(a apis, tok, name string) (string, outcome) {
				var f struct{ FloatingIP struct{ ID string } }
				o := sendJSON(&f, "POST", a.network+"/floatingips", tok, map[string]any{"floatingip": map[string]any{
					"floating_network_id": l.publicNetwork, "port_id": port, "description": name}})
				return f.FloatingIP.ID, o
			}
		}
		if !step("create", base+"-a", nil, func(a apis) outcome {
			id, o := create(a, l.token, base+"-a")
			l.mu.Lock()
			r.id = id
			l.mu.Unlock()
			return o
		}) {
			if k.kind == "floatingip" {
				return // its port may hold a floating IP now: the worker's cycles end
			}
			continue
		}
		if k.upload != nil {
			data := bytes.Repeat([]byte(base+"|"), 2048)
			if !step("upload", r.name, data, func(a apis) outcome { return k.upload(a, l.token, r.id, data) }) {
				continue
			}
		}
		renamed := true
		for _, suffix := range []string{"-b", "-c"} {
			if renamed = step("rename", base+suffix, nil, func(a apis) outcome { return k.rename(a, l.token, r.id, base+suffix) }); !renamed {
				break
			}
		}
		if !renamed {
			if k.kind == "floatingip" {
				return
			}
			continue
		}
		if !k.keep(i) && !step("delete", r.name, nil, func(a apis) outcome { return k.remove(a, l.token, r.id) }) {
			if k.kind == "floatingip" {
				return
			}
		}
	}
}

// beforeCrash issues a token on each process and revokes one, for afterCrash.
func (l *crashLoad) beforeCrash(t *testing.T) {
	t.Helper()
	pw := l.procs[0].Secret("admin")
	l.issued = l.issued[:0]
	for i := range l.procs {
		l.issued = append(l.issued, loginTo(t, l.procs.at(i), "admin", pw, "admin"))
	}
	l.revoked = loginTo(t, l.procs.at(0), "admin", pw, "admin")
	must(t, http.StatusNoContent, nil, "DELETE", l.procs.at(len(l.procs)-1).identity+"/auth/tokens", l.admin, nil,
		"X-Subject-Token", l.revoked)
}

// afterCrash waits for the cloud to settle and checks that every invariant holds
// and every acknowledged operation is there.
func (l *crashLoad) afterCrash(t *testing.T) {
	t.Helper()
	// Tokens issued before the crash work on every process; the one revoked
	// before it works on none.
	for i := range l.procs {
		a := l.procs.at(i)
		for j, tok := range l.issued {
			if o := send("GET", a.identity+"/auth/tokens?nocatalog", tok, nil, "X-Subject-Token", tok); o.err != nil || o.Status != http.StatusOK {
				t.Errorf("round %d: a token process %d issued before the crash, on process %d after it: %v", l.rounds, j, i, o)
			}
		}
		if o := send("GET", a.compute+"/servers", l.revoked, nil); o.err != nil || o.Status != http.StatusUnauthorized {
			t.Errorf("round %d: a token revoked before the crash, on process %d after it: %v, want 401", l.rounds, i, o)
		}
	}
	// The processes hear each other again: a revocation made on one reaches all.
	if len(l.procs) > 1 {
		tok := loginTo(t, l.procs.at(0), "admin", l.procs[0].Secret("admin"), "admin")
		must(t, http.StatusNoContent, nil, "DELETE", l.procs.at(1).identity+"/auth/tokens", l.admin, nil, "X-Subject-Token", tok)
		for i := range l.procs {
			a := l.procs.at(i)
			if !eventuallyWithin(5*time.Second, func() bool {
				o := send("GET", a.network+"/networks", tok, nil)
				return o.err == nil && o.Status == http.StatusUnauthorized
			}) {
				t.Errorf("round %d: after the restart, a revocation made on process 1 does not reach process %d", l.rounds, i)
			}
		}
	}

	var st cloudState
	if !eventuallyWithin(3*time.Minute, func() bool { st = readCloudState(t, l.procs.at(l.rounds), l.admin); return settled(st) }) {
		t.Errorf("round %d: the cloud has not settled 3 minutes after the restart", l.rounds)
	}
	// Deletes the conductor finishes after a crash (ports released, servers
	// gone) may take a pass more than the statuses show.
	eventuallyWithin(30*time.Second, func() bool {
		st = readCloudState(t, l.procs.at(l.rounds), l.admin)
		return len(noLeakedPorts.check(st)) == 0
	})
	checkInvariants(t, st, noDuplicateAddress, oneFloatingIPPerFixedIP, usageIsLiveInstances, namesUniquePerDomain,
		noLeakedPorts, nothingInFlight)
	l.checkLedger(t, st)

	// Each process takes writes again.
	for i := range l.procs {
		must(t, http.StatusCreated, nil, "POST", l.procs.at(i).network+"/ports", l.token, map[string]any{"port": map[string]any{
			"network_id": l.network, "name": fmt.Sprintf("crash-after-r%d-%d", l.rounds, i)}})
	}
}

// checkLedger compares each resource's state with what the answers said.
func (l *crashLoad) checkLedger(t *testing.T, st cloudState) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	names := map[string]map[string]string{}
	images := map[string]imageView{}
	for _, im := range st.Images {
		images[im.ID] = im
	}
	for _, k := range l.churns() {
		names[k.kind] = k.names(st)
	}
	var lost, resurrected, wrong, duplicated []string
	pendings := 0
	for _, r := range l.ledger {
		have := names[r.kind]
		if r.pending != "" {
			pendings++
		}
		if r.id == "" {
			// A create whose answer never came: made once, or not at all.
			n := 0
			for _, name := range have {
				if name == r.pendingName {
					n++
				}
			}
			if n > 1 {
				duplicated = append(duplicated, fmt.Sprintf("%s %s exists %d times", r.kind, r.pendingName, n))
			}
			continue
		}
		name, exists := have[r.id]
		switch {
		case r.deleted:
			if exists {
				resurrected = append(resurrected, fmt.Sprintf("%s %s (%s), whose delete was acknowledged", r.kind, r.id, name))
			}
			continue
		case !exists && r.pending != "delete":
			lost = append(lost, fmt.Sprintf("%s %s (%s), pending %q", r.kind, r.id, r.name, r.pending))
			continue
		case !exists:
			continue
		}
		if name != r.name && !(r.pending == "rename" && name == r.pendingName) {
			wrong = append(wrong, fmt.Sprintf("%s %s is named %q, acknowledged %q (pending %q %q)", r.kind, r.id, name, r.name,
				r.pending, r.pendingName))
		}
		if r.kind != "image" {
			continue
		}
		// An image holds the data of its acknowledged upload, or of the one in
		// flight, or none (queued): never another's, never half.
		im := images[r.id]
		data := r.data
		if data == nil && r.pending == "upload" && im.Status == "active" {
			data = r.pendingData
		}
		switch {
		case data == nil && im.Status != "queued":
			wrong = append(wrong, fmt.Sprintf("image %s is %s with no upload acknowledged", r.id, im.Status))
		case data != nil:
			sum := md5.Sum(data)
			if im.Status != "active" || im.Checksum != hex.EncodeToString(sum[:]) || im.Size != int64(len(data)) {
				wrong = append(wrong, fmt.Sprintf("image %s is %s, checksum %s, %d bytes; its acknowledged upload %x, %d bytes",
					r.id, im.Status, im.Checksum, im.Size, sum, len(data)))
			}
		}
	}
	t.Logf("round %d: %d resources tracked, %d operations acknowledged, %d unanswered", l.rounds, len(l.ledger), l.acks.Load(), pendings)
	for _, broken := range []struct {
		what string
		list []string
	}{
		{"acknowledged resources lost", lost},
		{"resources back after an acknowledged delete", resurrected},
		{"resources not as acknowledged", wrong},
		{"resources created twice by one request", duplicated},
	} {
		for i, b := range broken.list {
			if i == 5 {
				t.Errorf("round %d: %s: ... %d in all", l.rounds, broken.what, len(broken.list))
				break
			}
			t.Errorf("round %d: %s: %s", l.rounds, broken.what, b)
		}
	}
}
