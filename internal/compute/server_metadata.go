package compute

import (
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Server metadata (/servers/{id}/metadata): readers read it, members change it
// while the server is in a settled state, within the metadata_items quota.
func (s *Service) serverMetadataRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/metadata", Handler: s.listServerMetadata},
		{Method: "POST", Path: "/v2.1/servers/{id}/metadata", Handler: s.updateServerMetadata(false)},
		{Method: "PUT", Path: "/v2.1/servers/{id}/metadata", Handler: s.updateServerMetadata(true)},
		{Method: "GET", Path: "/v2.1/servers/{id}/metadata/{key}", Handler: s.showServerMetadata},
		{Method: "PUT", Path: "/v2.1/servers/{id}/metadata/{key}", Handler: s.setServerMetadataItem},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/metadata/{key}", Handler: s.deleteServerMetadataItem},
	}
}

// metadataStates are the vm_states whose metadata may change (upstream's
// check_instance_state on update_instance_metadata), with no task running.
var metadataStates = []string{vmActive, vmPaused, vmSuspended, vmStopped}

func (s *Service) listServerMetadata(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:server-metadata:index")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": in.Metadata}), nil
}

func (s *Service) showServerMetadata(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:server-metadata:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	v, ok := in.Metadata[key]
	if !ok {
		return httpapi.Response{}, notFound("Metadata item was not found")
	}
	return httpapi.OK(map[string]any{"meta": map[string]string{key: v}}), nil
}

// changeMetadata applies fn to the server's metadata under rule, in a
// transaction with the lock, state and quota checks and the write of the
// metadata alone.
func (s *Service) changeMetadata(r *http.Request, rule, method string, fn func(map[string]string) error) (map[string]string, error) {
	in, err := s.visibleInstance(r, rule)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	err = s.changeInstance(r, in.UUID, "", func(tx *db.Tx, cur *instance) error {
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		if !slices.Contains(metadataStates, cur.VMState) {
			return invalidState(method, cur, "vm_state", cur.VMState)
		}
		if cur.TaskState != "" {
			return invalidState(method, cur, "task_state", cur.TaskState)
		}
		if err := fn(cur.Metadata); err != nil {
			return err
		}
		limits, err := s.quotaLimits(ctx, tx, cur.ProjectID)
		if err != nil {
			return err
		}
		if l := limits["metadata_items"]; l >= 0 && len(cur.Metadata) > l {
			return forbidden("Quota exceeded for metadata_items: Requested %d, but already used 0 of %d metadata_items", len(cur.Metadata), l)
		}
		in = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return in.Metadata, nil
}

// metadataBody reads {"<field>": {key: value, ...}} with upstream's validation.
func metadataBody(r *http.Request, field string) (map[string]string, error) {
	var req map[string]map[string]any
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return nil, badRequest("Malformed request body")
	}
	m, ok := req[field]
	if !ok || m == nil {
		return nil, badRequest("Invalid input for field/attribute %s. '%s' is a required property", field, field)
	}
	return metadataField(m)
}

// updateServerMetadata is POST (merge into the metadata) and PUT (replace it).
func (s *Service) updateServerMetadata(replace bool) httpapi.Handler {
	rule := "os_compute_api:server-metadata:create"
	if replace {
		rule = "os_compute_api:server-metadata:update_all"
	}
	return func(r *http.Request) (httpapi.Response, error) {
		set, err := metadataBody(r, "metadata")
		if err != nil {
			return httpapi.Response{}, err
		}
		meta, err := s.changeMetadata(r, rule, "update metadata", func(m map[string]string) error {
			if replace {
				clear(m)
			}
			for k, v := range set {
				m[k] = v
			}
			return nil
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(map[string]any{"metadata": meta}), nil
	}
}

func (s *Service) setServerMetadataItem(r *http.Request) (httpapi.Response, error) {
	key := r.PathValue("key")
	set, err := metadataBody(r, "meta")
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(set) != 1 {
		return httpapi.Response{}, badRequest("Request body contains too many items")
	}
	if _, ok := set[key]; !ok {
		return httpapi.Response{}, badRequest("Request body and URI mismatch")
	}
	if _, err := s.changeMetadata(r, "os_compute_api:server-metadata:update", "update metadata", func(m map[string]string) error {
		m[key] = set[key]
		return nil
	}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"meta": set}), nil
}

func (s *Service) deleteServerMetadataItem(r *http.Request) (httpapi.Response, error) {
	key := r.PathValue("key")
	if _, err := s.changeMetadata(r, "os_compute_api:server-metadata:delete", "delete metadata", func(m map[string]string) error {
		if _, ok := m[key]; !ok {
			return notFound("Metadata item was not found")
		}
		delete(m, key)
		return nil
	}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
