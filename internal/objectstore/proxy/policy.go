package proxy

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Storage policies, as upstream's proxy applies them: a container PUT names
// its policy (X-Storage-Policy: a name or alias, any case; unknown is 400),
// the container servers keep its index (and refuse another with 409), and
// every object request goes to the object ring of its container's policy,
// telling the object servers the index (X-Backend-Storage-Policy-Index) so
// they use that policy's directories. The proxy caches each container's
// policy for a minute (upstream keeps container_info in memcache as long);
// every object write refreshes it, since it reads the container first.

const (
	policyIndexHeader   = "X-Backend-Storage-Policy-Index"
	policyDefaultHeader = "X-Backend-Storage-Policy-Default"
	// policyCacheTTL is upstream's recheck_container_existence.
	policyCacheTTL = time.Minute
	// policyCacheSize bounds the cache; past it, it starts over.
	policyCacheSize = 100_000
)

// policyCache remembers containers' policy indexes.
type policyCache struct {
	mu      sync.Mutex
	entries map[string]policyEntry
}

type policyEntry struct {
	index   int
	expires time.Time
}

func (c *policyCache) get(key string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || time.Now().After(e.expires) {
		return 0, false
	}
	return e.index, true
}

func (c *policyCache) put(key string, index int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= policyCacheSize {
		c.entries = map[string]policyEntry{}
	}
	c.entries[key] = policyEntry{index: index, expires: time.Now().Add(policyCacheTTL)}
}

// multiplePolicies reports whether the proxy has object rings for more than
// Policy-0; with only that one, no container is ever asked for its policy.
func (p *Proxy) multiplePolicies() bool { return len(p.opts.Rings.ObjectPolicies) > 0 }

// policyRing is the object ring of policy index, nil when the proxy has none.
func (p *Proxy) policyRing(index int) *ring.Ring {
	if index == 0 {
		return p.opts.Rings.Object
	}
	return p.opts.Rings.ObjectPolicies[index]
}

// rememberPolicy notes the policy a container server answered with.
func (p *Proxy) rememberPolicy(account, container string, h http.Header) {
	if !p.multiplePolicies() {
		return
	}
	if pol, ok := ring.ParsePolicyIndex(h.Get(policyIndexHeader)); ok {
		p.policies.put(account+"/"+container, pol.Index)
	}
}

// objectRing is the object ring of the container's policy: the cached
// index, else the container's answer to a HEAD. A container that does not
// exist (or a policy this proxy has no ring for) is Policy-0's: its objects
// are found nowhere either way.
func (p *Proxy) objectRing(ctx context.Context, transID, account, container string) *ring.Ring {
	if !p.multiplePolicies() {
		return p.opts.Rings.Object
	}
	index, ok := p.policies.get(account + "/" + container)
	if !ok {
		rg := p.opts.Rings.Container
		h := http.Header{}
		h.Set("X-Trans-Id", transID)
		resp := p.readFirst(ctx, rg, rg.Partition(account, container), http.MethodHead, "/"+account+"/"+container, "", h)
		if resp == nil {
			return p.opts.Rings.Object
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return p.opts.Rings.Object
		}
		p.rememberPolicy(account, container, resp.Header)
		pol, _ := ring.ParsePolicyIndex(resp.Header.Get(policyIndexHeader))
		index = pol.Index
	}
	if rg := p.policyRing(index); rg != nil {
		return rg
	}
	p.log.Error("no object ring for the container's storage policy", "account", account, "container", container, "policy_index", index)
	return p.opts.Rings.Object
}

// withPolicy is h with the policy index of rg when rg is an object ring (a
// copy: callers may reuse h for other rings).
func (p *Proxy) withPolicy(rg *ring.Ring, h http.Header) http.Header {
	index := -1
	if rg == p.opts.Rings.Object {
		index = 0
	}
	for i, r := range p.opts.Rings.ObjectPolicies {
		if r == rg {
			index = i
		}
	}
	if index < 0 {
		return h
	}
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	out.Set(policyIndexHeader, strconv.Itoa(index))
	return out
}

// requestedPolicy reads a container PUT's X-Storage-Policy, as upstream's
// _convert_policy_to_index: none is nil; a name no policy (with a ring here)
// has is 400 "Invalid X-Storage-Policy 'NAME'".
func (p *Proxy) requestedPolicy(w http.ResponseWriter, r *http.Request) (*ring.Policy, bool) {
	name := r.Header.Get("X-Storage-Policy")
	if name == "" {
		return nil, true
	}
	pol, ok := ring.PolicyByName(name)
	if !ok || p.policyRing(pol.Index) == nil {
		swob.Text(w, http.StatusBadRequest, "Invalid X-Storage-Policy '"+name+"'")
		return nil, false
	}
	return &pol, true
}

// setPolicyHeaders tells the container servers the policy a PUT asked for,
// and the default for a container created without one.
func setPolicyHeaders(h http.Header, requested *ring.Policy) {
	if requested != nil {
		h.Set(policyIndexHeader, strconv.Itoa(requested.Index))
	}
	h.Set(policyDefaultHeader, strconv.Itoa(ring.DefaultPolicy().Index))
}

// policyName is the X-Storage-Policy a container HEAD or GET answers: the
// name of the index its container server keeps.
func policyName(h http.Header) string {
	if pol, ok := ring.ParsePolicyIndex(h.Get(policyIndexHeader)); ok {
		return pol.Name
	}
	return ring.DefaultPolicy().Name
}

// policiesInfo is /info's "policies": each policy the proxy has a ring for,
// with upstream's public keys (name, aliases as one comma-separated string,
// default only on the default).
func (p *Proxy) policiesInfo() []map[string]any {
	var out []map[string]any
	for _, pol := range ring.Policies {
		if p.policyRing(pol.Index) == nil {
			continue
		}
		entry := map[string]any{"name": pol.Name, "aliases": strings.Join(pol.Aliases, ", ")}
		if pol.Default {
			entry["default"] = true
		}
		out = append(out, entry)
	}
	return out
}
