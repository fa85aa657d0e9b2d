package compute

import (
	"maps"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// The key pairs' response schemas, per microversion, from
// nova/api/openstack/compute/schemas/keypairs.py (create_response*,
// show_response*, index_response*). Names are strings of 1 to 255 characters
// here: upstream's name formats are request checks.

func kpObject(props map[string]any, required ...string) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": toAny(required), "additionalProperties": false}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

var (
	kpString   = map[string]any{"type": "string"}
	kpName     = map[string]any{"type": "string", "minLength": 1, "maxLength": 255}
	kpType     = map[string]any{"type": "string", "enum": []any{"ssh", "x509"}}
	kpNullType = map[string]any{"type": "null"}
)

// keypairCreateResponses: create_response to 2.1, with type from 2.2, without
// private_key from 2.92.
func keypairCreateResponse(minor int) map[string]any {
	props := map[string]any{"fingerprint": kpString, "name": kpName, "private_key": kpString, "public_key": kpString, "user_id": kpString}
	required := []string{"fingerprint", "name", "public_key", "user_id"}
	if minor >= 2 {
		props["type"], required = kpType, append(required, "type")
	}
	if minor >= 92 {
		delete(props, "private_key")
	}
	return kpObject(map[string]any{"keypair": kpObject(props, required...)}, "keypair")
}

func keypairShowResponse(minor int) map[string]any {
	props := map[string]any{"created_at": map[string]any{"type": "string", "format": "date-time"},
		"deleted": map[string]any{"type": "boolean", "enum": []any{false}}, "deleted_at": kpNullType,
		"fingerprint": kpString, "id": map[string]any{"type": "integer"}, "name": kpName, "public_key": kpString,
		"updated_at": kpNullType, "user_id": kpString}
	required := slices.Sorted(maps.Keys(props))
	if minor >= 2 {
		props["type"], required = kpType, append(required, "type")
	}
	return kpObject(map[string]any{"keypair": kpObject(props, required...)}, "keypair")
}

func keypairIndexResponse(minor int) map[string]any {
	props := map[string]any{"fingerprint": kpString, "name": kpName, "public_key": kpString}
	required := []string{"fingerprint", "name", "public_key"}
	if minor >= 2 {
		props["type"], required = kpType, append(required, "type")
	}
	item := kpObject(map[string]any{"keypair": kpObject(props, required...)}, "keypair")
	top := map[string]any{"keypairs": map[string]any{"type": "array", "items": item}}
	if minor >= 35 {
		top["keypairs_links"] = collectionLinks
	}
	return kpObject(top, "keypairs")
}

// collectionLinks is nova/api/validation/response_types.py's collection_links.
var collectionLinks = map[string]any{
	"type": "array",
	"items": map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"href": map[string]any{"type": "string", "format": "uri"}, "rel": map[string]any{"enum": []any{"next"}}},
		"required":             []any{"href", "rel"},
		"additionalProperties": false,
	},
	"maxItems": 1,
}

// versions splits the microversions at each of bounds: [2.1, b0-1], [b0, b1-1],
// ..., [bn, no upper bound], each with its schemas.
func versions(bounds []int, at func(minor int) httpapi.Schema) []httpapi.Schema {
	starts := append([]int{1}, bounds...)
	out := make([]httpapi.Schema, len(starts))
	for i, from := range starts {
		sc := at(from)
		sc.Min = httpapi.Version{Major: 2, Minor: from}
		if i+1 < len(starts) {
			sc.Max = httpapi.Version{Major: 2, Minor: starts[i+1] - 1}
		}
		out[i] = sc
	}
	return out
}

func keypairCreateSchemas() []httpapi.Schema {
	return versions([]int{2, 92}, func(minor int) httpapi.Schema {
		status := 201
		if minor < 2 {
			status = 200
		}
		return httpapi.Schema{Responses: map[int]map[string]any{status: keypairCreateResponse(minor)}}
	})
}

func keypairShowSchemas() []httpapi.Schema {
	return versions([]int{2}, func(minor int) httpapi.Schema {
		return httpapi.Schema{Responses: map[int]map[string]any{200: keypairShowResponse(minor)}}
	})
}

func keypairIndexSchemas() []httpapi.Schema {
	return versions([]int{2, 35}, func(minor int) httpapi.Schema {
		return httpapi.Schema{Responses: map[int]map[string]any{200: keypairIndexResponse(minor)}}
	})
}
