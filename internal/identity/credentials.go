package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) credentialRoutes() []httpapi.Route { return nil }
