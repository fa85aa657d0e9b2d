package proxy

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Expiring objects, as upstream's proxy and object-expirer: a PUT or POST
// with X-Delete-At (X-Delete-After becomes one) names, for each object
// server, the task container of the hidden .expiring_objects account and its
// container replicas, and the object servers queue the task there. The
// expirer lists the task containers that are due, deletes each due object on
// its object servers with X-If-Delete-At (so an object whose X-Delete-At
// changed since is left alone) and the object's own timestamp of expiry, and
// then the task. Until the expirer runs the object servers answer 404 for an
// expired object, as now; afterwards it is gone from disk and listings.

const (
	// expirerDivisor and taskContainersPerDay are upstream's
	// expiring_objects_container_divisor and task_container_per_day.
	expirerDivisor       = 86400
	taskContainersPerDay = 100
	// taskContainerTTL is how long the proxy trusts a task container it
	// made to still exist (upstream trusts memcache's container_info).
	taskContainerTTL = 10 * time.Minute
)

// expirerContainer is upstream's get_expirer_container: the task container of
// an object expiring at deleteAt, the day's start offset backwards by a
// shard of the object's hash_path (sum), so one day's tasks spread over 100
// containers.
func expirerContainer(sum [16]byte, deleteAt int64) string {
	shard := new(big.Int).Mod(new(big.Int).SetBytes(sum[:]), big.NewInt(taskContainersPerDay)).Int64()
	return storage.NormalizeDeleteAt(deleteAt/expirerDivisor*expirerDivisor - shard)
}

// parseTaskObject is upstream's parse_task_obj.
func parseTaskObject(name string) (deleteAt int64, account, container, object string, ok bool) {
	ts, path, found := strings.Cut(name, "-")
	if !found {
		return 0, "", "", "", false
	}
	t, err := swob.ParseTimestamp(ts)
	if err != nil {
		return 0, "", "", "", false
	}
	parts := strings.SplitN(path, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return 0, "", "", "", false
	}
	return int64(t) / 100_000, parts[0], parts[1], parts[2], true
}

// taskContainers remembers the task containers this proxy made.
type taskContainers struct{ m sync.Map }

// deleteAtTargets is, for an object PUT or POST setting X-Delete-At, what
// each of its object requests (i of n) carries for the expirer's queue:
// X-Delete-At-Container, -Host, -Device and -Partition, as upstream's
// _backend_requests pairs them. Nothing when the write sets no X-Delete-At,
// or when the task container cannot be made (the object then expires
// without the expirer, as a 404, until a later write queues it).
func (p *Proxy) deleteAtTargets(ctx context.Context, req *request, replicas int) func(i int, h http.Header) {
	deleteAt, err := strconv.ParseInt(req.r.Header.Get("X-Delete-At"), 10, 64)
	if err != nil {
		return func(int, http.Header) {}
	}
	name := expirerContainer(p.opts.Rings.Container.Hash(req.account, req.container, req.object), deleteAt)
	if !p.ensureTaskContainer(ctx, req.transID, name) {
		return func(int, http.Header) {}
	}
	containers := p.opts.Rings.Container
	part := containers.Partition(storage.ExpiringObjectsAccount, name)
	nodes := containers.Nodes(part)
	return func(i int, h http.Header) {
		hosts, devices := pairNodes(nodes, i, replicas)
		h.Set("X-Delete-At-Container", name)
		h.Set("X-Delete-At-Host", hosts)
		h.Set("X-Delete-At-Device", devices)
		h.Set("X-Delete-At-Partition", strconv.Itoa(part))
	}
}

// ensureTaskContainer makes the hidden account and the task container unless
// this proxy made it lately, so the container servers take the tasks and
// the account lists the container for the expirer.
func (p *Proxy) ensureTaskContainer(ctx context.Context, transID, name string) bool {
	if until, ok := p.tasks.m.Load(name); ok && time.Now().Before(until.(time.Time)) {
		return true
	}
	ts := swob.Now()
	headers := func(int) http.Header {
		h := http.Header{}
		h.Set("X-Timestamp", ts.Normal())
		h.Set("X-Trans-Id", transID)
		return h
	}
	accounts := p.opts.Rings.Account
	acctPart := accounts.Partition(storage.ExpiringObjectsAccount)
	resps := p.makeRequests(ctx, accounts, acctPart, http.MethodPut, "/"+storage.ExpiringObjectsAccount, headers)
	if best, _ := bestResponse(resps, accounts.ReplicaCount()); best.status/100 != 2 {
		p.log.Warn("expirer: cannot make the task account", "status", best.status)
		return false
	}
	acctNodes := accounts.Nodes(acctPart)
	rg := p.opts.Rings.Container
	resps = p.makeRequests(ctx, rg, rg.Partition(storage.ExpiringObjectsAccount, name), http.MethodPut,
		"/"+storage.ExpiringObjectsAccount+"/"+name, func(i int) http.Header {
			h := headers(i)
			hosts, devices := pairNodes(acctNodes, i, rg.ReplicaCount())
			h.Set("X-Account-Host", hosts)
			h.Set("X-Account-Device", devices)
			h.Set("X-Account-Partition", strconv.Itoa(acctPart))
			h.Set(policyIndexHeader, "0")
			return h
		})
	if best, _ := bestResponse(resps, rg.ReplicaCount()); best.status/100 != 2 {
		p.log.Warn("expirer: cannot make a task container", "container", name, "status", best.status)
		return false
	}
	p.tasks.m.Store(name, time.Now().Add(taskContainerTTL))
	return true
}

// ExpirerStats count one expirer pass.
type ExpirerStats struct {
	Expired int // tasks done: the object deleted, or found changed or gone
	Failed  int // tasks left for the next pass
	// ContainersRemoved counts the task containers emptied and removed.
	ContainersRemoved int
}

// ExpireObjects runs one expirer pass over the task containers that are due
// and mine accepts (a node takes those whose first container replica it
// holds, so several nodes share the work as upstream's processes/process
// split it). A pass is idempotent and safe to stop anywhere: a task goes
// only after its object is gone, and a repeated delete of an object with the
// same timestamp changes nothing.
func (p *Proxy) ExpireObjects(ctx context.Context, mine func(*ring.Device) bool) ExpirerStats {
	return p.ExpireObjectsAt(ctx, time.Now(), mine)
}

// ExpireObjectsAt is an expirer pass as at the time at: the tasks due then.
func (p *Proxy) ExpireObjectsAt(ctx context.Context, at time.Time, mine func(*ring.Device) bool) ExpirerStats {
	var st ExpirerStats
	now := at.Unix()
	accounts, containers := p.opts.Rings.Account, p.opts.Rings.Container
	taskContainers, err := p.listNames(ctx, accounts, accounts.Partition(storage.ExpiringObjectsAccount),
		"/"+storage.ExpiringObjectsAccount)
	if err != nil {
		p.log.Warn("expirer: list task containers", "error", err)
		return st
	}
	for _, name := range taskContainers {
		start, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		if start > now || ctx.Err() != nil {
			break // names are fixed-width times: the rest are later
		}
		part := containers.Partition(storage.ExpiringObjectsAccount, name)
		if nodes := containers.Nodes(part); len(nodes) == 0 || (mine != nil && !mine(nodes[0])) {
			continue
		}
		path := "/" + storage.ExpiringObjectsAccount + "/" + name
		tasks, err := p.listNames(ctx, containers, part, path)
		if err != nil {
			p.log.Warn("expirer: list tasks", "container", name, "error", err)
			continue
		}
		for _, task := range tasks {
			deleteAt, account, container, object, ok := parseTaskObject(task)
			if ok && deleteAt > now {
				break // tasks list in time order
			}
			if ok && !p.expireObject(ctx, deleteAt, account, container, object) {
				st.Failed++
				continue
			}
			if !ok {
				p.log.Warn("expirer: unexpected task name dropped", "container", name, "task", task)
			}
			if p.removeTask(ctx, containers, part, path+"/"+task) {
				st.Expired++
			} else {
				st.Failed++
			}
		}
		// a task container goes once empty and past the day it serves, so
		// no write can queue a task into it any more
		if len(tasks) == 0 && start+expirerDivisor+taskContainersPerDay <= now {
			resps := p.makeRequests(ctx, containers, part, http.MethodDelete, path, func(int) http.Header {
				h := http.Header{}
				h.Set("X-Timestamp", swob.Now().Normal())
				return h
			})
			if best, _ := bestResponse(resps, containers.ReplicaCount()); best.status/100 == 2 {
				st.ContainersRemoved++
			}
		}
	}
	return st
}

// expireObject deletes an object that expired at deleteAt on its object
// servers, as upstream's delete_actual_object: the tombstone dated at the
// expiry, X-If-Delete-At so a changed object stays, and the container
// updated. It reports whether the task is done: deleted, or gone or changed
// already (404, 409, 412).
func (p *Proxy) expireObject(ctx context.Context, deleteAt int64, account, container, object string) bool {
	r, err := http.NewRequestWithContext(ctx, http.MethodDelete, "/", nil)
	if err != nil {
		return false
	}
	req := &request{r: r, transID: newTransID(), account: account, container: container, object: object}
	rg := p.objectRing(ctx, req.transID, account, container)
	ts := swob.Timestamp(deleteAt * 100_000)
	targets := p.containerTargets(req)
	resps := p.makeRequests(ctx, rg, rg.Partition(account, container, object), http.MethodDelete, req.objectPath(),
		func(i int) http.Header {
			h := req.backendHeaders(ts)
			h.Set("X-If-Delete-At", strconv.FormatInt(deleteAt, 10))
			h.Set("X-Backend-Clean-Expiring-Object-Queue", "no")
			targets(i, h)
			return h
		})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	switch {
	case best.status/100 == 2:
		p.missedContainerUpdates(req, resps, http.MethodDelete, ts, http.Header{})
		return true
	case best.status == http.StatusNotFound || best.status == http.StatusConflict || best.status == http.StatusPreconditionFailed:
		return true
	}
	p.log.Warn("expirer: delete failed", "object", req.objectPath(), "status", best.status)
	return false
}

// removeTask deletes a task row from every replica of its container.
func (p *Proxy) removeTask(ctx context.Context, rg *ring.Ring, part int, path string) bool {
	ts := swob.Now()
	resps := p.makeRequests(ctx, rg, part, http.MethodDelete, path, func(int) http.Header {
		h := http.Header{}
		h.Set("X-Timestamp", ts.Normal())
		return h
	})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	return best.status/100 == 2 || best.status == http.StatusNotFound
}

// listNames lists the names of an account's containers or a container's
// objects, every page.
func (p *Proxy) listNames(ctx context.Context, rg *ring.Ring, part int, path string) ([]string, error) {
	type row struct {
		Name string `json:"name"`
	}
	// the reaper's and expirer's listings are the cluster's own: reserved
	// names (object versions) included
	rows, err := listAll(ctx, p, rg, part, path, url.Values{}, http.Header{"X-Backend-Allow-Reserved-Names": {"true"}},
		func(r row) string { return r.Name })
	if err != nil {
		return nil, err
	}
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names, nil
}

// errNoNode is a read no storage node answered.
var errNoNode = errors.New("no storage node answered")

// ExpirerInterval is how often the expirer passes (upstream's interval).
const ExpirerInterval = 300 * time.Second

// RunExpirer runs an expirer pass every interval until ctx ends.
func (p *Proxy) RunExpirer(ctx context.Context, interval time.Duration, mine func(*ring.Device) bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if st := p.ExpireObjects(ctx, mine); st.Expired > 0 || st.Failed > 0 || st.ContainersRemoved > 0 {
				p.log.Info("object expirer pass", "expired", st.Expired, "failed", st.Failed, "containers_removed", st.ContainersRemoved)
			}
		}
	}
}
