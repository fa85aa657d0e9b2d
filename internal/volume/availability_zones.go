package volume

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func init() { extraRouteGroups = append(extraRouteGroups, (*Service).availabilityZoneRoutes) }

// availabilityZoneRoutes are contrib/availability_zones.py: any token lists
// the zones (upstream checks no policy).
func (s *Service) availabilityZoneRoutes() []httpapi.Route {
	return withSnapshotBackupResponses([]httpapi.Route{
		{Method: "GET", Path: "/v3/os-availability-zone", Handler: s.listAvailabilityZones},
	})
}

// listAvailabilityZones is volume/api.py list_availability_zones: the zones
// of the volume services, each available unless all its services are
// disabled.
func (s *Service) listAvailabilityZones(r *http.Request) (httpapi.Response, error) {
	type zoneRow struct {
		zone     string
		disabled bool
	}
	rows, err := db.QueryAll(r.Context(), s.db, func(sc db.Scanner) (zoneRow, error) {
		var z zoneRow
		err := sc.Scan(&z.zone, &z.disabled)
		return z, err
	}, `SELECT availability_zone, disabled FROM volume_services WHERE binary_name = 'cinder-volume' ORDER BY availability_zone`)
	if err != nil {
		return httpapi.Response{}, err
	}
	available := map[string]bool{}
	var order []string
	for _, z := range rows {
		if _, seen := available[z.zone]; !seen {
			order = append(order, z.zone)
		}
		available[z.zone] = available[z.zone] || !z.disabled
	}
	zones := make([]any, 0, len(order))
	for _, name := range order {
		zones = append(zones, map[string]any{"zoneName": name, "zoneState": map[string]any{"available": available[name]}})
	}
	return httpapi.OK(map[string]any{"availabilityZoneInfo": zones}), nil
}
