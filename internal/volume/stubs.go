package volume

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

func (s *Service) volumeActionRoutes() []httpapi.Route { return nil }
func (s *Service) attachmentRoutes() []httpapi.Route   { return nil }
func (s *Service) quotaRoutes() []httpapi.Route        { return nil }
func (s *Service) limitRoutes() []httpapi.Route        { return nil }
