package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Account quotas, as upstream's account_quotas middleware: a reseller admin
// sets X-Account-Quota-Bytes and X-Account-Quota-Count (or the legacy
// X-Account-Meta-Quota-Bytes) on an account, kept as system metadata and shown
// to its readers; an object PUT taking the account past them is 413 "Upload
// exceeds quota." (the reseller admin's own PUTs are not limited).

var accountQuotaNames = []string{"Quota-Bytes", "Quota-Count"}

// quotaPolicies are the storage policies per-policy quotas name, by name
// and index (X-Account-Quota-Bytes-Policy-<name> is kept as
// X-Account-Sysmeta-Quota-Bytes-Policy-<index>).
var quotaPolicies = []struct {
	name  string
	index int
}{{DefaultPolicy, 0}}

// accountQuotaHeaders is validate_and_translate_quotas for an account POST:
// the quotas the request sets, as system metadata, or the refusal it
// answered (403 to anyone but the reseller admin, 400 for a non-number).
func accountQuotaHeaders(req *request, h http.Header) bool {
	in := req.r.Header
	// the legacy headers name the bytes quota too
	for legacy, modern := range map[string]string{
		"X-Account-Meta-Quota-Bytes":        "X-Account-Quota-Bytes",
		"X-Remove-Account-Meta-Quota-Bytes": "X-Remove-Account-Quota-Bytes",
	} {
		if v, ok := in[legacy]; ok && in.Get(modern) == "" {
			in.Set(modern, v[0])
		}
	}
	quotas := map[string]string{} // the system metadata each quota set becomes
	for _, name := range accountQuotaNames {
		tails := map[string]string{name: name}
		for _, pol := range quotaPolicies {
			tails[name+"-Policy-"+pol.name] = name + "-Policy-" + strconv.Itoa(pol.index)
		}
		for tail, sysmeta := range tails {
			values, set := in[http.CanonicalHeaderKey("X-Account-"+tail)]
			value := ""
			if set {
				value = values[0]
			}
			if in.Get("X-Remove-Account-"+tail) != "" {
				set, value = true, ""
			}
			if set {
				quotas["X-Account-Sysmeta-"+sysmeta] = value
			}
		}
	}
	if len(quotas) == 0 {
		return true
	}
	if !req.resellerAdmin {
		swob.Error(req.w, http.StatusForbidden)
		return false
	}
	for k, v := range quotas {
		if v != "" && !isDigits(v) {
			swob.Error(req.w, http.StatusBadRequest)
			return false
		}
		h.Set(k, v)
	}
	return true
}

// accountQuotaResponse shows the account's quotas to those who read it.
func accountQuotaResponse(h http.Header) {
	for _, name := range accountQuotaNames {
		if v := h.Get("X-Account-Sysmeta-" + name); v != "" {
			h.Set("X-Account-"+name, v)
		}
		for _, pol := range quotaPolicies {
			if v := h.Get("X-Account-Sysmeta-" + name + "-Policy-" + strconv.Itoa(pol.index)); v != "" {
				h.Set("X-Account-"+name+"-Policy-"+pol.name, v)
			}
		}
	}
}

// accountOverQuota is the account_quotas check of an object PUT of length
// bytes: it answers 413 with upstream's body and reports true when the PUT
// would take the account past a quota. The reseller admin is not limited.
func (p *Proxy) accountOverQuota(req *request, length int64) bool {
	msg := p.accountQuotaRefusal(req, length)
	if msg == "" {
		return false
	}
	swob.Write(req.w, http.StatusRequestEntityTooLarge, "text/html; charset=UTF-8", msg)
	return true
}

// accountQuotaRefusal is why an object PUT of length bytes is over the
// account's quotas ("" when it is not).
func (p *Proxy) accountQuotaRefusal(req *request, length int64) string {
	if req.resellerAdmin || p.quotaFree.has(req.account) {
		return ""
	}
	rg := p.opts.Rings.Account
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(req.r.Context(), rg, rg.Partition(req.account), http.MethodHead, "/"+req.account, "", h)
	if resp == nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return ""
	}
	quota := func(names ...string) int64 {
		for _, n := range names {
			if v := resp.Header.Get(n); v != "" {
				q, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return -1
				}
				return q
			}
		}
		return -1
	}
	quotaSet := false
	for k := range resp.Header {
		quotaSet = quotaSet || strings.HasPrefix(k, "X-Account-Sysmeta-Quota-") || k == "X-Account-Meta-Quota-Bytes"
	}
	if !quotaSet {
		p.quotaFree.add(req.account)
		return ""
	}
	stat := func(name string) int64 {
		n, _ := strconv.ParseInt(resp.Header.Get(name), 10, 64)
		return n
	}
	if q := quota("X-Account-Sysmeta-Quota-Bytes", "X-Account-Meta-Quota-Bytes"); q >= 0 && stat("X-Account-Bytes-Used")+max(length, 0) > q {
		return "Upload exceeds quota."
	}
	if q := quota("X-Account-Sysmeta-Quota-Count"); q >= 0 && stat("X-Account-Object-Count")+1 > q {
		return "Upload exceeds quota."
	}
	// the container's policy: the one policy there is
	pol := quotaPolicies[0]
	prefix := "X-Account-Storage-Policy-" + pol.name + "-"
	if q := quota("X-Account-Sysmeta-Quota-Bytes-Policy-" + strconv.Itoa(pol.index)); q >= 0 && stat(prefix+"Bytes-Used")+max(length, 0) > q {
		return "Upload exceeds policy quota."
	}
	if q := quota("X-Account-Sysmeta-Quota-Count-Policy-" + strconv.Itoa(pol.index)); q >= 0 && stat(prefix+"Object-Count")+1 > q {
		return "Upload exceeds policy quota."
	}
	return ""
}

// quotaFreeTTL is how long an account read without quotas is not read again
// before each object PUT (upstream caches account info for 60 s); a quota
// set through this proxy applies at once, through another within it.
const quotaFreeTTL = 10 * time.Second

// quotaFreeAccounts are accounts seen without quotas lately, so object PUTs
// to them cost no account read; its zero value is ready.
type quotaFreeAccounts struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (q *quotaFreeAccounts) has(account string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	at, ok := q.seen[account]
	return ok && time.Since(at) < quotaFreeTTL
}

func (q *quotaFreeAccounts) add(account string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.seen == nil || len(q.seen) >= 100000 {
		q.seen = map[string]time.Time{} // bounded: entries are cheap to make again
	}
	q.seen[account] = time.Now()
}

func (q *quotaFreeAccounts) forget(account string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.seen, account)
}

// accountPostHeaders are what an account POST passes on: metadata, the
// owner's account ACL and the reseller admin's quotas; false when it
// answered a refusal.
func (p *Proxy) accountPostHeaders(req *request) (http.Header, bool) {
	if !checkAccountACLHeader(req) {
		return nil, false
	}
	h := metadataHeaders(req.r.Header, "Account")
	if !accountQuotaHeaders(req, h) {
		return nil, false
	}
	p.quotaFree.forget(req.account) // its quotas may change now
	accountACLToBackend(req, h)
	return h, true
}
