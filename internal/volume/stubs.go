package volume

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) quotaRoutes() []httpapi.Route { return nil }
func (s *Service) limitRoutes() []httpapi.Route { return nil }
