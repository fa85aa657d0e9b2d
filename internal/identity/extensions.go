package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

// extensionRoutes are Keystone's smaller APIs: policies, limits, EC2 credentials,
// endpoint filtering, federation mappings and trusts.
func (s *Service) extensionRoutes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.policyBlobRoutes(),
		s.limitRoutes(),
		s.ec2CredentialRoutes(),
		s.endpointFilterRoutes(),
		s.endpointGroupRoutes(),
		s.federationMappingRoutes(),
		s.trustRoutes(),
		s.accessRuleRoutes(),
		s.signatureTokenRoutes(),
		s.oauth1Routes(),
	} {
		all = append(all, group...)
	}
	return all
}
