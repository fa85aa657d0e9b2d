package volume

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The answers of the snapshot, backup, zone, service and pool routes, as
// upstream's api-ref (and Tempest's volume response schemas) define them:
// each body's keys and their types, every key a microversion or a policy
// may add listed, the base keys required. Attached to the routes
// (withSnapshotBackupResponses), they are checked when the service is told to
// (Options.CheckResponses).

var (
	rsString     = jsonschema.Schema{"type": "string"}
	rsStringNull = jsonschema.Schema{"type": []any{"string", "null"}}
	rsInteger    = jsonschema.Schema{"type": "integer"}
	rsBoolean    = jsonschema.Schema{"type": "boolean"}
	rsObject     = jsonschema.Schema{"type": "object"}
	rsStringMap  = jsonschema.Schema{"type": "object", "additionalProperties": rsString}
	rsLinks      = jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object",
		"properties": jsonschema.Schema{"rel": rsString, "href": rsString}, "required": []any{"rel", "href"}}}
)

func rsObjectOf(props jsonschema.Schema, required ...string) jsonschema.Schema {
	req := make([]any, 0, len(required))
	for _, r := range required {
		req = append(req, r)
	}
	return jsonschema.Schema{"type": "object", "properties": props, "required": req, "additionalProperties": false}
}

var rsSnapshot = rsObjectOf(jsonschema.Schema{
	"id": rsString, "created_at": rsString, "updated_at": rsStringNull, "name": rsStringNull,
	"description": rsStringNull, "volume_id": rsString, "status": rsString, "size": rsInteger, "metadata": rsStringMap,
	"group_snapshot_id": rsStringNull, "user_id": rsString, "consumes_quota": rsBoolean,
	"os-extended-snapshot-attributes:project_id": rsString, "os-extended-snapshot-attributes:progress": rsStringNull,
}, "id", "created_at", "updated_at", "name", "description", "volume_id", "status", "size", "metadata")

var rsBackupSummary = rsObjectOf(jsonschema.Schema{"id": rsString, "name": rsStringNull, "links": rsLinks},
	"id", "name", "links")

var rsBackup = rsObjectOf(jsonschema.Schema{
	"id": rsString, "status": rsString, "size": rsInteger, "object_count": rsInteger,
	"availability_zone": rsStringNull, "container": rsStringNull, "created_at": rsString, "updated_at": rsStringNull,
	"name": rsStringNull, "description": rsStringNull, "fail_reason": rsStringNull, "volume_id": rsString,
	"links": rsLinks, "is_incremental": rsBoolean, "has_dependent_backups": rsBoolean, "snapshot_id": rsStringNull,
	"data_timestamp": rsStringNull, "metadata": rsStringMap, "os-backup-project-attr:project_id": rsString,
	"user_id": rsString, "encryption_key_id": rsStringNull,
}, "id", "status", "size", "object_count", "availability_zone", "container", "created_at", "updated_at", "name",
	"description", "fail_reason", "volume_id", "links", "is_incremental", "has_dependent_backups", "snapshot_id",
	"data_timestamp")

// rsList is a collection with its optional next link and count.
func rsList(key string, item jsonschema.Schema) jsonschema.Schema {
	return rsObjectOf(jsonschema.Schema{key: jsonschema.Schema{"type": "array", "items": item},
		key + "_links": rsLinks, "count": rsInteger}, key)
}

func rsOne(key string, item jsonschema.Schema) jsonschema.Schema {
	return rsObjectOf(jsonschema.Schema{key: item}, key)
}

var rsMetadata = rsObjectOf(jsonschema.Schema{"metadata": rsStringMap}, "metadata")

var rsService = rsObjectOf(jsonschema.Schema{
	"binary": rsString, "host": rsString, "zone": rsString, "status": rsString, "state": rsString,
	"updated_at": rsStringNull, "disabled_reason": rsStringNull, "replication_status": rsStringNull,
	"active_backend_id": rsStringNull, "frozen": rsBoolean, "backend_state": rsStringNull, "cluster": rsStringNull,
}, "binary", "host", "zone", "status", "state", "updated_at")

var rsQos = rsObjectOf(jsonschema.Schema{"id": rsString, "name": rsString, "consumer": rsString, "specs": rsStringMap},
	"id", "name", "consumer", "specs")

// snapshotBackupResponses are the answers by "METHOD path" and status; a nil
// schema is a status answered without a body.
var snapshotBackupResponses = map[string]map[int]jsonschema.Schema{
	"POST /v3/snapshots":                                {http.StatusAccepted: rsOne("snapshot", rsSnapshot)},
	"GET /v3/snapshots":                                 {http.StatusOK: rsList("snapshots", rsSnapshot)},
	"GET /v3/snapshots/detail":                          {http.StatusOK: rsList("snapshots", rsSnapshot)},
	"GET /v3/snapshots/{snapshot_id}":                   {http.StatusOK: rsOne("snapshot", rsSnapshot)},
	"PUT /v3/snapshots/{snapshot_id}":                   {http.StatusOK: rsOne("snapshot", rsSnapshot)},
	"DELETE /v3/snapshots/{snapshot_id}":                {http.StatusAccepted: nil},
	"POST /v3/snapshots/{snapshot_id}/action":           {http.StatusAccepted: nil},
	"GET /v3/snapshots/{snapshot_id}/metadata":          {http.StatusOK: rsMetadata},
	"POST /v3/snapshots/{snapshot_id}/metadata":         {http.StatusOK: rsMetadata},
	"PUT /v3/snapshots/{snapshot_id}/metadata":          {http.StatusOK: rsMetadata},
	"GET /v3/snapshots/{snapshot_id}/metadata/{key}":    {http.StatusOK: rsObjectOf(jsonschema.Schema{"meta": rsStringMap}, "meta")},
	"PUT /v3/snapshots/{snapshot_id}/metadata/{key}":    {http.StatusOK: rsObjectOf(jsonschema.Schema{"meta": rsStringMap}, "meta")},
	"DELETE /v3/snapshots/{snapshot_id}/metadata/{key}": {http.StatusOK: nil},

	"POST /v3/backups":                     {http.StatusAccepted: rsOne("backup", rsBackupSummary)},
	"GET /v3/backups":                      {http.StatusOK: rsList("backups", rsBackupSummary)},
	"GET /v3/backups/detail":               {http.StatusOK: rsList("backups", rsBackup)},
	"GET /v3/backups/{backup_id}":          {http.StatusOK: rsOne("backup", rsBackup)},
	"PUT /v3/backups/{backup_id}":          {http.StatusOK: rsOne("backup", rsBackupSummary)},
	"DELETE /v3/backups/{backup_id}":       {http.StatusAccepted: nil},
	"POST /v3/backups/{backup_id}/action":  {http.StatusAccepted: nil},
	"POST /v3/backups/{backup_id}/restore": {http.StatusAccepted: rsOne("restore", rsObjectOf(jsonschema.Schema{"backup_id": rsString, "volume_id": rsString, "volume_name": rsStringNull}, "backup_id", "volume_id", "volume_name"))},

	"GET /v3/os-availability-zone": {http.StatusOK: rsObjectOf(jsonschema.Schema{"availabilityZoneInfo": jsonschema.Schema{
		"type": "array", "items": rsObjectOf(jsonschema.Schema{"zoneName": rsString,
			"zoneState": rsObjectOf(jsonschema.Schema{"available": rsBoolean}, "available")}, "zoneName", "zoneState")}},
		"availabilityZoneInfo")},
	"GET /v3/os-services":                         {http.StatusOK: rsObjectOf(jsonschema.Schema{"services": jsonschema.Schema{"type": "array", "items": rsService}}, "services")},
	"PUT /v3/os-services/enable":                  {http.StatusOK: rsObject},
	"PUT /v3/os-services/disable":                 {http.StatusOK: rsObject},
	"PUT /v3/os-services/disable-log-reason":      {http.StatusOK: rsObject},
	"GET /v3/qos-specs":                           {http.StatusOK: rsList("qos_specs", rsQos)},
	"POST /v3/qos-specs":                          {http.StatusOK: rsObjectOf(jsonschema.Schema{"qos_specs": rsQos, "links": rsLinks}, "qos_specs", "links")},
	"GET /v3/qos-specs/{qos_id}":                  {http.StatusOK: rsObjectOf(jsonschema.Schema{"qos_specs": rsQos, "links": rsLinks}, "qos_specs", "links")},
	"PUT /v3/qos-specs/{qos_id}":                  {http.StatusOK: rsObjectOf(jsonschema.Schema{"qos_specs": rsObject}, "qos_specs")},
	"DELETE /v3/qos-specs/{qos_id}":               {http.StatusAccepted: nil},
	"PUT /v3/qos-specs/{qos_id}/delete_keys":      {http.StatusAccepted: nil},
	"GET /v3/qos-specs/{qos_id}/associations":     {http.StatusOK: rsObjectOf(jsonschema.Schema{"qos_associations": jsonschema.Schema{"type": "array", "items": rsObjectOf(jsonschema.Schema{"association_type": rsString, "name": rsString, "id": rsString}, "association_type", "name", "id")}}, "qos_associations")},
	"GET /v3/qos-specs/{qos_id}/associate":        {http.StatusAccepted: nil},
	"GET /v3/qos-specs/{qos_id}/disassociate":     {http.StatusAccepted: nil},
	"GET /v3/qos-specs/{qos_id}/disassociate_all": {http.StatusAccepted: nil},
	"GET /v3/scheduler-stats/get_pools": {http.StatusOK: rsObjectOf(jsonschema.Schema{"pools": jsonschema.Schema{"type": "array",
		"items": rsObjectOf(jsonschema.Schema{"name": rsString, "capabilities": rsObject}, "name")}}, "pools")},
}

// withSnapshotBackupResponses puts each route's answers into every one of its schemas (the
// server reads the schema that covers the request's version), or into a
// schema of their own for a route that validates no request.
func withSnapshotBackupResponses(routes []httpapi.Route) []httpapi.Route {
	for i := range routes {
		rs, ok := snapshotBackupResponses[routes[i].Method+" "+routes[i].Path]
		if !ok {
			continue
		}
		if len(routes[i].Schemas) == 0 {
			routes[i].Schemas = []httpapi.Schema{{Responses: rs}}
			continue
		}
		schemas := make([]httpapi.Schema, len(routes[i].Schemas))
		for j, sc := range routes[i].Schemas {
			sc.Responses = rs
			schemas[j] = sc
		}
		routes[i].Schemas = schemas
	}
	return routes
}
