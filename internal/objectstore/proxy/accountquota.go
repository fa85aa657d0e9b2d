package proxy

import (
	"net/http"
	"strconv"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Account quotas, as upstream's account_quotas middleware: a reseller admin
// sets X-Account-Quota-Bytes and X-Account-Quota-Count (or the legacy
// X-Account-Meta-Quota-Bytes) on an account, kept as system metadata and shown
// to its readers; an object PUT taking the account past them is 413 "Upload
// exceeds quota." (the reseller admin's own PUTs are not limited).

var accountQuotaNames = []string{"Quota-Bytes", "Quota-Count"}

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
	for _, name := range accountQuotaNames {
		values, set := in["X-Account-"+name]
		value := ""
		if set {
			value = values[0]
		}
		if in.Get("X-Remove-Account-"+name) != "" {
			set, value = true, ""
		}
		if !set {
			continue
		}
		if !req.resellerAdmin {
			swob.Error(req.w, http.StatusForbidden)
			return false
		}
		if value != "" && !isDigits(value) {
			swob.Error(req.w, http.StatusBadRequest)
			return false
		}
		h.Set("X-Account-Sysmeta-"+name, value)
	}
	return true
}

// accountQuotaResponse shows the account's quotas to those who read it.
func accountQuotaResponse(h http.Header) {
	for _, name := range accountQuotaNames {
		if v := h.Get("X-Account-Sysmeta-" + name); v != "" {
			h.Set("X-Account-"+name, v)
		}
	}
}

// accountOverQuota is the account_quotas check of an object PUT of length
// bytes; the reseller admin is not limited.
func (p *Proxy) accountOverQuota(req *request, length int64) bool {
	if req.resellerAdmin {
		return false
	}
	rg := p.opts.Rings.Account
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(req.r.Context(), rg, rg.Partition(req.account), http.MethodHead, "/"+req.account, "", h)
	if resp == nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return false
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
	if q := quota("X-Account-Sysmeta-Quota-Bytes", "X-Account-Meta-Quota-Bytes"); q >= 0 {
		used, _ := strconv.ParseInt(resp.Header.Get("X-Account-Bytes-Used"), 10, 64)
		if used+max(length, 0) > q {
			return true
		}
	}
	if q := quota("X-Account-Sysmeta-Quota-Count"); q >= 0 {
		count, _ := strconv.ParseInt(resp.Header.Get("X-Account-Object-Count"), 10, 64)
		if count+1 > q {
			return true
		}
	}
	return false
}

// accountPostHeaders are what an account POST passes on: metadata, the
// owner's account ACL and the reseller admin's quotas; false when it
// answered a refusal.
func accountPostHeaders(req *request) (http.Header, bool) {
	if !checkAccountACLHeader(req) {
		return nil, false
	}
	h := metadataHeaders(req.r.Header, "Account")
	if !accountQuotaHeaders(req, h) {
		return nil, false
	}
	accountACLToBackend(req, h)
	return h, true
}
