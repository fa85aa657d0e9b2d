package compute

import (
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// serverExternalEventRoutes are os-server-external-events
// (nova/api/openstack/compute/server_external_events.py): what the network
// service (and others) tell compute of a server: a port plugged, unplugged,
// deleted or changed. Nimbus's conductor and agents read the ports' state
// themselves; an event for a placed server wakes them to do so at once.
func (s *Service) serverExternalEventRoutes() []httpapi.Route {
	return []httpapi.Route{{Method: "POST", Path: "/v2.1/os-server-external-events",
		Policy: "os_compute_api:os-server-external-events:create", Target: emptyTarget, Handler: s.createExternalEvents,
		Schemas: externalEventSchemas()}}
}

func emptyTarget(*http.Request) (map[string]any, error) { return map[string]any{}, nil }

// externalEventNames are the event names by the microversion that added them
// (nova/api/openstack/compute/schemas/server_external_events.py).
var externalEventNames = []struct {
	since int
	names []string
}{
	{1, []string{"network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted"}},
	{51, []string{"volume-extended"}},
	{76, []string{"power-update"}},
	{82, []string{"accelerator-request-bound"}},
	{93, []string{"volume-reimaged"}},
}

// eventStatuses are nova/objects/external_event.py's EVENT_STATUSES.
var eventStatuses = []any{"failed", "completed", "in-progress"}

// tagRequired are the events that name what they are about in their tag.
var tagRequired = []string{"volume-extended", "power-update", "accelerator-request-bound"}

// externalEventSchemas are upstream's create and create_response, one per
// range of the event names.
func externalEventSchemas() []httpapi.Schema {
	var out []httpapi.Schema
	var names []any
	for i, step := range externalEventNames {
		for _, n := range step.names {
			names = append(names, n)
		}
		sc := httpapi.Schema{Min: httpapi.Version{Major: 2, Minor: step.since}}
		if i+1 < len(externalEventNames) {
			sc.Max = httpapi.Version{Major: 2, Minor: externalEventNames[i+1].since - 1}
		}
		name := map[string]any{"type": "string", "enum": slices.Clone(names)}
		uuid := map[string]any{"type": "string", "format": "uuid"}
		status := map[string]any{"type": "string", "enum": eventStatuses}
		tag := map[string]any{"type": "string", "maxLength": 255}
		sc.Request = map[string]any{
			"type": "object",
			"properties": map[string]any{"events": map[string]any{
				"type": "array", "minItems": 1,
				"items": map[string]any{
					"type":                 "object",
					"properties":           map[string]any{"name": name, "server_uuid": uuid, "status": status, "tag": tag},
					"required":             []any{"name", "server_uuid"},
					"additionalProperties": false,
				},
			}},
			"required":             []any{"events"},
			"additionalProperties": false,
		}
		response := map[string]any{
			"type": "object",
			"properties": map[string]any{"events": map[string]any{
				"type": "array",
				"items": map[string]any{
					"type": "object",
					"properties": map[string]any{"code": map[string]any{"type": "integer", "enum": []any{200, 400, 404, 422}},
						"name": name, "server_uuid": uuid, "status": status, "tag": tag},
					"required":             []any{"code", "name", "server_uuid", "status"},
					"additionalProperties": false,
				},
			}},
			"required":             []any{"events"},
			"additionalProperties": false,
		}
		sc.Responses = map[int]map[string]any{200: response, 207: response}
		out = append(out, sc)
	}
	return out
}

type externalEvent struct {
	Name       string  `json:"name"`
	ServerUUID string  `json:"server_uuid"`
	Status     string  `json:"status,omitempty"`
	Tag        *string `json:"tag,omitempty"`
	Code       int     `json:"code"`
}

// createExternalEvents answers each event with its code: 200 taken (the
// server is on a host), 404 no such server, 422 not on a host yet, 400 a tag
// missing where one is required; the whole answer is 207 when any was not
// taken, as upstream.
func (s *Service) createExternalEvents(r *http.Request) (httpapi.Response, error) {
	var req struct {
		Events []externalEvent `json:"events"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	status := http.StatusOK
	hosts := map[string]bool{}
	for i := range req.Events {
		ev := &req.Events[i]
		in, err := loadInstance(r.Context(), s.db, ev.ServerUUID)
		switch {
		case httpapi.IsStatus(err, http.StatusNotFound) || err == nil && in.Deleted:
			ev.Status, ev.Code, status = "failed", http.StatusNotFound, http.StatusMultiStatus
		case err != nil:
			return httpapi.Response{}, err
		case ev.Tag == nil && slices.Contains(tagRequired, ev.Name):
			ev.Status, ev.Code, status = "failed", http.StatusBadRequest, http.StatusMultiStatus
		case in.Host != "":
			ev.Status, ev.Code = "completed", http.StatusOK
			hosts[in.Host] = true
			if ev.Name == "volume-extended" {
				if _, err := s.volumeExtended(r.Context(), in, *ev.Tag); err != nil {
					s.log.Warn("volume-extended", "instance", in.UUID, "volume", *ev.Tag, "error", err)
				}
			}
		default:
			ev.Status, ev.Code, status = "failed", http.StatusUnprocessableEntity, http.StatusMultiStatus
		}
	}
	for host := range hosts {
		s.kick(host)
	}
	return httpapi.Response{Status: status, Body: map[string]any{"events": req.Events}}, nil
}
