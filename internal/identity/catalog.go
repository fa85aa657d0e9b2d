package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) catalogRoutes() []httpapi.Route { return nil }
