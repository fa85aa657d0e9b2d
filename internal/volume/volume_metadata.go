package volume

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// volumeMetadataRoutes are cinder/api/v3/volume_metadata.py: the whole set
// (GET, POST merges, PUT replaces) and one key (GET, PUT, DELETE).
func (s *Service) volumeMetadataRoutes() []httpapi.Route {
	metaSchema := []httpapi.Schema{{Request: jsonschema.Schema{"type": "object",
		"properties": map[string]any{"metadata": schemaExtraSpecs}, "required": []any{"metadata"},
		"additionalProperties": false}}}
	itemSchema := []httpapi.Schema{{Request: jsonschema.Schema{"type": "object",
		"properties": map[string]any{"meta": schemaExtraSpecs}, "required": []any{"meta"},
		"additionalProperties": false}}}
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/volumes/{volume_id}/metadata", Handler: s.showVolumeMetadata},
		{Method: "POST", Path: "/v3/volumes/{volume_id}/metadata", Handler: s.mergeVolumeMetadata, Schemas: metaSchema},
		{Method: "PUT", Path: "/v3/volumes/{volume_id}/metadata", Handler: s.replaceVolumeMetadata, Schemas: metaSchema},
		{Method: "GET", Path: "/v3/volumes/{volume_id}/metadata/{key}", Handler: s.showVolumeMetadataItem},
		{Method: "PUT", Path: "/v3/volumes/{volume_id}/metadata/{key}", Handler: s.updateVolumeMetadataItem, Schemas: itemSchema},
		{Method: "DELETE", Path: "/v3/volumes/{volume_id}/metadata/{key}", Handler: s.deleteVolumeMetadataItem},
	}
}

func (s *Service) showVolumeMetadata(r *http.Request) (httpapi.Response, error) {
	v, err := s.visibleVolume(r, s.db, r.PathValue("volume_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyMetadataGet, volumeTarget(v)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": v.Metadata}), nil
}

// writeMetadata changes a volume's metadata under rule (merge or replace)
// and answers the whole set after it.
func (s *Service) writeMetadata(r *http.Request, rule string, kv map[string]string, merge bool) (map[string]string, error) {
	ctx := r.Context()
	id := r.PathValue("volume_id")
	var out map[string]string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.visibleVolume(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, rule, volumeTarget(v)); err != nil {
			return err
		}
		if v.Status == statusMaintenance {
			return badRequest("Invalid volume: The volume metadata cannot be updated when the volume is in maintenance mode.")
		}
		if err := setKeyValues(ctx, tx, "volume_metadata", "volume_id", id, kv, merge); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET updated_at = ? WHERE id = ?`, dbTime(s.now()), id)
		if err != nil {
			return err
		}
		out, err = keyValues(ctx, tx, "volume_metadata", "volume_id", id)
		return err
	})
	return out, err
}

func decodeMetadata(r *http.Request, key string) (map[string]string, error) {
	var body map[string]map[string]string
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body[key] == nil {
		return map[string]string{}, nil
	}
	return body[key], nil
}

func (s *Service) mergeVolumeMetadata(r *http.Request) (httpapi.Response, error) {
	kv, err := decodeMetadata(r, "metadata")
	if err != nil {
		return httpapi.Response{}, err
	}
	out, err := s.writeMetadata(r, policyMetadataCreate, kv, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": out}), nil
}

func (s *Service) replaceVolumeMetadata(r *http.Request) (httpapi.Response, error) {
	kv, err := decodeMetadata(r, "metadata")
	if err != nil {
		return httpapi.Response{}, err
	}
	out, err := s.writeMetadata(r, policyMetadataUpdate, kv, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": out}), nil
}

func (s *Service) showVolumeMetadataItem(r *http.Request) (httpapi.Response, error) {
	v, err := s.visibleVolume(r, s.db, r.PathValue("volume_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyMetadataGet, volumeTarget(v)); err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	val, ok := v.Metadata[key]
	if !ok {
		return httpapi.Response{}, notFound("Volume %s has no metadata with key %s.", v.ID, key)
	}
	return httpapi.OK(map[string]any{"meta": map[string]string{key: val}}), nil
}

func (s *Service) updateVolumeMetadataItem(r *http.Request) (httpapi.Response, error) {
	kv, err := decodeMetadataItem(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.writeMetadata(r, policyMetadataUpdate, kv, true); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"meta": kv}), nil
}

func (s *Service) deleteVolumeMetadataItem(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id, key := r.PathValue("volume_id"), r.PathValue("key")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.visibleVolume(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyMetadataDelete, volumeTarget(v)); err != nil {
			return err
		}
		if _, ok := v.Metadata[key]; !ok {
			return notFound("Volume %s has no metadata with key %s.", id, key)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM volume_metadata WHERE volume_id = ? AND key = ?`, id, key)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK}, nil
}

// decodeMetadataItem is the body of a PUT of one metadata item:
// {"meta": {key: value}} with the key of the path and nothing else.
func decodeMetadataItem(r *http.Request) (map[string]string, error) {
	kv, err := decodeMetadata(r, "meta")
	if err != nil {
		return nil, err
	}
	if _, ok := kv[r.PathValue("key")]; !ok {
		return nil, badRequest("Request body and URI mismatch")
	}
	if len(kv) > 1 {
		return nil, badRequest("Request body contains too many items")
	}
	return kv, nil
}
