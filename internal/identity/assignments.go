package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) assignmentRoutes() []httpapi.Route { return nil }
