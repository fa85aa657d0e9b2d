package volume

import (
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The response schemas of every route, as upstream's API reference (and
// Tempest's volume response schemas) define the bodies: the end-to-end
// tests hold every answer to them (api.check_responses).

func obj(required []string, props map[string]any) jsonschema.Schema {
	req := make([]any, 0, len(required))
	for _, r := range required {
		req = append(req, r)
	}
	return jsonschema.Schema{"type": "object", "required": req, "properties": props}
}

var (
	anyObject   = jsonschema.Schema{"type": "object"}
	stringOrNil = map[string]any{"type": []any{"string", "null"}}
	linksSchema = map[string]any{"type": "array", "items": obj([]string{"rel", "href"}, map[string]any{
		"rel": map[string]any{"type": "string"}, "href": map[string]any{"type": "string"}})}
	stringMap = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}

	volumeBody = obj([]string{"id", "status", "size", "availability_zone", "created_at", "updated_at", "name",
		"description", "volume_type", "snapshot_id", "source_volid", "metadata", "links", "user_id", "bootable",
		"encrypted", "replication_status", "consistencygroup_id", "multiattach", "attachments"}, map[string]any{
		"id": map[string]any{"type": "string", "format": "uuid"}, "status": map[string]any{"type": "string"},
		"size": map[string]any{"type": "integer"}, "availability_zone": stringOrNil,
		"created_at": map[string]any{"type": "string"}, "updated_at": stringOrNil, "name": stringOrNil,
		"description": stringOrNil, "volume_type": stringOrNil, "snapshot_id": stringOrNil, "source_volid": stringOrNil,
		"metadata": stringMap, "links": linksSchema, "user_id": map[string]any{"type": "string"},
		"bootable":  map[string]any{"type": "string", "enum": []any{"true", "false"}},
		"encrypted": map[string]any{"type": "boolean"}, "replication_status": stringOrNil,
		"consistencygroup_id": stringOrNil, "multiattach": map[string]any{"type": "boolean"},
		"attachments": map[string]any{"type": "array", "items": obj([]string{"id", "attachment_id", "volume_id",
			"server_id", "host_name", "device", "attached_at"}, nil)},
		"volume_image_metadata": stringMap,
	})
	volumeBrief = obj([]string{"id", "name", "links"}, map[string]any{"id": map[string]any{"type": "string"},
		"name": stringOrNil, "links": linksSchema})
	volumeOne  = obj([]string{"volume"}, map[string]any{"volume": volumeBody})
	volumeList = func(item jsonschema.Schema) jsonschema.Schema {
		return obj([]string{"volumes"}, map[string]any{"volumes": map[string]any{"type": "array", "items": item},
			"volumes_links": linksSchema, "count": map[string]any{"type": "integer"}})
	}
	typeBodySchema = obj([]string{"id", "name", "is_public", "description"}, map[string]any{
		"id": map[string]any{"type": "string"}, "name": map[string]any{"type": "string"},
		"is_public": map[string]any{"type": "boolean"}, "description": stringOrNil, "extra_specs": stringMap,
		"os-volume-type-access:is_public": map[string]any{"type": "boolean"}})
	typeOne  = obj([]string{"volume_type"}, map[string]any{"volume_type": typeBodySchema})
	typeList = obj([]string{"volume_types"}, map[string]any{"volume_types": map[string]any{"type": "array",
		"items": typeBodySchema}})
	extraSpecs             = obj([]string{"extra_specs"}, map[string]any{"extra_specs": stringMap})
	attachmentDetailSchema = obj([]string{"id", "status", "instance", "volume_id", "attached_at", "detached_at",
		"attach_mode", "connection_info"}, map[string]any{"id": map[string]any{"type": "string"},
		"status": map[string]any{"type": "string"}, "instance": stringOrNil, "volume_id": map[string]any{"type": "string"},
		"attach_mode": stringOrNil, "connection_info": map[string]any{"type": []any{"object", "null"}}})
	attachmentBrief      = obj([]string{"id", "status", "instance", "volume_id"}, nil)
	attachmentListSchema = func(item jsonschema.Schema) jsonschema.Schema {
		return obj([]string{"attachments"}, map[string]any{"attachments": map[string]any{"type": "array", "items": item}})
	}
	quotaSetSchema = obj([]string{"quota_set"}, map[string]any{"quota_set": obj([]string{"volumes", "snapshots",
		"gigabytes", "backups", "backup_gigabytes", "per_volume_gigabytes", "groups"}, nil)})
	limitsSchema = obj([]string{"limits"}, map[string]any{"limits": obj([]string{"rate", "absolute"}, map[string]any{
		"rate": map[string]any{"type": "array"}, "absolute": obj([]string{"maxTotalVolumes", "maxTotalSnapshots",
			"maxTotalVolumeGigabytes", "maxTotalBackups", "maxTotalBackupGigabytes"}, nil)})})
	versionsSchema = obj([]string{"versions"}, map[string]any{"versions": map[string]any{"type": "array",
		"items": obj([]string{"id", "status", "version", "min_version", "updated", "links", "media-types"}, nil)}})
	nullOrObject = jsonschema.Schema{"type": []any{"object", "null"}}
)

// routeResponses are the responses of every route by "METHOD PATH".
var routeResponses = map[string]map[int]jsonschema.Schema{
	"GET /{$}":                                      {300: versionsSchema},
	"GET /v3":                                       {302: nil},
	"GET /v3/{$}":                                   {200: versionsSchema},
	"POST /v3/volumes":                              {202: volumeOne},
	"GET /v3/volumes":                               {200: volumeList(volumeBrief)},
	"GET /v3/volumes/detail":                        {200: volumeList(volumeBody)},
	"GET /v3/volumes/summary":                       {200: obj([]string{"volume-summary"}, map[string]any{"volume-summary": obj([]string{"total_count", "total_size"}, nil)})},
	"GET /v3/volumes/{volume_id}":                   {200: volumeOne},
	"PUT /v3/volumes/{volume_id}":                   {200: volumeOne},
	"DELETE /v3/volumes/{volume_id}":                {202: nil},
	"POST /v3/volumes/{volume_id}/action":           {200: nullOrObject, 202: nullOrObject},
	"GET /v3/volumes/{volume_id}/metadata":          {200: obj([]string{"metadata"}, map[string]any{"metadata": stringMap})},
	"POST /v3/volumes/{volume_id}/metadata":         {200: obj([]string{"metadata"}, map[string]any{"metadata": stringMap})},
	"PUT /v3/volumes/{volume_id}/metadata":          {200: obj([]string{"metadata"}, map[string]any{"metadata": stringMap})},
	"GET /v3/volumes/{volume_id}/metadata/{key}":    {200: obj([]string{"meta"}, map[string]any{"meta": stringMap})},
	"PUT /v3/volumes/{volume_id}/metadata/{key}":    {200: obj([]string{"meta"}, map[string]any{"meta": stringMap})},
	"DELETE /v3/volumes/{volume_id}/metadata/{key}": {200: nil},
	"GET /v3/types":                                 {200: typeList},
	"POST /v3/types":                                {200: typeOne},
	"GET /v3/types/{type_id}":                       {200: typeOne},
	"PUT /v3/types/{type_id}":                       {200: typeOne},
	"DELETE /v3/types/{type_id}":                    {202: nil},
	"GET /v3/types/{type_id}/extra_specs":           {200: extraSpecs},
	"POST /v3/types/{type_id}/extra_specs":          {200: extraSpecs},
	"GET /v3/types/{type_id}/extra_specs/{key}":     {200: stringMap},
	"PUT /v3/types/{type_id}/extra_specs/{key}":     {200: stringMap},
	"DELETE /v3/types/{type_id}/extra_specs/{key}":  {202: nil},
	"GET /v3/types/{type_id}/os-volume-type-access": {200: obj([]string{"volume_type_access"}, map[string]any{
		"volume_type_access": map[string]any{"type": "array", "items": obj([]string{"volume_type_id", "project_id"}, nil)}})},
	"POST /v3/types/{type_id}/action":             {202: nil},
	"POST /v3/attachments":                        {200: obj([]string{"attachment"}, map[string]any{"attachment": attachmentDetailSchema})},
	"GET /v3/attachments":                         {200: attachmentListSchema(attachmentBrief)},
	"GET /v3/attachments/detail":                  {200: attachmentListSchema(attachmentDetailSchema)},
	"GET /v3/attachments/{attachment_id}":         {200: obj([]string{"attachment"}, map[string]any{"attachment": attachmentDetailSchema})},
	"PUT /v3/attachments/{attachment_id}":         {200: obj([]string{"attachment"}, map[string]any{"attachment": attachmentDetailSchema})},
	"DELETE /v3/attachments/{attachment_id}":      {200: attachmentListSchema(attachmentBrief)},
	"POST /v3/attachments/{attachment_id}/action": {204: nil},
	"GET /v3/os-quota-sets/{target}":              {200: quotaSetSchema},
	"GET /v3/os-quota-sets/{target}/defaults":     {200: quotaSetSchema},
	"PUT /v3/os-quota-sets/{target}":              {200: quotaSetSchema},
	"DELETE /v3/os-quota-sets/{target}":           {200: nil},
	"GET /v3/limits":                              {200: limitsSchema},
}

// RegisterResponses adds the response schemas of routes other files of the
// package declare (snapshots, backups), by "METHOD PATH".
func RegisterResponses(responses map[string]map[int]jsonschema.Schema) {
	for k, v := range responses {
		routeResponses[k] = v
	}
}

// withResponses puts each route's response schemas in every version range
// of its Schemas (one range covering all versions when it has none).
func withResponses(routes []httpapi.Route) []httpapi.Route {
	for i, rt := range routes {
		responses, ok := routeResponses[rt.Method+" "+rt.Path]
		if !ok {
			continue
		}
		if len(rt.Schemas) == 0 {
			routes[i].Schemas = []httpapi.Schema{{Responses: responses}}
			continue
		}
		schemas := make([]httpapi.Schema, len(rt.Schemas))
		for j, sc := range rt.Schemas {
			sc.Responses = responses
			schemas[j] = sc
		}
		routes[i].Schemas = schemas
	}
	return routes
}
