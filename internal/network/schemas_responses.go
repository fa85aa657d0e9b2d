package network

import (
	"maps"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The response bodies of the network API, as upstream's API reference
// (neutron-lib's api-ref: networks, subnets, ports, routers, floatingips,
// security-groups, security-group-rules, subnetpools, address-scopes,
// address-groups, trunks) and an ML2/OVS deployment's extensions define them:
// each resource's exact keys and their types. Attached to the routes
// (withResponseSchemas), they are checked when the server is told to
// (Options.CheckResponses): the package's tests and the end-to-end suites fail on
// any drift.
//
// A create or update answers every key (required); a list or show may be asked
// for some (fields=...) and the caller may not see others (provider:*,
// binding:*, segment_id are policed per attribute), so those schemas forbid
// unknown keys but require none.

var (
	str         = jsonschema.Schema{"type": "string"}
	strOrNull   = jsonschema.Schema{"type": []any{"string", "null"}}
	integer     = jsonschema.Schema{"type": "integer"}
	intOrNull   = jsonschema.Schema{"type": []any{"integer", "null"}}
	boolean     = jsonschema.Schema{"type": "boolean"}
	boolOrNull  = jsonschema.Schema{"type": []any{"boolean", "null"}}
	stringArray = jsonschema.Schema{"type": "array", "items": str}
	objectOrAny = jsonschema.Schema{"type": "object"}
)

// fixedIPsSchema is a list of {subnet_id, ip_address}.
var fixedIPsSchema = jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
	"properties": jsonschema.Schema{"subnet_id": str, "ip_address": str}, "additionalProperties": false}}

// standardProperties are the standard attributes (id, project, description, tags,
// timestamps, revision).
func standardProperties() jsonschema.Schema {
	return jsonschema.Schema{"id": str, "name": str, "description": str, "project_id": str, "tenant_id": str,
		"tags": stringArray, "created_at": str, "updated_at": str, "revision_number": integer}
}

func with(base jsonschema.Schema, extra jsonschema.Schema) jsonschema.Schema {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

func without(base jsonschema.Schema, keys ...string) jsonschema.Schema {
	out := maps.Clone(base)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// resourceSchemas is one resource's properties and the keys a caller may not be
// shown (policed per attribute), which are never required.
type resourceSchemas struct {
	member, collection string
	properties         jsonschema.Schema
	policed            []string
}

// object is the resource's schema; full requires every key but the policed ones.
func (rs resourceSchemas) object(full bool) jsonschema.Schema {
	o := jsonschema.Schema{"type": "object", "properties": rs.properties, "additionalProperties": false}
	if full {
		var required []any
		for _, k := range slices.Sorted(maps.Keys(rs.properties)) {
			if !slices.Contains(rs.policed, k) {
				required = append(required, k)
			}
		}
		o["required"] = required
	}
	return o
}

func (rs resourceSchemas) one(full bool) jsonschema.Schema {
	return jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{rs.member: rs.object(full)},
		"required": []any{rs.member}, "additionalProperties": false}
}

func (rs resourceSchemas) list() jsonschema.Schema {
	return jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{
		rs.collection:            jsonschema.Schema{"type": "array", "items": rs.object(false)},
		rs.collection + "_links": jsonschema.Schema{"type": "array"},
	}, "required": []any{rs.collection}, "additionalProperties": false}
}

var networkSchemas = resourceSchemas{member: "network", collection: "networks",
	properties: with(standardProperties(), jsonschema.Schema{
		"admin_state_up": boolean, "status": str, "shared": boolean, "router:external": boolean, "mtu": integer,
		"port_security_enabled": boolean, "provider:network_type": str, "provider:physical_network": strOrNull,
		"provider:segmentation_id": intOrNull, "availability_zone_hints": stringArray, "availability_zones": stringArray,
		"dns_domain": str, "is_default": boolean, "subnets": stringArray, "ipv4_address_scope": strOrNull,
		"ipv6_address_scope": strOrNull, "l2_adjacency": boolean}),
	policed: []string{"provider:network_type", "provider:physical_network", "provider:segmentation_id"}}

var subnetSchemas = resourceSchemas{member: "subnet", collection: "subnets",
	properties: with(standardProperties(), jsonschema.Schema{
		"network_id": str, "ip_version": integer, "cidr": str, "gateway_ip": strOrNull, "enable_dhcp": boolean,
		"allocation_pools": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
			"properties": jsonschema.Schema{"start": str, "end": str}, "required": []any{"start", "end"}, "additionalProperties": false}},
		"dns_nameservers": stringArray,
		"host_routes": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
			"properties": jsonschema.Schema{"destination": str, "nexthop": str}, "additionalProperties": false}},
		"ipv6_ra_mode": strOrNull, "ipv6_address_mode": strOrNull, "subnetpool_id": strOrNull, "segment_id": strOrNull,
		"service_types": stringArray, "dns_publish_fixed_ip": boolean}),
	policed: []string{"segment_id"}}

var portSchemas = resourceSchemas{member: "port", collection: "ports",
	properties: with(standardProperties(), jsonschema.Schema{
		"network_id": str, "admin_state_up": boolean, "status": str, "mac_address": str, "device_id": str,
		"device_owner": str, "fixed_ips": fixedIPsSchema,
		"allowed_address_pairs": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
			"properties": jsonschema.Schema{"ip_address": str, "mac_address": str}, "additionalProperties": false}},
		"security_groups": stringArray, "port_security_enabled": boolean, "binding:host_id": str, "binding:vif_type": str,
		"binding:vif_details": objectOrAny, "binding:vnic_type": str, "binding:profile": objectOrAny, "dns_name": str,
		"dns_assignment": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
			"properties": jsonschema.Schema{"hostname": str, "ip_address": str, "fqdn": str}, "additionalProperties": false}},
		"extra_dhcp_opts": jsonschema.Schema{"type": "array"}, "propagate_uplink_status": boolean, "ip_allocation": str,
		"trusted": boolOrNull,
		"trunk_details": jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"trunk_id": str,
			"sub_ports": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{
				"port_id": str, "segmentation_type": str, "segmentation_id": integer, "mac_address": str}, "additionalProperties": false}}},
			"required": []any{"trunk_id", "sub_ports"}, "additionalProperties": false}}),
	// trusted is shown where the binding profile holds it; trunk_details on trunk parents.
	policed: []string{"binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile", "trusted", "trunk_details"}}

var routerSchemas = resourceSchemas{member: "router", collection: "routers",
	properties: with(standardProperties(), jsonschema.Schema{
		"admin_state_up": boolean, "status": str,
		"external_gateway_info": jsonschema.Schema{"type": []any{"object", "null"}, "properties": jsonschema.Schema{
			"network_id": str, "enable_snat": boolean, "external_fixed_ips": fixedIPsSchema}, "additionalProperties": false},
		"routes": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
			"properties": jsonschema.Schema{"destination": str, "nexthop": str}, "additionalProperties": false}},
		"distributed": boolean, "ha": boolean, "availability_zone_hints": stringArray, "availability_zones": stringArray,
		"flavor_id": strOrNull}),
	policed: []string{"distributed", "ha", "flavor_id"}}

var floatingIPSchemas = resourceSchemas{member: "floatingip", collection: "floatingips",
	properties: with(without(standardProperties(), "name"), jsonschema.Schema{
		"floating_network_id": str, "floating_ip_address": str, "fixed_ip_address": strOrNull, "port_id": strOrNull,
		"router_id": strOrNull, "status": str, "dns_name": str, "dns_domain": str,
		"port_details": jsonschema.Schema{"type": []any{"object", "null"}, "properties": jsonschema.Schema{
			"name": str, "network_id": str, "mac_address": str, "admin_state_up": boolean, "status": str, "device_id": str,
			"device_owner": str}, "additionalProperties": false}})}

var ruleProperties = with(without(standardProperties(), "name", "tags"), jsonschema.Schema{
	"security_group_id": str, "direction": str, "ethertype": str, "protocol": strOrNull, "port_range_min": intOrNull,
	"port_range_max": intOrNull, "remote_ip_prefix": strOrNull, "remote_group_id": strOrNull,
	"remote_address_group_id": strOrNull, "normalized_cidr": strOrNull})

var ruleSchemas = resourceSchemas{member: "security_group_rule", collection: "security_group_rules", properties: ruleProperties}

var securityGroupSchemas = resourceSchemas{member: "security_group", collection: "security_groups",
	properties: with(standardProperties(), jsonschema.Schema{"stateful": boolean,
		"security_group_rules": jsonschema.Schema{"type": "array", "items": ruleSchemas.object(true)}})}

var subnetPoolSchemas = resourceSchemas{member: "subnetpool", collection: "subnetpools",
	properties: with(standardProperties(), jsonschema.Schema{
		"prefixes": stringArray, "ip_version": integer, "default_prefixlen": integer, "min_prefixlen": integer,
		"max_prefixlen": integer, "default_quota": intOrNull, "is_default": boolean, "shared": boolean,
		"address_scope_id": strOrNull})}

var addressScopeSchemas = resourceSchemas{member: "address_scope", collection: "address_scopes",
	properties: jsonschema.Schema{"id": str, "name": str, "project_id": str, "tenant_id": str, "shared": boolean, "ip_version": integer}}

var addressGroupSchemas = resourceSchemas{member: "address_group", collection: "address_groups",
	properties: with(without(standardProperties(), "tags"), jsonschema.Schema{"addresses": stringArray})}

var subPortsSchema = jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{
	"port_id": str, "segmentation_type": str, "segmentation_id": integer},
	"required": []any{"port_id", "segmentation_type", "segmentation_id"}, "additionalProperties": false}}

var trunkSchemas = resourceSchemas{member: "trunk", collection: "trunks",
	properties: with(standardProperties(), jsonschema.Schema{"admin_state_up": boolean, "port_id": str, "status": str,
		"sub_ports": subPortsSchema})}

var tagsSchema = jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"tags": stringArray},
	"required": []any{"tags"}, "additionalProperties": false}

// noContent is the answer of a delete (neutron's Resource: action_status
// delete=204): no body.
var noContent = map[int]jsonschema.Schema{http.StatusNoContent: nil}

// crudSchemas are the response schemas of a resource's five routes, keyed by
// method and path.
func crudSchemas(base string, rs resourceSchemas) map[string]map[int]jsonschema.Schema {
	return map[string]map[int]jsonschema.Schema{
		"GET " + base:              {http.StatusOK: rs.list()},
		"POST " + base:             {http.StatusCreated: rs.one(true)},
		"GET " + base + "/{id}":    {http.StatusOK: rs.one(false)},
		"PUT " + base + "/{id}":    {http.StatusOK: rs.one(true)},
		"DELETE " + base + "/{id}": noContent,
	}
}

// responseSchemas are the response schemas of the routes, by "METHOD path".
func responseSchemas() map[string]map[int]jsonschema.Schema {
	all := map[string]map[int]jsonschema.Schema{}
	for base, rs := range map[string]resourceSchemas{
		"/v2.0/networks": networkSchemas, "/v2.0/subnets": subnetSchemas, "/v2.0/ports": portSchemas,
		"/v2.0/routers": routerSchemas, "/v2.0/floatingips": floatingIPSchemas, "/v2.0/security-groups": securityGroupSchemas,
		"/v2.0/security-group-rules": ruleSchemas, "/v2.0/subnetpools": subnetPoolSchemas,
		"/v2.0/address-scopes": addressScopeSchemas, "/v2.0/address-groups": addressGroupSchemas, "/v2.0/trunks": trunkSchemas,
	} {
		maps.Copy(all, crudSchemas(base, rs))
	}
	for _, collection := range []string{"networks", "subnets", "ports", "routers", "security-groups", "floatingips", "subnetpools", "trunks"} {
		base := "/v2.0/" + collection + "/{id}/tags"
		all["GET "+base] = map[int]jsonschema.Schema{http.StatusOK: tagsSchema}
		all["PUT "+base] = map[int]jsonschema.Schema{http.StatusOK: tagsSchema}
		// neutron/extensions/tagging.py's action_status: show 204, update (one
		// tag) 201 whether or not the resource had it, delete and delete_all 204.
		all["DELETE "+base] = noContent
		all["GET "+base+"/{tag}"] = noContent
		all["PUT "+base+"/{tag}"] = map[int]jsonschema.Schema{http.StatusCreated: nil}
		all["DELETE "+base+"/{tag}"] = noContent
	}
	maps.Copy(all, quotaSchemas())
	maps.Copy(all, portBindingSchemas())
	maps.Copy(all, discoverySchemas())
	prefixes := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"prefixes": stringArray},
		"required": []any{"prefixes"}, "additionalProperties": false}
	all["PUT /v2.0/subnetpools/{id}/add_prefixes"] = map[int]jsonschema.Schema{http.StatusOK: prefixes}
	all["PUT /v2.0/subnetpools/{id}/remove_prefixes"] = map[int]jsonschema.Schema{http.StatusOK: prefixes}
	all["PUT /v2.0/address-groups/{id}/add_addresses"] = map[int]jsonschema.Schema{http.StatusOK: addressGroupSchemas.one(true)}
	all["PUT /v2.0/address-groups/{id}/remove_addresses"] = map[int]jsonschema.Schema{http.StatusOK: addressGroupSchemas.one(true)}
	all["PUT /v2.0/trunks/{id}/add_subports"] = map[int]jsonschema.Schema{http.StatusOK: trunkSchemas.object(true)}
	all["PUT /v2.0/trunks/{id}/remove_subports"] = map[int]jsonschema.Schema{http.StatusOK: trunkSchemas.object(true)}
	all["GET /v2.0/trunks/{id}/get_subports"] = map[int]jsonschema.Schema{http.StatusOK: jsonschema.Schema{"type": "object",
		"properties": jsonschema.Schema{"sub_ports": subPortsSchema}, "required": []any{"sub_ports"}, "additionalProperties": false}}
	interfaceInfo := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"id": str, "tenant_id": str, "project_id": str,
		"port_id": str, "subnet_id": str, "subnet_ids": stringArray, "network_id": str}, "additionalProperties": false,
		"required": []any{"id", "tenant_id", "project_id", "port_id", "subnet_id", "subnet_ids", "network_id"}}
	all["PUT /v2.0/routers/{id}/add_router_interface"] = map[int]jsonschema.Schema{http.StatusOK: interfaceInfo}
	all["PUT /v2.0/routers/{id}/remove_router_interface"] = map[int]jsonschema.Schema{http.StatusOK: interfaceInfo}
	all["PUT /v2.0/routers/{id}/add_extraroutes"] = map[int]jsonschema.Schema{http.StatusOK: routerSchemas.one(true)}
	all["PUT /v2.0/routers/{id}/remove_extraroutes"] = map[int]jsonschema.Schema{http.StatusOK: routerSchemas.one(true)}
	maps.Copy(all, crudSchemas("/v2.0/agents", agentSchemas))
	extension := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"alias": str, "name": str, "description": str,
		"updated": str, "links": jsonschema.Schema{"type": "array"}}, "required": []any{"alias", "name", "description", "updated", "links"},
		"additionalProperties": false}
	all["GET /v2.0/extensions"] = map[int]jsonschema.Schema{http.StatusOK: jsonschema.Schema{"type": "object",
		"properties": jsonschema.Schema{"extensions": jsonschema.Schema{"type": "array", "items": extension}},
		"required":   []any{"extensions"}, "additionalProperties": false}}
	all["GET /v2.0/extensions/{alias}"] = map[int]jsonschema.Schema{http.StatusOK: jsonschema.Schema{"type": "object",
		"properties": jsonschema.Schema{"extension": extension}, "required": []any{"extension"}, "additionalProperties": false}}
	zone := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"name": str, "resource": str, "state": str},
		"additionalProperties": false}
	all["GET /v2.0/availability_zones"] = map[int]jsonschema.Schema{http.StatusOK: jsonschema.Schema{"type": "object",
		"properties": jsonschema.Schema{"availability_zones": jsonschema.Schema{"type": "array", "items": zone},
			"availability_zones_links": jsonschema.Schema{"type": "array"}}, "required": []any{"availability_zones"}, "additionalProperties": false}}
	subnetAvailability := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"subnet_id": str, "subnet_name": str,
		"cidr": str, "ip_version": integer, "total_ips": integer, "used_ips": integer}, "additionalProperties": false}
	availability := resourceSchemas{member: "network_ip_availability", collection: "network_ip_availabilities", properties: jsonschema.Schema{
		"network_id": str, "network_name": str, "project_id": str, "tenant_id": str, "total_ips": integer, "used_ips": integer,
		"subnet_ip_availability": jsonschema.Schema{"type": "array", "items": subnetAvailability}}}
	all["GET /v2.0/network-ip-availabilities"] = map[int]jsonschema.Schema{http.StatusOK: availability.list()}
	all["GET /v2.0/network-ip-availabilities/{id}"] = map[int]jsonschema.Schema{http.StatusOK: availability.one(false)}
	return all
}

// agentSchemas are an agent's keys (the agent extension's api-ref).
var agentSchemas = resourceSchemas{member: "agent", collection: "agents", properties: jsonschema.Schema{
	"id": str, "agent_type": str, "binary": str, "host": str, "topic": str, "admin_state_up": boolean, "description": strOrNull,
	"configurations": objectOrAny, "created_at": str, "started_at": str, "heartbeat_timestamp": str,
	"availability_zone": strOrNull, "resource_versions": objectOrAny, "alive": boolean, "ha_state": strOrNull,
	"resources_synced": boolOrNull}}

// withResponseSchemas attaches the response schemas to the routes they describe.
func withResponseSchemas(routes []httpapi.Route) []httpapi.Route {
	schemas := responseSchemas()
	for i := range routes {
		if rs, ok := schemas[routes[i].Method+" "+routes[i].Path]; ok && len(rs) > 0 {
			routes[i].Schemas = append(routes[i].Schemas, httpapi.Schema{Responses: rs})
		}
	}
	return routes
}

// quotaLimits are a project's limits by resource (neutron's quotasv2 and the
// api-ref's quotas parameters): integers, -1 for unlimited.
var quotaLimits = jsonschema.Schema{"network": integer, "subnet": integer, "port": integer, "router": integer,
	"floatingip": integer, "security_group": integer, "security_group_rule": integer, "subnetpool": integer,
	"rbac_policy": integer}

// quotaSchemas are the quotas extension's answers (neutron/extensions/quotasv2.py
// and quotasv2_detail.py): list, show, default, details, update, and a delete's
// 204.
func quotaSchemas() map[string]map[int]jsonschema.Schema {
	quota := jsonschema.Schema{"type": "object", "properties": quotaLimits, "additionalProperties": false}
	one := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"quota": quota},
		"required": []any{"quota"}, "additionalProperties": false}
	listed := jsonschema.Schema{"type": "object", "properties": with(quotaLimits, jsonschema.Schema{"project_id": str, "tenant_id": str}),
		"required": []any{"project_id"}, "additionalProperties": false}
	list := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"quotas": jsonschema.Schema{"type": "array", "items": listed}},
		"required": []any{"quotas"}, "additionalProperties": false}
	usage := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"limit": integer, "used": integer, "reserved": integer},
		"required": []any{"limit", "used", "reserved"}, "additionalProperties": false}
	detailProperties := jsonschema.Schema{}
	for res := range quotaLimits {
		detailProperties[res] = usage
	}
	details := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"quota": jsonschema.Schema{"type": "object",
		"properties": detailProperties, "additionalProperties": false}}, "required": []any{"quota"}, "additionalProperties": false}
	return map[string]map[int]jsonschema.Schema{
		"GET /v2.0/quotas":                           {http.StatusOK: list},
		"GET /v2.0/quotas/{project_id}":              {http.StatusOK: one},
		"GET /v2.0/quotas/{project_id}/default":      {http.StatusOK: one},
		"GET /v2.0/quotas/{project_id}/details.json": {http.StatusOK: details},
		"GET /v2.0/quotas/{project_id}/details":      {http.StatusOK: details},
		"PUT /v2.0/quotas/{project_id}":              {http.StatusOK: one},
		"DELETE /v2.0/quotas/{project_id}":           noContent,
	}
}

// discoverySchemas are the version documents: GET / (neutron/api/versions.py,
// 200 with the one version) and GET /v2.0 (neutron/api/v2/router.py's index of
// resources).
func discoverySchemas() map[string]map[int]jsonschema.Schema {
	link := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"rel": str, "href": str},
		"required": []any{"rel", "href"}, "additionalProperties": false}
	links := jsonschema.Schema{"type": "array", "items": link}
	version := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"id": str, "status": str, "links": links},
		"required": []any{"id", "status", "links"}, "additionalProperties": false}
	versions := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"versions": jsonschema.Schema{"type": "array", "items": version}},
		"required": []any{"versions"}, "additionalProperties": false}
	resource := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"name": str, "collection": str, "links": links},
		"required": []any{"name", "collection", "links"}, "additionalProperties": false}
	resources := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"resources": jsonschema.Schema{"type": "array", "items": resource}},
		"required": []any{"resources"}, "additionalProperties": false}
	return map[string]map[int]jsonschema.Schema{
		"GET /{$}":      {http.StatusOK: versions},
		"GET /v2.0":     {http.StatusOK: resources},
		"GET /v2.0/{$}": {http.StatusOK: resources},
	}
}
