package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) groupRoutes() []httpapi.Route { return nil }
