package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

// extensionRoutes are Keystone's smaller APIs: policies, limits, EC2 credentials,
// endpoint filtering, federation mappings and trusts.
func (s *Service) extensionRoutes() []httpapi.Route { return nil }

// extensionPolicies are the default rules of the extension APIs.
var extensionPolicies = map[string]string{}
