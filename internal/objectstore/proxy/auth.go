package proxy

import (
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// ResellerPrefix is the prefix of the accounts keystoneauth manages.
const ResellerPrefix = "AUTH_"

// authorize is keystoneauth's authorize (and its delayed denial for requests
// without a valid token): the reseller admin owns every account; a project's
// operator roles own AUTH_<project>; its reader roles may GET and HEAD it;
// anyone else is refused, 403 with a valid token and 401 without. It answers
// the refusal itself and reports whether to go on.
func (p *Proxy) authorize(req *request) bool {
	r := req.r
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		token = r.Header.Get("X-Storage-Token")
	}
	if p.opts.TempAuth != nil && isTempAuthToken(token) {
		return p.authorizeTempAuth(req, token)
	}
	if token != "" && p.opts.Auth != nil {
		if creds, err := p.opts.Auth.Authenticate(r.Context(), token); err == nil {
			req.creds = creds
		}
	}
	if req.creds == nil {
		req.creds = preauthenticated(r)
	}
	if req.creds == nil {
		// anonymous: only a referrer ACL lets it in
		if ok, _ := p.aclDecides(req); ok {
			return true
		}
		p.deny(req)
		return false
	}
	creds := req.creds
	// an application credential's access rules name what its token may do
	if len(creds.AccessRules) > 0 && !slices.ContainsFunc(creds.AccessRules, func(rule auth.AccessRule) bool {
		return rule.Allows("object-store", r.Method, r.URL.Path)
	}) {
		p.deny(req)
		return false
	}
	roles := map[string]bool{}
	for _, name := range creds.RoleNames() {
		roles[strings.ToLower(name)] = true
	}
	if roles[strings.ToLower(p.opts.ResellerAdminRole)] {
		req.owner, req.resellerAdmin = true, true
		return true
	}
	// nobody but the reseller deletes an account
	if req.container == "" && r.Method == http.MethodDelete {
		p.deny(req)
		return false
	}
	// a container's ACL may let in who its account's roles do not
	aclAllowed, aclDecided := p.aclDecides(req)
	if aclAllowed {
		return true
	}
	if !strings.HasPrefix(req.account, ResellerPrefix) || creds.ProjectID == "" ||
		req.account != ResellerPrefix+creds.ProjectID {
		if p.accountACLAllows(req, func(grantees []string) bool { return crossProjectMatch(creds, grantees) }) {
			return true
		}
		p.deny(req)
		return false
	}
	for _, role := range p.opts.OperatorRoles {
		if roles[strings.ToLower(role)] {
			req.owner = true
			return true
		}
	}
	for _, role := range p.opts.ReaderRoles {
		if roles[strings.ToLower(role)] && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			return true
		}
	}
	_ = aclDecided // a decided refusal and no decision end alike here
	p.deny(req)
	return false
}

// aclDecides applies the container's ACL to a request the caller does not
// own (keystoneauth's cross-tenant and referrer checks).
func (p *Proxy) aclDecides(req *request) (bool, bool) {
	if !strings.HasPrefix(req.account, ResellerPrefix) || req.container == "" {
		return false, false
	}
	if req.creds != nil && req.account == ResellerPrefix+req.creds.ProjectID && p.hasOperatorRole(req.creds) {
		return false, false // the owner: no need to read the ACL
	}
	acl := p.containerACL(req)
	if acl == "" {
		return false, false
	}
	return aclAllows(req, acl)
}

func (p *Proxy) hasOperatorRole(c *auth.Credentials) bool {
	for _, name := range c.RoleNames() {
		for _, role := range p.opts.OperatorRoles {
			if strings.EqualFold(name, role) {
				return true
			}
		}
	}
	return false
}

// deny is keystoneauth's denied_response: 403 to a known user, 401 otherwise
// (with keystonemiddleware's WWW-Authenticate).
func (p *Proxy) deny(req *request) {
	if req.creds != nil {
		swob.Error(req.w, http.StatusForbidden)
		return
	}
	if p.opts.IdentityURL != "" {
		req.w.Header().Set("WWW-Authenticate", "Keystone uri='"+p.opts.IdentityURL+"'")
	}
	swob.Error(req.w, http.StatusUnauthorized)
}
