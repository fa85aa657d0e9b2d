package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) roleRoutes() []httpapi.Route { return nil }
