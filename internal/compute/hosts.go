package compute

import (
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// hostRoutes are os-hosts (nova/api/openstack/compute/hosts.py), the deprecated
// proxy of os-services and os-hypervisors, served to 2.42 and 404 after, as
// upstream. Enabling a host, its maintenance mode and its power actions are
// the virt driver's, which libvirt's (and Nimbus's) does not implement: 501.
func (s *Service) hostRoutes() []httpapi.Route {
	target := emptyTarget
	schemas := func(request map[string]any, response map[string]any) []httpapi.Schema {
		return []httpapi.Schema{{Max: httpapi.Version{Major: 2, Minor: 42}, Request: request,
			Responses: map[int]map[string]any{200: response}}}
	}
	power := func(rule string) httpapi.Route {
		return httpapi.Route{Method: "GET", Path: "/v2.1/os-hosts/{host}/" + rule, Policy: "os_compute_api:os-hosts:" + map[string]string{
			"startup": "start", "shutdown": "shutdown", "reboot": "reboot"}[rule], Target: target, Handler: s.hostPowerAction,
			Schemas: schemas(nil, hostPowerActionResponse)}
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-hosts", Policy: "os_compute_api:os-hosts:list", Target: target, Handler: s.listHosts,
			Schemas: schemas(nil, hostListResponse)},
		{Method: "GET", Path: "/v2.1/os-hosts/{host}", Policy: "os_compute_api:os-hosts:show", Target: target, Handler: s.showHost,
			Schemas: schemas(nil, hostShowResponse)},
		{Method: "PUT", Path: "/v2.1/os-hosts/{host}", Policy: "os_compute_api:os-hosts:update", Target: target, Handler: s.updateHost,
			Schemas: schemas(hostUpdateRequest, hostUpdateResponse)},
		power("startup"), power("shutdown"), power("reboot"),
	}
}

// The schemas of nova/api/openstack/compute/schemas/hosts.py.
var (
	enableDisable     = map[string]any{"type": "string", "enum": []any{"enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"}}
	hostUpdateRequest = map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"status": enableDisable, "maintenance_mode": enableDisable},
		"anyOf":                []any{map[string]any{"required": []any{"status"}}, map[string]any{"required": []any{"maintenance_mode"}}},
		"additionalProperties": false,
	}
	hostListResponse = map[string]any{
		"type": "object",
		"properties": map[string]any{"hosts": map[string]any{"type": "array", "items": map[string]any{
			"type": "object",
			"properties": map[string]any{"host_name": map[string]any{"type": "string"}, "service": map[string]any{"type": "string"},
				"zone": map[string]any{"type": "string"}},
			"required":             []any{"host_name", "service", "zone"},
			"additionalProperties": false,
		}}},
		"required":             []any{"hosts"},
		"additionalProperties": false,
	}
	hostShowResponse = map[string]any{
		"type": "object",
		"properties": map[string]any{"host": map[string]any{"type": "array", "items": map[string]any{
			"type": "object",
			"properties": map[string]any{"resource": map[string]any{
				"type": "object",
				"properties": map[string]any{"cpu": map[string]any{"type": "integer"}, "disk_gb": map[string]any{"type": "integer"},
					"host": map[string]any{"type": "string"}, "memory_mb": map[string]any{"type": "integer"}, "project": map[string]any{"type": "string"}},
				"required":             []any{"cpu", "disk_gb", "host", "memory_mb", "project"},
				"additionalProperties": false,
			}},
			"required":             []any{"resource"},
			"additionalProperties": false,
		}}},
		"required":             []any{"host"},
		"additionalProperties": false,
	}
	hostUpdateResponse = map[string]any{
		"type": "object",
		"properties": map[string]any{"host": map[string]any{"type": "string"},
			"maintenance_mode": map[string]any{"enum": []any{"on_maintenance", "off_maintenance"}},
			"status":           map[string]any{"enum": []any{"enabled", "disabled"}}},
		"required":             []any{"host"},
		"additionalProperties": false,
	}
	hostPowerActionResponse = map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"host": map[string]any{"type": "string"}, "power_action": map[string]any{}},
		"required":             []any{"host", "power_action"},
		"additionalProperties": false,
	}
)

// hostsUpTo242 refuses os-hosts beyond 2.42, where upstream removed it.
func hostsUpTo242(r *http.Request) error {
	if since(r, 43) {
		return versionNotFound()
	}
	return nil
}

// topicOf is a service binary's RPC topic, os-hosts' "service".
func topicOf(binary string) string { return strings.TrimPrefix(binary, "nova-") }

// listHosts is every enabled service's host with its topic and zone (compute
// hosts in their zone, the others in "internal"), ?zone= filtering.
func (s *Service) listHosts(r *http.Request) (httpapi.Response, error) {
	if err := hostsUpTo242(r); err != nil {
		return httpapi.Response{}, err
	}
	rows, err := db.QueryAll(r.Context(), s.db, scanService, `SELECT `+serviceColumns+` FROM compute_services
		UNION ALL SELECT `+controlServiceColumns+` FROM control_services ORDER BY 1`)
	if err != nil {
		return httpapi.Response{}, err
	}
	hosts, err := s.hostStates(r.Context())
	if err != nil {
		return httpapi.Response{}, err
	}
	zone := r.URL.Query().Get("zone")
	out := []map[string]any{}
	for _, v := range rows {
		if v.Disabled {
			continue
		}
		z := "internal"
		if v.Binary == "nova-compute" {
			z = s.zoneOfHost(hosts, v.Host)
		}
		if zone != "" && z != zone {
			continue
		}
		out = append(out, map[string]any{"host_name": v.Host, "service": topicOf(v.Binary), "zone": z})
	}
	return httpapi.OK(map[string]any{"hosts": out}), nil
}

// showHost is a compute host's resources: its totals, what its claims use now,
// what its servers' flavors add up to, and that per project.
func (s *Service) showHost(r *http.Request) (httpapi.Response, error) {
	if err := hostsUpTo242(r); err != nil {
		return httpapi.Response{}, err
	}
	name := r.PathValue("host")
	hosts, err := loadHostStates(r.Context(), s.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, name)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(hosts) == 0 {
		return httpapi.Response{}, notFound("Compute host %s could not be found.", name)
	}
	h := hosts[0]
	resource := func(project string, cpu, mem, disk int) map[string]any {
		return map[string]any{"resource": map[string]any{"host": name, "project": project, "cpu": cpu, "memory_mb": mem, "disk_gb": disk}}
	}
	out := []map[string]any{resource("(total)", h.VCPUs, h.MemoryMB, h.DiskGB),
		resource("(used_now)", h.VCPUsUsed, h.MemoryMBUsed, h.DiskGBUsed)}
	servers, err := db.QueryAll(r.Context(), s.db, scanInstance, `SELECT `+instanceColumns+` FROM instances
		WHERE host = ? AND deleted = ? ORDER BY id`, name, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var projects []string
	sums := map[string][3]int{}
	var total [3]int
	for _, in := range servers {
		f := in.Flavor
		add := [3]int{f.VCPUs, f.RAM, f.Disk + f.Ephemeral}
		if _, ok := sums[in.ProjectID]; !ok {
			projects = append(projects, in.ProjectID)
		}
		p := sums[in.ProjectID]
		for i := range add {
			p[i] += add[i]
			total[i] += add[i]
		}
		sums[in.ProjectID] = p
	}
	out = append(out, resource("(used_max)", total[0], total[1], total[2]))
	for _, p := range projects {
		out = append(out, resource(p, sums[p][0], sums[p][1], sums[p][2]))
	}
	return httpapi.OK(map[string]any{"host": out}), nil
}

// updateHost: the host must exist (404); changing it is the driver's, which
// does not implement it (501, as libvirt's).
func (s *Service) updateHost(r *http.Request) (httpapi.Response, error) {
	if err := hostsUpTo242(r); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{}, s.unsupportedOnHost(r)
}

func (s *Service) hostPowerAction(r *http.Request) (httpapi.Response, error) {
	if err := hostsUpTo242(r); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{}, s.unsupportedOnHost(r)
}

func (s *Service) unsupportedOnHost(r *http.Request) error {
	name := r.PathValue("host")
	hosts, err := loadHostStates(r.Context(), s.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, name)
	if err != nil {
		return err
	}
	if len(hosts) == 0 {
		return notFound("Compute host %s could not be found.", name)
	}
	return httpapi.Errorf(http.StatusNotImplemented, "The requested functionality is not supported.")
}
