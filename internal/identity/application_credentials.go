package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) applicationCredentialRoutes() []httpapi.Route { return nil }
