package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Container ACLs as keystoneauth reads them: X-Container-Read governs GET and
// HEAD of the container and its objects, X-Container-Write the objects' PUT,
// POST and DELETE. Items are "<project>:<user>" (ids, names in the default
// domain, or "*"), referrers ".r:<host>" (".r:*" anyone, "-" to refuse one),
// and ".rlistings" (referrers may list the container too).

// ownerHeaders are what only the account's owner may set or see
// (upstream's swift_owner_headers).
var ownerHeaders = []string{"X-Container-Read", "X-Container-Write",
	"X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2"}

// parseACL is upstream's parse_acl: referrers and the other items ("groups").
func parseACL(acl string) (referrers, groups []string) {
	for _, v := range strings.Split(acl, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if ref, ok := strings.CutPrefix(v, ".r:"); ok {
			referrers = append(referrers, strings.TrimSpace(ref))
		} else {
			groups = append(groups, v)
		}
	}
	return referrers, groups
}

// referrerAllowed is upstream's referrer_allowed.
func referrerAllowed(referer string, referrers []string) bool {
	allow := false
	if len(referrers) == 0 {
		return false
	}
	host := "unknown"
	if u, err := url.Parse(referer); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	for _, m := range referrers {
		if neg, ok := strings.CutPrefix(m, "-"); ok {
			if neg == host || (strings.HasPrefix(neg, ".") && strings.HasSuffix(host, neg)) {
				allow = false
			}
		} else if m == "*" || m == host || (strings.HasPrefix(m, ".") && strings.HasSuffix(host, m)) {
			allow = true
		}
	}
	return allow
}

// crossProjectMatch is keystoneauth's _authorize_cross_tenant: the caller
// matches "<project>:<user>" with ids, "*" and (in the default domain) names.
func crossProjectMatch(c *auth.Credentials, groups []string) bool {
	projects := []string{c.ProjectID, "*"}
	users := []string{c.UserID, "*"}
	if c.ProjectDomainID == "default" && c.UserDomainID == "default" {
		projects = append(projects, c.ProjectName)
		users = append(users, c.UserName)
	}
	for _, p := range projects {
		for _, u := range users {
			for _, g := range groups {
				if g == p+":"+u {
					return true
				}
			}
		}
	}
	return false
}

// aclAllows decides a request the caller's roles do not: by the container's
// read or write ACL. It returns (allowed, decided): a referrer match without
// .rlistings on a listing is a decided refusal, as upstream's.
func aclAllows(req *request, acl string) (bool, bool) {
	referrers, groups := parseACL(acl)
	if req.creds != nil && len(groups) > 0 && crossProjectMatch(req.creds, groups) {
		return true, true
	}
	if referrerAllowed(req.r.Header.Get("Referer"), referrers) {
		if req.object != "" {
			return true, true
		}
		for _, g := range groups {
			if g == ".rlistings" {
				return true, true
			}
		}
		return false, true
	}
	// a role of the caller's own project named in the ACL
	if req.creds != nil && req.account == ResellerPrefix+req.creds.ProjectID {
		for _, role := range req.creds.RoleNames() {
			for _, g := range groups {
				if strings.EqualFold(g, role) {
					return true, true
				}
			}
		}
	}
	return false, false
}

// containerACL reads the ACL that governs req from its container: the read
// ACL for GET and HEAD, the write ACL for object writes, none otherwise.
func (p *Proxy) containerACL(req *request) string {
	if req.container == "" {
		return ""
	}
	header := ""
	switch req.r.Method {
	case http.MethodGet, http.MethodHead:
		header = "X-Container-Read"
	case http.MethodPut, http.MethodPost, http.MethodDelete:
		if req.object == "" {
			return "" // the container itself: its owner only
		}
		header = "X-Container-Write"
	default:
		return ""
	}
	rg := p.opts.Rings.Container
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	resp := p.readFirst(req.r.Context(), rg, rg.Partition(req.account, req.container), http.MethodHead,
		"/"+req.account+"/"+req.container, "", h)
	if resp == nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return ""
	}
	return resp.Header.Get(header)
}
