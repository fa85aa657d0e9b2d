package compute

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// /extensions is the deprecated v2 extension list that v2.1 still answers for
// older clients: every v2 extension whose behaviour v2.1 has built in, as
// upstream's extension_info lists them. Nimbus names those it implements.
func (s *Service) extensionRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/extensions", Policy: "os_compute_api:extensions", Handler: s.listExtensions},
		{Method: "GET", Path: "/v2.1/extensions/{alias}", Policy: "os_compute_api:extensions", Handler: s.showExtension},
	}
}

type extension struct{ alias, name, description string }

// extensions are sorted by alias, as upstream lists them.
var extensions = []extension{
	{"NMN", "Multinic", "Multiple network support."},
	{"OS-DCF", "DiskConfig", "Disk Management Extension."},
	{"OS-EXT-AZ", "ExtendedAvailabilityZone", "Extended Availability Zone support."},
	{"OS-EXT-IMG-SIZE", "ImageSize", "Adds image size to image listings."},
	{"OS-EXT-IPS", "ExtendedIps", "Adds type parameter to the ip list."},
	{"OS-EXT-IPS-MAC", "ExtendedIpsMac", "Adds mac address parameter to the ip list."},
	{"OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Extended Server Attributes support."},
	{"OS-EXT-STS", "ExtendedStatus", "Extended Status support."},
	{"OS-FLV-DISABLED", "FlavorDisabled", "Support to show the disabled status of a flavor."},
	{"OS-FLV-EXT-DATA", "FlavorExtraData", "Provide additional data for flavors."},
	{"OS-SCH-HNT", "SchedulerHints", "Pass arbitrary key/value pairs to the scheduler."},
	{"OS-SRV-USG", "ServerUsage", "Adds launched_at and terminated_at on Servers."},
	{"os-access-ips", "AccessIPs", "Access IPs support."},
	{"os-admin-actions", "AdminActions", "Enable admin-only server actions."},
	{"os-aggregates", "Aggregates", "Admin-only aggregate administration."},
	{"os-attach-interfaces", "AttachInterfaces", "Attach interface support."},
	{"os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create Server API. 2. Add availability zones describing."},
	{"os-config-drive", "ConfigDrive", "Config Drive Extension."},
	{"os-console-output", "ConsoleOutput", "Console log output support, with tailing ability."},
	{"os-extended-quotas", "ExtendedQuotas", "Adds ability for admins to delete quota and optionally force the update Quota command."},
	{"os-flavor-access", "FlavorAccess", "Flavor access support."},
	{"os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support."},
	{"os-flavor-manage", "FlavorManage", "Flavor create/delete API support."},
	{"os-flavor-rxtx", "FlavorRxtx", "Support to show the rxtx status of a flavor."},
	{"os-flavor-swap", "FlavorSwap", "Support to show the swap status of a flavor."},
	{"os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."},
	{"os-instance-actions", "InstanceActions", "View a log of actions and events taken on an instance."},
	{"os-keypairs", "Keypairs", "Keypair Support."},
	{"os-lock-server", "ServerLocking", "Enable lock/unlock server actions."},
	{"os-multiple-create", "MultipleCreate", "Allow multiple create in the Create Server v2.1 API."},
	{"os-pause-server", "PauseServer", "Enable pause/unpause server actions."},
	{"os-quota-sets", "Quotas", "Quotas management support."},
	{"os-remote-consoles", "RemoteConsoles", "Interactive Console support."},
	{"os-security-groups", "SecurityGroups", "Security group support."},
	{"os-server-diagnostics", "ServerDiagnostics", "Allow Admins to view server diagnostics through server action."},
	{"os-server-group-quotas", "ServerGroupQuotas", "Adds quota support to server groups."},
	{"os-server-groups", "ServerGroups", "Server group support."},
	{"os-server-sort-keys", "ServerSortKeys", "Add sorting support in get Server v2 API."},
	{"os-server-start-stop", "ServerStartStop", "Start/Stop instance compute API support."},
	{"os-services", "Services", "Services support."},
	{"os-simple-tenant-usage", "SimpleTenantUsage", "Simple tenant usage extension."},
	{"os-suspend-server", "SuspendServer", "Enable suspend/resume server actions."},
	{"os-user-data", "UserData", "Add user_data to the Create Server API."},
}

func (e extension) view() map[string]any {
	return map[string]any{"alias": e.alias, "name": e.name, "description": e.description, "links": []any{},
		"namespace": "http://docs.openstack.org/compute/ext/fake_xml", "updated": "2014-12-03T00:00:00Z"}
}

func (s *Service) listExtensions(*http.Request) (httpapi.Response, error) {
	out := make([]map[string]any, 0, len(extensions))
	for _, e := range extensions {
		out = append(out, e.view())
	}
	return httpapi.OK(map[string]any{"extensions": out}), nil
}

func (s *Service) showExtension(r *http.Request) (httpapi.Response, error) {
	for _, e := range extensions {
		if e.alias == r.PathValue("alias") {
			return httpapi.OK(map[string]any{"extension": e.view()}), nil
		}
	}
	return httpapi.Response{}, notFound("The resource could not be found.")
}
