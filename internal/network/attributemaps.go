package network

import "slices"

// The attribute maps of the core resources and their extensions, transcribed from
// neutron-lib's api/definitions (network.py, subnet.py, port.py, l3.py,
// securitygroup.py and the extensions that add attributes: provider_net,
// external_net, network_mtu_writable, port_security, portbindings,
// allowedaddresspairs, extra_dhcp_opt, dns, availability_zone, l3_ext_gw_mode,
// extraroute, dvr, l3_ext_ha_mode, l3_flavors, standard-attr-*). parseBody checks a
// body against them before the handler runs: upstream's permissive forms are
// converted ("True", 1 and "yes" for booleans, "42" for integers), and bad values,
// attributes a create or update may not set, and missing required ones answer
// upstream's 400s. What needs the database (overlaps, ownership) stays in the
// handlers.

// timestamps are the read-only standard attributes every resource here has.
var timestamps = readOnly("id", "created_at", "updated_at", "revision_number")

var networkAttributeMap = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "admin_state_up", post: true, put: true, convert: toBoolean},
	{name: "shared", post: true, put: true, convert: toBoolean},
	{name: "router:external", post: true, put: true, convert: toBoolean},
	{name: "mtu", post: true, put: true, convert: toInt, validate: validNonNegative},
	{name: "port_security_enabled", post: true, put: true, convert: toBoolean},
	{name: "provider:network_type", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "provider:physical_network", post: true, put: true, validate: validStringOrNone(64)},
	{name: "provider:segmentation_id", post: true, put: true, convert: toInt},
	{name: "availability_zone_hints", post: true, validate: validStringList(nameFieldSize)},
	{name: "dns_domain", post: true, put: true, convert: toLowerString, validate: validDNSDomain},
	{name: "is_default", post: true, put: true, convert: toBoolean},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), timestamps,
	readOnly("status", "subnets", "availability_zones", "ipv4_address_scope", "ipv6_address_scope", "l2_adjacency"))

var subnetAttributeMap = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "ip_version", post: true, required: true, convert: toInt, validate: validValues(4, 6)},
	{name: "network_id", post: true, required: true, validate: validUUID},
	{name: "subnetpool_id", post: true, validate: validSubnetPoolIDOrNone},
	{name: "prefixlen", post: true, convert: toInt, validate: validNonNegative},
	{name: "cidr", post: true, validate: validSubnetOrNone},
	{name: "gateway_ip", post: true, put: true, validate: validIPAddressOrNone},
	{name: "allocation_pools", post: true, put: true, validate: validIPPools},
	{name: "dns_nameservers", post: true, put: true, convert: noneToEmptyList, validate: validNameservers},
	{name: "host_routes", post: true, put: true, convert: noneToEmptyList, validate: validHostRoutes},
	{name: "enable_dhcp", post: true, put: true, convert: toBoolean},
	{name: "ipv6_ra_mode", post: true},
	{name: "ipv6_address_mode", post: true},
	{name: "segment_id", post: true, put: true, validate: validUUIDOrNone},
	{name: "service_types", post: true, put: true, check: checkServiceTypes},
	{name: "dns_publish_fixed_ip", post: true, put: true, convert: toBoolean},
	{name: "use_default_subnetpool", post: true, convert: toBoolean},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), timestamps)

var portAttributeMap = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "network_id", post: true, required: true, validate: validUUID},
	{name: "admin_state_up", post: true, put: true, convert: toBoolean},
	{name: "mac_address", post: true, put: true, validate: validMACAddress},
	{name: "fixed_ips", post: true, put: true, validate: validFixedIPs},
	{name: "device_id", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "device_owner", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "allowed_address_pairs", post: true, put: true, convert: noneToEmptyList, check: validAllowedAddressPairs},
	{name: "security_groups", post: true, put: true, convert: noneToEmptyList, validate: validUUIDList},
	{name: "port_security_enabled", post: true, put: true, convert: toBoolean},
	{name: "binding:host_id", post: true, put: true},
	{name: "binding:vnic_type", post: true, put: true, validate: validValues(anySlice(vnicTypes)...)},
	{name: "binding:profile", post: true, put: true, validate: validDictOrNone},
	{name: "dns_name", post: true, put: true, convert: toLowerString, validate: validDNSName},
	{name: "extra_dhcp_opts", post: true, put: true, check: validExtraDHCPOpts},
	{name: "propagate_uplink_status", post: true, put: true, convert: toBoolean},
	{name: "trusted", post: true, put: true, convert: toBooleanOrNone},
	// ports take tags on create with upstream's own validator (tagging.py's
	// TAG_ATTRIBUTE_MAP_PORTS: unique strings of at most MAX_TAG_LEN)
	{name: "tags", post: true, validate: validListOfUniqueStrings(maxTagLength)},
}, standardAttributes(descriptionFieldSize), timestamps,
	readOnly("status", "binding:vif_type", "binding:vif_details", "dns_assignment", "ip_allocation", "trunk_details"))

var routerAttributeMap = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "admin_state_up", post: true, put: true, convert: toBoolean},
	{name: "external_gateway_info", post: true, put: true, check: validGatewayInfo},
	// extraroute: routes are set by an update, never on create.
	{name: "routes", put: true, convert: noneToEmptyList, validate: validHostRoutes},
	{name: "distributed", post: true, put: true, convert: toBooleanOrNone},
	{name: "ha", post: true, put: true, convert: toBooleanOrNone},
	{name: "availability_zone_hints", post: true, validate: validStringList(nameFieldSize)},
	{name: "flavor_id", post: true, validate: validUUIDOrNone},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), timestamps, readOnly("status", "availability_zones"))

var floatingIPAttributeMap = slices.Concat(attributeMap{
	{name: "floating_ip_address", post: true, validate: validIPAddressOrNone},
	{name: "subnet_id", post: true, validate: validUUIDOrNone},
	{name: "floating_network_id", post: true, required: true, validate: validUUID},
	{name: "port_id", post: true, put: true, validate: validUUIDOrNone},
	{name: "fixed_ip_address", post: true, put: true, validate: validIPAddressOrNone},
	{name: "dns_name", post: true, convert: toLowerString, validate: validFIPDNSName},
	{name: "dns_domain", post: true, convert: toLowerString, validate: validDNSDomain},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), timestamps, readOnly("status", "router_id", "port_details"))

var securityGroupAttributeMap = slices.Concat(attributeMap{
	{name: "name", post: true, put: true, check: validNameNotDefault},
	{name: "stateful", post: true, put: true, convert: toBoolean},
	tagsOnCreate,
}, standardAttributes(descriptionFieldSize), timestamps, readOnly("security_group_rules"))

var securityGroupRuleAttributeMap = slices.Concat(attributeMap{
	{name: "security_group_id", post: true, required: true, validate: validUUID},
	{name: "remote_group_id", post: true, validate: validUUIDOrNone},
	{name: "remote_address_group_id", post: true, validate: validUUIDOrNone},
	{name: "direction", post: true, required: true, validate: validValues("ingress", "egress")},
	{name: "protocol", post: true, convert: checkProtocol},
	{name: "port_range_min", post: true},
	{name: "port_range_max", post: true},
	{name: "ethertype", post: true, convert: checkEthertype},
	{name: "remote_ip_prefix", post: true, convert: checkIPPrefix},
}, standardAttributes(descriptionFieldSize), timestamps)

// toBooleanOrNone is convert_to_boolean_if_not_none.
func toBooleanOrNone(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return toBoolean(v)
}

// validStringList is a list of strings of at most max characters each
// (availability_zone_hint_list's shape).
func validStringList(max int) func(any) string {
	return func(v any) string {
		if v == nil {
			return ""
		}
		list, ok := v.([]any)
		if !ok {
			return "'" + pyStr(v) + "' is not a list"
		}
		for _, e := range list {
			if msg := validString(max)(e); msg != "" {
				return msg
			}
		}
		return ""
	}
}

// validSubnetPoolIDOrNone is type:subnetpool_id_or_none: a UUID, or the IPv6
// prefix delegation pool's name.
func validSubnetPoolIDOrNone(v any) string {
	if v == nil || v == "prefix_delegation" {
		return ""
	}
	return validUUID(v)
}

// vnicTypes are portbindings' VNIC_TYPES, the values binding:vnic_type may
// take (Nimbus wires only normal ones; the handler refuses the others).
var vnicTypes = []string{"normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
	"smart-nic", "vdpa", "accelerator-direct", "accelerator-direct-physical", "remote-managed"}

func anySlice(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
