package volume

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// Snapshot manage and unmanage (cinder/api/contrib/snapshot_manage.py,
// v3/snapshot_manage.py, snapshot_unmanage.py): as the volumes', for a
// snapshot of a volume the service has. The snapshot is created in the
// database as upstream's create_snapshot_in_db (creating, quota counted, 413
// over) with its reference; the manager has the backend take the object over
// (available) or records error. os-unmanage: unmanaging, then the row goes.

// Rule names (cinder/policies/manageable_snapshots.py), all admin_api.
const (
	policySnapshotManage   = "snapshot_extension:snapshot_manage"
	policySnapshotUnmanage = "snapshot_extension:snapshot_unmanage"
	policyListManageableSn = "snapshot_extension:list_manageable"
)

func init() {
	maps.Copy(defaultPolicies, map[string]string{
		policySnapshotManage: ruleAdminAPI, policySnapshotUnmanage: ruleAdminAPI, policyListManageableSn: ruleAdminAPI,
	})
	extraRouteGroups = append(extraRouteGroups, (*Service).manageSnapshotRoutes)
	one := map[int]jsonschema.Schema{202: rsOne("snapshot", rsSnapshot)}
	list := map[int]jsonschema.Schema{200: rsObjectOf(jsonschema.Schema{"manageable-snapshots": jsonschema.Schema{
		"type": "array", "items": rsManageableSnapshot}}, "manageable-snapshots")}
	RegisterResponses(map[string]map[int]jsonschema.Schema{
		"POST /v3/os-snapshot-manage": one, "GET /v3/os-snapshot-manage": list, "GET /v3/os-snapshot-manage/detail": list,
		"POST /v3/manageable_snapshots": one, "GET /v3/manageable_snapshots": list, "GET /v3/manageable_snapshots/detail": list,
	})
}

var rsManageableSnapshot = rsObjectOf(jsonschema.Schema{
	"reference": rsStringMap, "size": rsInteger, "safe_to_manage": rsBoolean, "reason_not_safe": rsStringNull,
	"cinder_id": rsStringNull, "extra_info": jsonschema.Schema{"type": []any{"object", "null"}},
	"source_reference": jsonschema.Schema{"type": []any{"object", "null"}},
}, "reference", "size", "safe_to_manage", "source_reference")

// snapshotManageSchema is schemas/snapshot_manage.py create.
var snapshotManageSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
	"snapshot": map[string]any{"type": "object", "properties": map[string]any{
		"description": schemaDescription, "metadata": schemaMetadataAllowsNull,
		"name":      map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255},
		"volume_id": map[string]any{"type": "string", "format": "uuid"},
		"ref":       map[string]any{"type": []any{"object", "null", "string"}},
	}, "required": []any{"ref", "volume_id"}, "additionalProperties": false},
}, "required": []any{"snapshot"}, "additionalProperties": false}

func (s *Service) manageSnapshotRoutes() []httpapi.Route {
	create := []httpapi.Schema{{Request: snapshotManageSchema}}
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/os-snapshot-manage", Handler: s.manageSnapshot, Schemas: create},
		{Method: "GET", Path: "/v3/os-snapshot-manage", Handler: s.listManageableSnapshots(false, 0)},
		{Method: "GET", Path: "/v3/os-snapshot-manage/detail", Handler: s.listManageableSnapshots(true, 0)},
		{Method: "POST", Path: "/v3/manageable_snapshots", Handler: s.manageSnapshotV38, Schemas: create},
		{Method: "GET", Path: "/v3/manageable_snapshots", Handler: s.listManageableSnapshots(false, 8)},
		{Method: "GET", Path: "/v3/manageable_snapshots/detail", Handler: s.listManageableSnapshots(true, 8)},
	}
}

func (s *Service) manageSnapshotV38(r *http.Request) (httpapi.Response, error) {
	if !since(r, 8) {
		return httpapi.Response{}, versionNotFound(r)
	}
	return s.manageSnapshot(r)
}

func (s *Service) manageSnapshot(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policySnapshotManage, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Snapshot struct {
			VolumeID          string `json:"volume_id"`
			Name, Description *string
			Ref               any
			Metadata          map[string]string
		}
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	in := body.Snapshot
	ref, ok := in.Ref.(map[string]any)
	if !ok {
		ref = map[string]any{}
	}
	refJSON, err := json.Marshal(ref)
	if err != nil {
		return httpapi.Response{}, badRequest("Invalid input received: bad ref")
	}
	id := uuid.NewString()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.visibleVolume(r, tx, in.VolumeID)
		if err != nil {
			return err
		}
		if _, err := s.manageService(ctx, tx, "", v.Host); err != nil {
			return err
		}
		// create_snapshot_in_db with force: available or in-use
		if err := snapshotableVolume(v, true); err != nil {
			return err
		}
		deltas := map[string]int{"snapshots": 1, "gigabytes": v.Size}
		if t, err := typeByID(ctx, tx, v.VolumeTypeID); err == nil {
			deltas["snapshots_"+t.Name], deltas["gigabytes_"+t.Name] = 1, v.Size
		} else if !db.IsNoRows(err) {
			return err
		}
		if err := s.checkQuota(ctx, tx, v.ProjectID, deltas); err != nil {
			return err
		}
		now := dbTime(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_snapshots (id, volume_id, project_id, user_id, name,
			description, status, progress, volume_size, volume_type_id, host, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '0%', ?, ?, ?, ?, ?)`, id, v.ID, v.ProjectID, callerUser(r), cleanText(in.Name),
			cleanText(in.Description), snapshotCreating, v.Size, v.VolumeTypeID, v.Host, now, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_snapshot_manage_refs (snapshot_id, ref) VALUES (?, ?)`, id, string(refJSON)); err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_snapshot_metadata", "snapshot_id", id, in.Metadata, false)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	snap, err := snapshotByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"snapshot": s.snapshotView(r, snap, false)}), nil
}

// ManageableSnapshotLister is the manager as the API asks it for a
// backend's manageable snapshots.
type ManageableSnapshotLister interface {
	ManageableSnapshots(ctx context.Context, host string) ([]backend.ManageableSnapshot, error)
}

var _ ManageableSnapshotLister = (*Manager)(nil)

func (s *Service) listManageableSnapshots(detail bool, minMinor int) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if minMinor > 0 && !since(r, minMinor) {
			return httpapi.Response{}, versionNotFound(r)
		}
		if err := s.enforce(r, policyListManageableSn, s.ownTarget(r)); err != nil {
			return httpapi.Response{}, err
		}
		q := r.URL.Query()
		cluster, host, err := clusterHost(r, map[string]string{"host": q.Get("host"), "cluster": q.Get("cluster")}, 17)
		if err != nil {
			return httpapi.Response{}, err
		}
		page, err := manageablePage(q)
		if err != nil {
			return httpapi.Response{}, err
		}
		if _, err := s.manageService(r.Context(), s.db, cluster, host); err != nil {
			return httpapi.Response{}, err
		}
		lister, ok := s.opts.Connections.(ManageableSnapshotLister)
		if !ok {
			return httpapi.Response{}, httpErrorf(http.StatusServiceUnavailable, "Service is unavailable at this time.")
		}
		all, err := lister.ManageableSnapshots(r.Context(), backendOf(host))
		if err != nil {
			return httpapi.Response{}, badRequest("Invalid input received: %v", err)
		}
		bySource := map[string]backend.ManageableSnapshot{}
		vols := make([]backend.ManageableVolume, 0, len(all))
		for _, m := range all {
			key, _ := json.Marshal(m.Reference)
			bySource[string(key)] = m
			vols = append(vols, m.ManageableVolume)
		}
		items, err := page.apply(vols)
		if err != nil {
			return httpapi.Response{}, err
		}
		out := make([]map[string]any, 0, len(items))
		for _, m := range items {
			key, _ := json.Marshal(m.Reference)
			view := map[string]any{"reference": m.Reference, "size": m.SizeGB, "safe_to_manage": m.SafeToManage,
				"source_reference": nil}
			if src := bySource[string(key)].SourceReference; src != nil {
				view["source_reference"] = src
			}
			if detail {
				view["reason_not_safe"], view["cinder_id"], view["extra_info"] = nilIfEmpty(m.ReasonNotSafe), nilIfEmpty(m.CinderID), nil
			}
			out = append(out, view)
		}
		return httpapi.OK(map[string]any{"manageable-snapshots": out}), nil
	}
}

// unmanageSnapshot is the os-unmanage snapshot action: delete_snapshot with
// unmanage_only (available or error), then the manager lets go.
func (s *Service) unmanageSnapshot(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, r.PathValue("snapshot_id"))
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotUnmanage, snapshotTarget(snap)); err != nil {
			return err
		}
		if snap.Status != snapshotAvailable && snap.Status != snapshotError {
			return badRequest("Invalid snapshot: Snapshot status must be available or error and must not be part of a group.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ?`,
			statusUnmanaging, dbTime(s.now()), snap.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
