package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

func itoa(n int) string { return strconv.Itoa(n) }

// containerRequest serves /v1/<account>/<container>.
func (p *Proxy) containerRequest(req *request) {
	if p.containerMiddleware(req) {
		return
	}
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		p.containerGet(req)
	case http.MethodPut:
		p.containerPut(req)
	case http.MethodPost:
		p.containerPost(req)
	case http.MethodDelete:
		p.containerDelete(req)
	default:
		req.w.Header().Set("Allow", "DELETE, GET, HEAD, POST, PUT")
		swob.Error(req.w, http.StatusMethodNotAllowed)
	}
}

func (p *Proxy) containerGet(req *request) {
	r := req.r
	rg := p.opts.Rings.Container
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	for _, k := range []string{"Accept", "X-Newest"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	resp := p.readFirst(r.Context(), rg, rg.Partition(req.account, req.container), r.Method,
		"/"+req.account+"/"+req.container, r.URL.RawQuery, h)
	if resp == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		req.w.Header().Set("X-Storage-Policy", policyName(resp.Header))
		p.rememberPolicy(req.account, req.container, resp.Header)
	}
	if !req.owner {
		for _, k := range ownerHeaders {
			resp.Header.Del(k)
		}
	}
	relay(req.w, r, resp)
}

// containerHeaders are what a container PUT or POST passes on: metadata, and
// the ACLs when the owner sets them (others' are dropped, as upstream drops
// swift_owner_headers); an empty ACL removes it.
func containerHeaders(req *request) http.Header {
	h := metadataHeaders(req.r.Header, "Container")
	for k, v := range req.r.Header { // set by containerMiddleware only (it drops clients')
		if strings.HasPrefix(k, "X-Container-Sysmeta-") {
			h[k] = v
		}
	}
	if !req.owner { // only owners set temp URL keys
		h.Del("X-Container-Meta-Temp-Url-Key")
		h.Del("X-Container-Meta-Temp-Url-Key-2")
	}
	if req.owner {
		for _, k := range ownerHeaders {
			if v, ok := req.r.Header[k]; ok {
				h[k] = v
			}
			if _, ok := req.r.Header["X-Remove-"+k[2:]]; ok {
				h.Set(k, "")
			}
		}
	}
	return h
}

// containerInfo is the proxy's container_info before object writes: the
// container's headers (counts, metadata) when it exists, and whether any
// container server answered.
func (p *Proxy) containerInfo(ctx context.Context, req *request) (http.Header, bool) {
	rg := p.opts.Rings.Container
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(ctx, rg, rg.Partition(req.account, req.container), http.MethodHead,
		"/"+req.account+"/"+req.container, "", h)
	if resp == nil {
		return nil, false
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, true
	}
	p.rememberPolicy(req.account, req.container, resp.Header)
	return resp.Header, true
}

// checkQuotaHeaders is upstream's container_quotas check of a container PUT
// or POST: the quotas set must be whole numbers.
func checkQuotaHeaders(w http.ResponseWriter, r *http.Request) bool {
	if v := r.Header.Get("X-Container-Meta-Quota-Bytes"); v != "" && !isDigits(v) {
		swob.Text(w, http.StatusBadRequest, "Invalid bytes quota.")
		return false
	}
	if v := r.Header.Get("X-Container-Meta-Quota-Count"); v != "" && !isDigits(v) {
		swob.Text(w, http.StatusBadRequest, "Invalid count quota.")
		return false
	}
	return true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// overQuota is upstream's container_quotas check of an object PUT of length
// bytes: the container's bytes and object count after it within its quotas.
func overQuota(info http.Header, length int64) bool {
	if q := info.Get("X-Container-Meta-Quota-Bytes"); isDigits(q) {
		limit, _ := strconv.ParseInt(q, 10, 64)
		used, _ := strconv.ParseInt(info.Get("X-Container-Bytes-Used"), 10, 64)
		if used+max(length, 0) > limit {
			return true
		}
	}
	if q := info.Get("X-Container-Meta-Quota-Count"); isDigits(q) {
		limit, _ := strconv.ParseInt(q, 10, 64)
		count, _ := strconv.ParseInt(info.Get("X-Container-Object-Count"), 10, 64)
		if count+1 > limit {
			return true
		}
	}
	return false
}

func (p *Proxy) accountExists(ctx context.Context, req *request) (bool, bool) {
	rg := p.opts.Rings.Account
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(ctx, rg, rg.Partition(req.account), http.MethodHead, "/"+req.account, "", h)
	if resp == nil {
		return false, false
	}
	resp.Body.Close()
	return resp.StatusCode/100 == 2, true
}

func (p *Proxy) containerPut(req *request) {
	r := req.r
	if len(req.container) > MaxContainerNameLength {
		swob.Text(req.w, http.StatusBadRequest, fmt.Sprintf("Container name length of %d longer than %d", len(req.container), MaxContainerNameLength))
		return
	}
	policy, ok := p.requestedPolicy(req.w, r)
	if !ok {
		return
	}
	if !cleanContainerACLs(req) || !checkMetadata(req.w, r, "container") || !checkQuotaHeaders(req.w, r) {
		return
	}
	ctx := r.Context()
	exists, answered := p.accountExists(ctx, req)
	if !answered {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	if !exists {
		if !req.owner {
			swob.Error(req.w, http.StatusNotFound)
			return
		}
		if !p.autocreateAccount(ctx, req) {
			return
		}
	}
	accounts := p.opts.Rings.Account
	acctPart := accounts.Partition(req.account)
	acctNodes := accounts.Nodes(acctPart)
	rg := p.opts.Rings.Container
	part := rg.Partition(req.account, req.container)
	ts := swob.Now()
	meta := containerHeaders(req)
	setPolicyHeaders(meta, policy)
	resps := p.makeRequests(ctx, rg, part, http.MethodPut, "/"+req.account+"/"+req.container, func(i int) http.Header {
		h := req.backendHeaders(ts)
		for k, v := range meta {
			h[k] = v
		}
		// each container replica reports to one account replica (the proxy's
		// _backend_requests pairing)
		hosts, devices := pairNodes(acctNodes, i, rg.ReplicaCount())
		h.Set("X-Account-Host", hosts)
		h.Set("X-Account-Device", devices)
		h.Set("X-Account-Partition", strconv.Itoa(acctPart))
		return h
	})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	answer(req.w, best)
}

func (p *Proxy) containerPost(req *request) {
	if !cleanContainerACLs(req) || !checkMetadata(req.w, req.r, "container") || !checkQuotaHeaders(req.w, req.r) {
		return
	}
	p.containerWrite(req, http.MethodPost, containerHeaders(req))
}

func (p *Proxy) containerDelete(req *request) {
	p.containerWrite(req, http.MethodDelete, nil)
}

func (p *Proxy) containerWrite(req *request, method string, extra http.Header) {
	rg := p.opts.Rings.Container
	part := rg.Partition(req.account, req.container)
	ts := swob.Now()
	resps := p.makeRequests(req.r.Context(), rg, part, method, "/"+req.account+"/"+req.container, func(int) http.Header {
		h := req.backendHeaders(ts)
		for k, v := range extra {
			h[k] = v
		}
		return h
	})
	best, _ := bestResponse(resps, rg.ReplicaCount())
	answer(req.w, best)
}

// pairNodes is upstream's spreading of update targets over the requests of a
// write: request i of n gets node i (mod len(nodes)), and the last requests
// also take the nodes left over when there are more nodes than requests.
func pairNodes(nodes []*ringDevice, i, n int) (string, string) {
	var hosts, devices []string
	for j := i; j < len(nodes); j += n {
		hosts = append(hosts, hostPort(nodes[j]))
		devices = append(devices, nodes[j].Name)
	}
	if len(hosts) == 0 && len(nodes) > 0 {
		d := nodes[i%len(nodes)]
		hosts, devices = []string{hostPort(d)}, []string{d.Name}
	}
	return strings.Join(hosts, ","), strings.Join(devices, ",")
}

func hostPort(d *ringDevice) string {
	host := d.IP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(d.Port)
}

type ringDevice = ring.Device
