package volume

import (
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func init() { extraRouteGroups = append(extraRouteGroups, (*Service).snapshotRoutes) }

// snapshotRoutes are cinder/api/v3/snapshots.py with its extensions:
// snapshot metadata (v3/snapshot_metadata.py), the admin actions
// os-reset_status and os-force_delete (contrib/admin_actions.py) and
// os-update_snapshot_status (contrib/snapshot_actions.py). Policies are
// checked in the handlers with the snapshot's (or volume's) project as the
// target, once it is found: another project's snapshot is not found (404).
func (s *Service) snapshotRoutes() []httpapi.Route {
	return withSnapshotBackupResponses([]httpapi.Route{
		{Method: "POST", Path: "/v3/snapshots", Handler: s.createSnapshot, Schemas: []httpapi.Schema{{Request: snapshotCreateSchema}}},
		{Method: "GET", Path: "/v3/snapshots", Handler: s.listSnapshots},
		{Method: "GET", Path: "/v3/snapshots/detail", Handler: s.listSnapshotsDetail},
		{Method: "GET", Path: "/v3/snapshots/{snapshot_id}", Handler: s.showSnapshot},
		{Method: "PUT", Path: "/v3/snapshots/{snapshot_id}", Handler: s.updateSnapshot, Schemas: []httpapi.Schema{{Request: snapshotUpdateSchema}}},
		{Method: "DELETE", Path: "/v3/snapshots/{snapshot_id}", Handler: s.deleteSnapshot},
		{Method: "POST", Path: "/v3/snapshots/{snapshot_id}/action", Handler: s.snapshotAction, Schemas: []httpapi.Schema{{Request: actionBodySchema}}},
		{Method: "GET", Path: "/v3/snapshots/{snapshot_id}/metadata", Handler: s.showSnapshotMetadata},
		{Method: "POST", Path: "/v3/snapshots/{snapshot_id}/metadata", Handler: s.mergeSnapshotMetadata, Schemas: snapshotMetadataSchema("metadata")},
		{Method: "PUT", Path: "/v3/snapshots/{snapshot_id}/metadata", Handler: s.replaceSnapshotMetadata, Schemas: snapshotMetadataSchema("metadata")},
		{Method: "GET", Path: "/v3/snapshots/{snapshot_id}/metadata/{key}", Handler: s.showSnapshotMetadataItem},
		{Method: "PUT", Path: "/v3/snapshots/{snapshot_id}/metadata/{key}", Handler: s.updateSnapshotMetadataItem, Schemas: snapshotMetadataSchema("meta")},
		{Method: "DELETE", Path: "/v3/snapshots/{snapshot_id}/metadata/{key}", Handler: s.deleteSnapshotMetadataItem},
	})
}

// Upstream's request schemas (cinder/api/schemas/snapshots.py).
var (
	schemaNameZeroMin = jsonschema.Schema{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255}

	snapshotCreateSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
		"snapshot": map[string]any{"type": "object", "properties": map[string]any{
			"name": schemaNameZeroMin, "display_name": schemaNameZeroMin, "description": schemaDescription,
			"volume_id": schemaOptionalUUID, "force": schemaBoolean, "metadata": schemaMetadataAllowsNull,
		}, "required": []any{"volume_id"}, "additionalProperties": false},
	}, "required": []any{"snapshot"}, "additionalProperties": false}

	snapshotUpdateSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
		"snapshot": map[string]any{"type": "object", "properties": map[string]any{
			"name": schemaNameZeroMin, "display_name": schemaNameZeroMin, "description": schemaDescription,
			"display_description": schemaDescription,
		}, "additionalProperties": false, "anyOf": []any{
			map[string]any{"required": []any{"name"}}, map[string]any{"required": []any{"description"}},
			map[string]any{"required": []any{"display_name"}}, map[string]any{"required": []any{"display_description"}},
		}},
	}, "required": []any{"snapshot"}, "additionalProperties": false}
)

// actionBodySchema is an action body's outer shape, an object keyed by the
// action: each action's own schema is checked in its handler, with
// upstream's messages, and an unknown action is upstream's 400 there too.
var actionBodySchema = jsonschema.Schema{"type": "object"}

func snapshotMetadataSchema(key string) []httpapi.Schema {
	return []httpapi.Schema{{Request: jsonschema.Schema{"type": "object",
		"properties": map[string]any{key: schemaExtraSpecs}, "required": []any{key}, "additionalProperties": false}}}
}

// snapshotInUseFlagMessage is upstream's SNAPSHOT_IN_USE_FLAG_MSG: from 3.66
// a false force is refused, a true one ignored.
const snapshotInUseFlagMessage = "Since microversion 3.66 the 'force' flag is invalid for this request.  " +
	"For backward compatability, however, when the 'force' flag is passed with a value evaluating to True, " +
	"it is silently ignored."

// snapshotView is views/snapshots.py detail with the v3 keys per microversion
// and, where the caller may see them (show and the detail list),
// os-extended-snapshot-attributes.
func (s *Service) snapshotView(r *http.Request, snap *snapshot, extended bool) map[string]any {
	metadata := snap.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	out := map[string]any{
		"id": snap.ID, "created_at": viewTime(&snap.CreatedAt), "updated_at": viewTime(&snap.UpdatedAt),
		"name": nullable(snap.Name), "description": nullable(snap.Description), "volume_id": snap.VolumeID,
		"status": snap.Status, "size": snap.VolumeSize, "metadata": metadata,
	}
	if since(r, 14) {
		out["group_snapshot_id"] = nil
	}
	if since(r, 41) {
		out["user_id"] = snap.UserID
	}
	if since(r, 65) {
		out["consumes_quota"] = snap.UseQuota
	}
	if extended && s.allowed(r, policySnapshotAttributes, snapshotTarget(snap)) {
		out["os-extended-snapshot-attributes:project_id"] = snap.ProjectID
		out["os-extended-snapshot-attributes:progress"] = nullable(snap.Progress)
	}
	return out
}

func (s *Service) createSnapshot(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var body struct {
		Snapshot map[string]any `json:"snapshot"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	req := body.Snapshot
	volumeID, _ := req["volume_id"].(string)
	force := false
	if f, ok := req["force"]; ok && f != nil {
		force, _ = boolFromString(f)
		if since(r, 66) && !force {
			return httpapi.Response{}, badRequest("%s", snapshotInUseFlagMessage)
		}
	}
	name := cleanText(optString(req, "name", "display_name"))
	description := cleanText(optString(req, "description"))
	metadata := map[string]string{}
	if md, ok := req["metadata"].(map[string]any); ok {
		for k, v := range md {
			metadata[k], _ = v.(string)
		}
	}
	id := uuid.NewString()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := volumeByID(ctx, tx, volumeID)
		if db.IsNoRows(err) || err == nil && v.ProjectID != callerProject(r) && !isAdmin(r) {
			return notFound("Volume %s could not be found.", volumeID)
		}
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotCreate, volumeTarget(v)); err != nil {
			return err
		}
		if err := snapshotableVolume(v, force || since(r, 66)); err != nil {
			return err
		}
		deltas := map[string]int{"snapshots": 1, "gigabytes": v.Size}
		if t, err := typeByID(ctx, tx, v.VolumeTypeID); err == nil {
			deltas["snapshots_"+t.Name], deltas["gigabytes_"+t.Name] = 1, v.Size
		} else if !db.IsNoRows(err) {
			return err
		}
		if err := s.checkQuota(ctx, tx, callerProject(r), deltas); err != nil {
			return err
		}
		now := dbTime(s.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_snapshots (id, volume_id, project_id, user_id, name,
			description, status, progress, volume_size, volume_type_id, host, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, '0%', ?, ?, ?, ?, ?)`, id, v.ID, callerProject(r), callerUser(r), name,
			description, snapshotCreating, v.Size, v.VolumeTypeID, v.Host, now, now); err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_snapshot_metadata", "snapshot_id", id, metadata, false)
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

// snapshotableVolume is volume/api.py's checks before a snapshot: scheduled,
// not in maintenance, migrating or error, and available (or in-use with
// force, or from 3.66).
func snapshotableVolume(v *volume, allowInUse bool) error {
	switch {
	case v.Host == "":
		return badRequest("Invalid volume: The snapshot cannot be created because volume has not been scheduled to any host.")
	case v.Status == statusMaintenance:
		return badRequest("Invalid volume: The snapshot cannot be created when the volume is in maintenance mode.")
	case v.MigrationStatus != nil && *v.MigrationStatus != "" && *v.MigrationStatus != "success" && *v.MigrationStatus != "error":
		return badRequest("Invalid volume: Snapshot cannot be created while volume is migrating.")
	case v.Status == statusError:
		return badRequest("Invalid volume: The snapshot cannot be created when the volume is in error status.")
	}
	valid := "available"
	ok := v.Status == statusAvailable
	if allowInUse {
		valid, ok = "available, in-use", ok || v.Status == statusInUse
	}
	if !ok {
		return badRequest("Invalid volume: Volume %s status must be %s, but current status is: %s.", v.ID, valid, v.Status)
	}
	return nil
}

func (s *Service) showSnapshot(r *http.Request) (httpapi.Response, error) {
	snap, err := s.visibleSnapshot(r, s.db, r.PathValue("snapshot_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policySnapshotGet, snapshotTarget(snap)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"snapshot": s.snapshotView(r, snap, true)}), nil
}

func (s *Service) updateSnapshot(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var body struct {
		Snapshot map[string]any `json:"snapshot"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("snapshot_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotUpdate, snapshotTarget(snap)); err != nil {
			return err
		}
		name, desc := snap.Name, snap.Description
		if hasKey(body.Snapshot, "name", "display_name") {
			name = cleanText(optString(body.Snapshot, "name", "display_name"))
		}
		if hasKey(body.Snapshot, "description", "display_description") {
			desc = cleanText(optString(body.Snapshot, "description", "display_description"))
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_snapshots SET name = ?, description = ?, updated_at = ? WHERE id = ?`,
			name, desc, dbTime(s.now()), id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	snap, err := snapshotByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"snapshot": s.snapshotView(r, snap, false)}), nil
}

func (s *Service) deleteSnapshot(r *http.Request) (httpapi.Response, error) {
	if err := s.markSnapshotDeleting(r, policySnapshotDelete, false); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// markSnapshotDeleting is volume/api.py delete_snapshot: available or error
// (any status with force) becomes deleting, for the manager to delete.
func (s *Service) markSnapshotDeleting(r *http.Request, rule string, force bool) error {
	ctx := r.Context()
	id := r.PathValue("snapshot_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, rule, snapshotTarget(snap)); err != nil {
			return err
		}
		if rule != policySnapshotDelete {
			if err := s.enforce(r, policySnapshotDelete, snapshotTarget(snap)); err != nil {
				return err
			}
		}
		if !force && snap.Status != snapshotAvailable && snap.Status != snapshotError {
			return badRequest("Invalid snapshot: Snapshot status must be available or error and must not be part of a group.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ?`,
			snapshotDeleting, dbTime(s.now()), id)
		return err
	})
	if err == nil {
		s.nudge()
	}
	return err
}

// userSnapshotFilters are the filters a non-admin may use
// (_get_snapshot_filter_options); others are dropped, as upstream does.
var userSnapshotFilters = []string{"status", "volume_id", "name", "metadata", "consumes_quota", "use_quota"}

func (s *Service) listSnapshots(r *http.Request) (httpapi.Response, error) {
	return s.listSnapshotsView(r, false)
}

func (s *Service) listSnapshotsDetail(r *http.Request) (httpapi.Response, error) {
	return s.listSnapshotsView(r, true)
}

// listSnapshotsView is SnapshotsController._items: the caller's project's
// snapshots (every project's for an admin with all_tenants), filtered,
// sorted and paged as the volume list is. The brief list shows the same
// keys as the detail one, as upstream's (its detail adds nothing), without
// the extended attributes.
func (s *Service) listSnapshotsView(r *http.Request, detail bool) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policySnapshotGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	p, err := parseListParams(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !since(r, 22) {
		delete(p.filters, "metadata")
	}
	if !since(r, 65) {
		delete(p.filters, "consumes_quota")
	}
	if !isAdmin(r) {
		for k := range p.filters {
			if !contains(userSnapshotFilters, k) {
				delete(p.filters, k)
			}
		}
	}
	query, args := `SELECT `+snapshotColumns+` FROM volume_snapshots`, []any{}
	if !isAdmin(r) || !p.allTenant {
		query += ` WHERE project_id = ?`
		args = append(args, callerProject(r))
	}
	rows, err := db.QueryAll(ctx, s.db, scanSnapshot, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	var snaps []*snapshot
	for _, snap := range rows {
		if snap.Metadata, err = keyValues(ctx, s.db, "volume_snapshot_metadata", "snapshot_id", snap.ID); err != nil {
			return httpapi.Response{}, err
		}
		keep := true
		for k, want := range p.filters {
			ok, err := snapshotMatches(snap, k, want)
			if err != nil {
				return httpapi.Response{}, err
			}
			keep = keep && ok
		}
		if keep {
			snaps = append(snaps, snap)
		}
	}
	for _, k := range p.sortKeys {
		if _, ok := snapshotSortValue(&snapshot{}, k, since(r, 30)); !ok {
			return httpapi.Response{}, badRequest("Invalid input received: Invalid sort key")
		}
	}
	sort.SliceStable(snaps, func(i, j int) bool {
		for n, k := range p.sortKeys {
			a, _ := snapshotSortValue(snaps[i], k, true)
			b, _ := snapshotSortValue(snaps[j], k, true)
			if a != b {
				return (p.sortDirs[n] == "asc") == (a < b)
			}
		}
		return snaps[i].ID > snaps[j].ID
	})
	total := len(snaps)
	page, err := pageOf(snaps, func(x *snapshot) string { return x.ID }, p)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(page))
	for _, snap := range page {
		views = append(views, s.snapshotView(r, snap, detail))
	}
	out := map[string]any{"snapshots": views}
	collection := "snapshots"
	if detail {
		collection = "snapshots/detail"
	}
	if len(page) > 0 {
		if links := s.nextLink(r, collection, len(page), p, page[len(page)-1].ID); links != nil {
			out["snapshots_links"] = links
		}
	}
	if p.withCount {
		out["count"] = total
	}
	return httpapi.OK(out), nil
}

// pageOf is the marker, offset and limit of a sorted list; a marker not in
// the list is upstream's MarkerNotFound (404).
func pageOf[T any](items []T, idOf func(T) string, p listParams) ([]T, error) {
	if p.marker != "" {
		at := -1
		for i, x := range items {
			if idOf(x) == p.marker {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, notFound("Marker %s could not be found.", p.marker)
		}
		items = items[at+1:]
	}
	items = items[min(p.offset, len(items)):]
	if len(items) > p.limit {
		items = items[:p.limit]
	}
	return items, nil
}

func snapshotMatches(snap *snapshot, key, want string) (bool, error) {
	switch key {
	case "name", "display_name":
		return deref(snap.Name) == want, nil
	case "status":
		return snap.Status == want, nil
	case "volume_id":
		return snap.VolumeID == want, nil
	case "project_id":
		return snap.ProjectID == want, nil
	case "user_id":
		return snap.UserID == want, nil
	case "id":
		return snap.ID == want, nil
	case "consumes_quota", "use_quota":
		b, _ := boolFromString(want)
		return snap.UseQuota == b, nil
	case "metadata":
		md, err := parsePyDict(want)
		if err != nil {
			return false, badRequest("Invalid input received: metadata filter %s is not a dictionary.", want)
		}
		for k, v := range md {
			if snap.Metadata[k] != v {
				return false, nil
			}
		}
		return true, nil
	}
	// an admin's filter on a key snapshots do not have matches nothing
	return false, nil
}

// snapshotSortValue is a snapshot's value for a sort key; "name" is a key
// from 3.30 (SNAPSHOT_SORT), display_name always.
func snapshotSortValue(snap *snapshot, key string, nameKey bool) (string, bool) {
	switch key {
	case "id":
		return snap.ID, true
	case "name":
		return deref(snap.Name), nameKey
	case "display_name":
		return deref(snap.Name), true
	case "status":
		return snap.Status, true
	case "volume_id":
		return snap.VolumeID, true
	case "volume_size", "size":
		return leftPad(snap.VolumeSize), true
	case "created_at":
		return snap.CreatedAt, true
	case "updated_at":
		return snap.UpdatedAt, true
	case "project_id":
		return snap.ProjectID, true
	case "user_id":
		return snap.UserID, true
	}
	return "", false
}

// snapshotAction is POST /snapshots/{id}/action: os-reset_status and
// os-force_delete (admin), os-update_snapshot_status (the member's, for
// drivers that snapshot outside Cinder).
func (s *Service) snapshotAction(r *http.Request) (httpapi.Response, error) {
	var body map[string]map[string]any
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	switch {
	case hasKey(toAnyMap(body), "os-reset_status"):
		return s.resetSnapshotStatus(r, body["os-reset_status"])
	case hasKey(toAnyMap(body), "os-force_delete"):
		if err := s.markSnapshotDeleting(r, policySnapshotForceDelete, true); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{Status: http.StatusAccepted}, nil
	case hasKey(toAnyMap(body), "os-update_snapshot_status"):
		return s.updateSnapshotStatus(r, body["os-update_snapshot_status"])
	case hasKey(toAnyMap(body), "os-unmanage"):
		return s.unmanageSnapshot(r) // manage_snapshots.go
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", strings.Join(sortedKeys(body), ","))
}

func toAnyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// statusArg is the action body's "status" as reset_status schemas require
// it: a string among valid, with upstream's message otherwise.
func statusArg(args map[string]any, kind string, valid []string) (string, error) {
	raw, present := args["status"]
	st, isString := raw.(string)
	if !present {
		return "", badRequest("Invalid input for field/attribute os-reset_status. Value: %s. 'status' is a required property", pyStr(args))
	}
	if !isString || !contains(valid, strings.ToLower(st)) {
		return "", badRequest("Invalid input for field/attribute status. Value: %s. %s status: %s is invalid, valid statuses are: %s.",
			pyStr(raw), kind, pyStr(raw), pyList(valid))
	}
	return strings.ToLower(st), nil
}

// pyList is a list of strings as Python's str() renders it.
func pyList(items []string) string {
	out := "["
	for i, x := range items {
		if i > 0 {
			out += ", "
		}
		out += "'" + x + "'"
	}
	return out + "]"
}

func (s *Service) resetSnapshotStatus(r *http.Request, args map[string]any) (httpapi.Response, error) {
	status, err := statusArg(args, "Snapshot", snapshotStatuses)
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	id := r.PathValue("snapshot_id")
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotResetStatus, snapshotTarget(snap)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ?`,
			status, dbTime(s.now()), id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// updateSnapshotStatus is os-update_snapshot_status: creating may become
// creating, available or error; deleting may become deleting or
// error_deleting; progress is recorded as given.
func (s *Service) updateSnapshotStatus(r *http.Request, args map[string]any) (httpapi.Response, error) {
	status, ok := args["status"].(string)
	if !ok {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-update_snapshot_status. Value: %s. 'status' is a required property", pyStr(args))
	}
	progress, _ := args["progress"].(string)
	transitions := map[string][]string{
		snapshotCreating: {snapshotCreating, snapshotAvailable, snapshotError},
		snapshotDeleting: {snapshotDeleting, snapshotErrorDeleting},
	}
	ctx := r.Context()
	id := r.PathValue("snapshot_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotUpdateStatus, snapshotTarget(snap)); err != nil {
			return err
		}
		allowed, known := transitions[snap.Status]
		if !known {
			return badRequest("Snapshot status %s not allowed for update_snapshot_status", snap.Status)
		}
		if !contains(allowed, status) {
			return badRequest("Provided snapshot status %s not allowed for snapshot with status %s.", status, snap.Status)
		}
		p := snap.Progress
		if progress != "" {
			p = &progress
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, progress = ?, updated_at = ? WHERE id = ?`,
			status, p, dbTime(s.now()), id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// Snapshot metadata (cinder/api/v3/snapshot_metadata.py).

func (s *Service) showSnapshotMetadata(r *http.Request) (httpapi.Response, error) {
	snap, err := s.visibleSnapshot(r, s.db, r.PathValue("snapshot_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policySnapshotMetaGet, snapshotTarget(snap)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": snap.Metadata}), nil
}

func (s *Service) writeSnapshotMetadata(r *http.Request, kv map[string]string, merge bool) (map[string]string, error) {
	ctx := r.Context()
	id := r.PathValue("snapshot_id")
	var out map[string]string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotMetaUpdate, snapshotTarget(snap)); err != nil {
			return err
		}
		if err := setKeyValues(ctx, tx, "volume_snapshot_metadata", "snapshot_id", id, kv, merge); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET updated_at = ? WHERE id = ?`, dbTime(s.now()), id); err != nil {
			return err
		}
		out, err = keyValues(ctx, tx, "volume_snapshot_metadata", "snapshot_id", id)
		return err
	})
	return out, err
}

func (s *Service) mergeSnapshotMetadata(r *http.Request) (httpapi.Response, error) {
	return s.snapshotMetadataWrite(r, true)
}

func (s *Service) replaceSnapshotMetadata(r *http.Request) (httpapi.Response, error) {
	return s.snapshotMetadataWrite(r, false)
}

func (s *Service) snapshotMetadataWrite(r *http.Request, merge bool) (httpapi.Response, error) {
	kv, err := decodeMetadata(r, "metadata")
	if err != nil {
		return httpapi.Response{}, err
	}
	out, err := s.writeSnapshotMetadata(r, kv, merge)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": out}), nil
}

func (s *Service) showSnapshotMetadataItem(r *http.Request) (httpapi.Response, error) {
	snap, err := s.visibleSnapshot(r, s.db, r.PathValue("snapshot_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policySnapshotMetaGet, snapshotTarget(snap)); err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	val, ok := snap.Metadata[key]
	if !ok {
		return httpapi.Response{}, notFound("Snapshot %s has no metadata with key %s.", snap.ID, key)
	}
	return httpapi.OK(map[string]any{"meta": map[string]string{key: val}}), nil
}

func (s *Service) updateSnapshotMetadataItem(r *http.Request) (httpapi.Response, error) {
	kv, err := decodeMetadataItem(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.writeSnapshotMetadata(r, kv, true); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"meta": kv}), nil
}

func (s *Service) deleteSnapshotMetadataItem(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id, key := r.PathValue("snapshot_id"), r.PathValue("key")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		snap, err := s.visibleSnapshot(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policySnapshotMetaDelete, snapshotTarget(snap)); err != nil {
			return err
		}
		if _, ok := snap.Metadata[key]; !ok {
			return notFound("Snapshot %s has no metadata with key %s.", id, key)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM volume_snapshot_metadata WHERE snapshot_id = ? AND key = ?`, id, key)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK}, nil
}
