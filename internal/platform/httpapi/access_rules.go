package httpapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Application credential access rules, enforced as keystonemiddleware's
// auth_token does for every upstream service (validate_allowed_request): a
// token whose application credential has access rules may make only the
// requests one of them allows on this service, else 401 as for an invalid
// token. A valid service token in X-Service-Token lifts the rules: it shows the
// request is one service acting for the user on a request the user made (Nova
// fetching the image of a server the user boots), not the user's own.

// serviceTokenRoles are the roles a token in X-Service-Token must hold one of
// (keystonemiddleware's service_token_roles, with service_token_roles_required
// as upstream asks deployments that send service tokens to set). Nimbus's own
// services authenticate as the cloud admin, so admin counts too.
var serviceTokenRoles = []string{"service", "admin"}

// checkServiceToken validates the X-Service-Token of a request, if any, and
// reports whether one came. Like keystonemiddleware with delay_auth_decision
// off, a service token that does not validate, or is not a service's (no
// service role, or itself held to access rules), fails the request with 401.
func (s *Server) checkServiceToken(r *http.Request) (bool, error) {
	token := r.Header.Get("X-Service-Token")
	if token == "" {
		return false, nil
	}
	if s.opts.Auth == nil {
		return false, Unauthorized("The request you have made requires authentication.")
	}
	creds, err := s.opts.Auth.Authenticate(r.Context(), token)
	if err != nil {
		return false, &Error{Status: http.StatusUnauthorized, Message: "The request you have made requires authentication.", cause: err}
	}
	if len(creds.AccessRules) > 0 || !slices.ContainsFunc(serviceTokenRoles, creds.HasRole) {
		return false, Unauthorized("The request you have made requires authentication.")
	}
	return true, nil
}

// enforceAccessRules refuses a request that the caller's access rules do not
// allow. The service's type is Options.Service (a catalog type: identity,
// image, network, compute). As upstream, identity lets any token validate
// itself (GET /v3/auth/tokens), whatever its rules.
func (s *Server) enforceAccessRules(r *http.Request, creds *auth.Credentials, serviceToken bool) error {
	if len(creds.AccessRules) == 0 || serviceToken {
		return nil
	}
	if s.opts.Service == "identity" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v3/auth/tokens") {
		return nil
	}
	for _, rule := range creds.AccessRules {
		if rule.Allows(s.opts.Service, r.Method, r.URL.Path) {
			return nil
		}
	}
	return Unauthorized("The request you have made requires authentication.")
}
