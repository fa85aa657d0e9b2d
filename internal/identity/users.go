package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) userRoutes() []httpapi.Route { return nil }
