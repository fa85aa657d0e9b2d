package proxy

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Account deletion, as upstream: with allow_account_management, a reseller
// admin's DELETE of an account marks it deleted on its account servers (its
// containers and objects stay for now: the account reaper removes them), and
// the account then reads as 404. Without it, DELETE is 405 as any method the
// account does not allow.

// accountDelete serves DELETE /v1/<account>.
func (p *Proxy) accountDelete(req *request) {
	if !p.opts.AllowAccountManagement {
		req.w.Header().Set("Allow", "GET, HEAD, POST")
		swob.Error(req.w, http.StatusMethodNotAllowed)
		return
	}
	// as upstream: a query string is more likely a typo of a middleware's
	// request (?bulk-delete) than a wish to delete the account
	if req.r.URL.RawQuery != "" {
		swob.Error(req.w, http.StatusBadRequest)
		return
	}
	answer(req.w, p.accountWrite(req.r.Context(), req, http.MethodDelete, nil))
}

// ReapContainer removes a container of a deleted account, as upstream's
// reaper does for each: every object on its object servers (the container
// updated, so it empties), then the container on its container servers. It
// reports whether the container is gone.
func (p *Proxy) ReapContainer(ctx context.Context, account, container string) bool {
	containers := p.opts.Rings.Container
	part := containers.Partition(account, container)
	path := "/" + account + "/" + container
	// a few rounds: a listing may lag a delete whose container update is
	// pending; the container's DELETE then says (409) whether it emptied
	for range 3 {
		names, err := p.listNames(ctx, containers, part, path)
		if err != nil {
			p.log.Warn("account reaper: list objects", "container", path, "error", err)
			return false
		}
		for _, name := range names {
			if !p.reapObject(ctx, account, container, name) {
				return false
			}
		}
		if len(names) == 0 {
			break
		}
	}
	resps := p.makeRequests(ctx, containers, part, http.MethodDelete, path, func(int) http.Header {
		h := http.Header{}
		h.Set("X-Timestamp", swob.Now().Normal())
		return h
	})
	best, _ := bestResponse(resps, containers.ReplicaCount())
	if best.status/100 == 2 || best.status == http.StatusNotFound {
		return true
	}
	p.log.Warn("account reaper: container delete", "container", path, "status", best.status)
	return false
}

// reapObject deletes one object of a reaped container on its object servers.
func (p *Proxy) reapObject(ctx context.Context, account, container, object string) bool {
	r, err := http.NewRequestWithContext(ctx, http.MethodDelete, "/", nil)
	if err != nil {
		return false
	}
	req := &request{r: r, transID: newTransID(), account: account, container: container, object: object}
	rg := p.objectRing(ctx, req.transID, account, container)
	ts := swob.Now()
	targets := p.containerTargets(req)
	resps := p.makeRequests(ctx, rg, rg.Partition(account, container, object), http.MethodDelete, req.objectPath(),
		func(i int) http.Header {
			h := req.backendHeaders(ts)
			targets(i, h)
			return h
		})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	if best.status/100 == 2 || best.status == http.StatusNotFound {
		p.missedContainerUpdates(req, resps, http.MethodDelete, ts, http.Header{})
		return true
	}
	p.log.Warn("account reaper: object delete", "object", req.objectPath(), "status", best.status)
	return false
}
