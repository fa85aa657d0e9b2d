package proxy

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// accountRequest serves /v1/<account>: GET and HEAD (stats and the container
// listing), POST (metadata). PUT and DELETE are refused as upstream refuses
// them without allow_account_management.
func (p *Proxy) accountRequest(req *request) {
	r := req.r
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.accountGet(req)
	case http.MethodPost:
		p.accountPost(req)
	case http.MethodDelete:
		p.accountDelete(req)
	default:
		req.w.Header().Set("Allow", "GET, HEAD, POST")
		swob.Error(req.w, http.StatusMethodNotAllowed)
	}
}

func (p *Proxy) accountGet(req *request) {
	r := req.r
	rg := p.opts.Rings.Account
	part := rg.Partition(req.account)
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	for _, k := range []string{"Accept", "X-Newest"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	resp := p.readFirst(r.Context(), rg, part, r.Method, "/"+req.account, r.URL.RawQuery, h)
	if resp == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && req.owner && len(req.account) <= MaxAccountNameLength &&
		!strings.EqualFold(resp.Header.Get("X-Account-Status"), "Deleted") {
		// account_autocreate: an account nobody wrote to yet reads as empty
		// (a deleted one stays 404, as upstream)
		format := storage.ListingFormat(r)
		if format == "" {
			swob.Error(req.w, http.StatusNotAcceptable)
			return
		}
		now := swob.Now().Normal()
		wh := req.w.Header()
		wh.Set("X-Account-Container-Count", "0")
		wh.Set("X-Account-Object-Count", "0")
		wh.Set("X-Account-Bytes-Used", "0")
		wh.Set("X-Timestamp", now)
		wh.Set("X-Put-Timestamp", now)
		if r.Method == http.MethodHead {
			wh.Set("Content-Type", format+"; charset=utf-8")
			wh.Set("Content-Length", "0")
			req.w.WriteHeader(http.StatusNoContent)
			return
		}
		storage.EmptyListing(req.w, r, format, "account", req.account)
		return
	}
	accountQuotaResponse(resp.Header)
	accountACLFromBackend(req, resp.Header)
	if !req.owner {
		resp.Header.Del("X-Account-Meta-Temp-Url-Key")
		resp.Header.Del("X-Account-Meta-Temp-Url-Key-2")
	}
	relay(req.w, r, resp)
}

func (p *Proxy) accountPost(req *request) {
	if !checkMetadata(req.w, req.r, "account") {
		return
	}
	if len(req.account) > MaxAccountNameLength {
		swob.Text(req.w, http.StatusBadRequest, "Account name length of "+itoa(len(req.account))+" longer than "+itoa(MaxAccountNameLength))
		return
	}
	ctx := req.r.Context()
	extra, ok := p.accountPostHeaders(req)
	if !ok {
		return
	}
	best := p.accountWrite(ctx, req, http.MethodPost, extra)
	if best.status == http.StatusNotFound && req.owner {
		if !p.autocreateAccount(ctx, req) {
			return
		}
		best = p.accountWrite(ctx, req, http.MethodPost, extra)
	}
	answer(req.w, best)
}

func (p *Proxy) accountWrite(ctx context.Context, req *request, method string, extra http.Header) backendResponse {
	rg := p.opts.Rings.Account
	part := rg.Partition(req.account)
	ts := swob.Now()
	resps := p.makeRequests(ctx, rg, part, method, "/"+req.account, func(int) http.Header {
		h := req.backendHeaders(ts)
		for k, v := range extra {
			h[k] = v
		}
		return h
	})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	return best
}

// autocreateAccount creates the caller's account on first write, as the
// proxy's account_autocreate; on failure it has answered the client.
func (p *Proxy) autocreateAccount(ctx context.Context, req *request) bool {
	if len(req.account) > MaxAccountNameLength {
		swob.Text(req.w, http.StatusBadRequest, "Account name length of "+itoa(len(req.account))+" longer than "+itoa(MaxAccountNameLength))
		return false
	}
	best := p.accountWrite(ctx, req, http.MethodPut, nil)
	if best.status/100 != 2 {
		p.log.Warn("account autocreate failed", "account", req.account, "status", best.status)
		swob.Error(req.w, http.StatusServiceUnavailable)
		return false
	}
	return true
}

// metadataHeaders are the client's X-<Type>-Meta-* headers for the backend,
// X-Remove-<Type>-Meta-* turned into empty values (which delete), as upstream.
func metadataHeaders(h http.Header, typ string) http.Header {
	out := http.Header{}
	prefix, remove := "X-"+typ+"-Meta-", "X-Remove-"+typ+"-Meta-"
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, remove):
			if _, set := h[prefix+k[len(remove):]]; !set {
				out.Set(prefix+k[len(remove):], "")
			}
		case strings.HasPrefix(k, prefix):
			out[k] = v
		}
	}
	return out
}
