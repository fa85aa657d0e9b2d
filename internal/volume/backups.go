package volume

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func init() {
	extraRouteGroups = append(extraRouteGroups, (*Service).backupRoutes)
}

// backupRoutes are cinder/api/v3/backups.py (contrib/backups.py) with the
// admin actions os-reset_status and os-force_delete. Policies are checked in
// the handlers, with the backup's (or the volume's) project as the target
// once it is found: another project's backup is not found (404).
func (s *Service) backupRoutes() []httpapi.Route {
	return withSnapshotBackupResponses([]httpapi.Route{
		{Method: "POST", Path: "/v3/backups", Handler: s.createBackup, Schemas: versioned(backupCreateSchema, 43, 51)},
		{Method: "GET", Path: "/v3/backups", Handler: s.listBackups},
		{Method: "GET", Path: "/v3/backups/detail", Handler: s.listBackupsDetail},
		{Method: "GET", Path: "/v3/backups/{backup_id}", Handler: s.showBackup},
		{Method: "PUT", Path: "/v3/backups/{backup_id}", Handler: s.updateBackup, Schemas: versioned(backupUpdateSchema, 43)},
		{Method: "DELETE", Path: "/v3/backups/{backup_id}", Handler: s.deleteBackup},
		{Method: "POST", Path: "/v3/backups/{backup_id}/restore", Handler: s.restoreBackup, Schemas: []httpapi.Schema{{Request: backupRestoreSchema}}},
		{Method: "POST", Path: "/v3/backups/{backup_id}/action", Handler: s.backupAction, Schemas: []httpapi.Schema{{Request: actionBodySchema}}},
	})
}

// backupCreateSchema is schemas/backups.py create (metadata from 3.43,
// availability_zone from 3.51).
func backupCreateSchema(minor int) jsonschema.Schema {
	props := map[string]any{
		"volume_id": map[string]any{"type": "string", "format": "uuid"}, "container": schemaNameZeroMin,
		"description": schemaDescription, "incremental": schemaBoolean, "force": schemaBoolean,
		"name": schemaNameZeroMin, "snapshot_id": schemaOptionalUUID,
	}
	if minor >= 43 {
		props["metadata"] = schemaMetadataAllowsNull
	}
	if minor >= 51 {
		props["availability_zone"] = schemaNameZeroMin
	}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{
		"backup": map[string]any{"type": "object", "properties": props, "required": []any{"volume_id"},
			"additionalProperties": false},
	}, "required": []any{"backup"}, "additionalProperties": false}
}

// backupUpdateSchema is schemas/backups.py update (metadata from 3.43).
func backupUpdateSchema(minor int) jsonschema.Schema {
	props := map[string]any{"name": schemaNameZeroMin, "description": schemaDescription}
	if minor >= 43 {
		props["metadata"] = schemaExtraSpecs
	}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{
		"backup": map[string]any{"type": []any{"object", "null"}, "properties": props, "additionalProperties": false},
	}, "required": []any{"backup"}, "additionalProperties": false}
}

var backupRestoreSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
	"restore": map[string]any{"type": []any{"object", "null"}, "properties": map[string]any{
		"name": schemaNameZeroMin, "volume_id": schemaOptionalUUID,
	}, "additionalProperties": false},
}, "required": []any{"restore"}, "additionalProperties": false}

// lookupBackup is, for the volumes API, a backup the caller may
// restore from, for a volume created with backup_id.
func lookupBackup(r *http.Request, q db.Querier, id string) (BackupSource, error) {
	b, err := backupByID(r.Context(), q, id)
	if db.IsNoRows(err) || err == nil && b.ProjectID != callerProject(r) && !isAdmin(r) {
		return BackupSource{}, notFound("Backup %s could not be found.", id)
	}
	if err != nil {
		return BackupSource{}, err
	}
	return BackupSource{ID: b.ID, ProjectID: b.ProjectID, Status: b.Status, SizeGB: b.Size}, nil
}

func (s *Service) backupSummary(r *http.Request, b *backupRow) map[string]any {
	return map[string]any{"id": b.ID, "name": nullable(b.Name), "links": s.links(r, "backups", b.ID)}
}

// backupDetail is v3/views/backups.py detail with metadata from 3.43 and,
// for those backup_project_attribute allows, the project (3.18) and the user
// (3.56).
func (s *Service) backupDetail(r *http.Request, b *backupRow) map[string]any {
	out := map[string]any{
		"id": b.ID, "status": b.Status, "size": b.Size, "object_count": b.ObjectCount,
		"availability_zone": nullable(b.AvailabilityZone), "container": nullable(b.Container),
		"created_at": viewTime(&b.CreatedAt), "updated_at": viewTime(&b.UpdatedAt), "name": nullable(b.Name),
		"description": nullable(b.Description), "fail_reason": nullable(b.FailReason), "volume_id": b.VolumeID,
		"links": s.links(r, "backups", b.ID), "is_incremental": b.ParentID != nil,
		"has_dependent_backups": b.NumDependentBackups > 0, "snapshot_id": nullable(b.SnapshotID),
		"data_timestamp": viewTime(b.DataTimestamp),
	}
	if since(r, 43) {
		md := b.Metadata
		if md == nil {
			md = map[string]string{}
		}
		out["metadata"] = md
	}
	if s.allowed(r, policyBackupAttributes, backupTarget(b)) {
		if since(r, 18) {
			out["os-backup-project-attr:project_id"] = b.ProjectID
		}
		if since(r, 56) {
			out["user_id"] = b.UserID
		}
	}
	return out
}

// backupServiceUp reports whether host runs a cinder-backup service that is
// enabled and has heartbeaten within service_down_time (the backup API's
// _is_backup_service_enabled).
func backupServiceUp(ctx context.Context, q db.Querier, host string, now time.Time) (bool, error) {
	rows, err := db.QueryStrings(ctx, q, `SELECT heartbeat_at FROM volume_services
		WHERE binary_name = 'cinder-backup' AND host = ? AND NOT disabled`, host)
	if err != nil {
		return false, err
	}
	for _, beat := range rows {
		if t, err := time.Parse(time.RFC3339Nano, beat); err == nil && now.Sub(t) <= serviceDownTime {
			return true, nil
		}
	}
	return false, nil
}

// hostOf is the host of host@backend#pool: the backup service that can read
// a volume is the one beside its volume manager.
func hostOf(volumeHost string) string {
	h, _, _ := strings.Cut(volumeHost, "@")
	return h
}

type backupCreateBody struct {
	Backup struct {
		VolumeID         string            `json:"volume_id"`
		Container        *string           `json:"container"`
		Name             *string           `json:"name"`
		Description      *string           `json:"description"`
		Incremental      any               `json:"incremental"`
		Force            any               `json:"force"`
		SnapshotID       *string           `json:"snapshot_id"`
		Metadata         map[string]string `json:"metadata"`
		AvailabilityZone *string           `json:"availability_zone"`
	} `json:"backup"`
}

// createBackup is backup/api.py create: the source's status rules, the
// quota, the parent of an incremental backup, then the source marked
// backing-up and the backup creating for the backup service of the
// volume's host.
func (s *Service) createBackup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var body backupCreateBody
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	req := body.Backup
	incremental, _ := boolFromString(req.Incremental)
	force, _ := boolFromString(req.Force)
	if !since(r, 43) {
		req.Metadata = nil
	}
	if !since(r, 51) {
		req.AvailabilityZone = nil
	}
	id := uuid.NewString()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := volumeByID(ctx, tx, req.VolumeID)
		if db.IsNoRows(err) || err == nil && v.ProjectID != callerProject(r) && !isAdmin(r) {
			return notFound("Volume %s could not be found.", req.VolumeID)
		}
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyBackupCreate, volumeTarget(v)); err != nil {
			return err
		}
		var snap *snapshot
		if req.SnapshotID != nil {
			if snap, err = s.visibleSnapshot(r, tx, *req.SnapshotID); err != nil {
				return err
			}
			if snap.VolumeID != v.ID {
				return badRequest("Invalid volume: Volume %s does not match with snapshot.volume_id %s.", v.ID, snap.VolumeID)
			}
			if snap.Status != snapshotAvailable {
				return badRequest("Invalid snapshot: Snapshot to be backed up must be available, but the current status is \"%s\".", snap.Status)
			}
		} else if v.Status != statusAvailable && v.Status != statusInUse {
			return badRequest("Invalid volume: Volume to be backed up must be available or in-use, but the current status is \"%s\".", v.Status)
		} else if v.Status == statusInUse && !force {
			return badRequest("Invalid volume: Backing up an in-use volume must use the force flag.")
		}
		if err := s.checkQuota(ctx, tx, callerProject(r), map[string]int{"backups": 1, "backup_gigabytes": v.Size}); err != nil {
			return err
		}
		var parentID *string
		if incremental {
			if parentID, err = latestBackup(ctx, tx, v.ID, callerProject(r), snap); err != nil {
				return err
			}
		}
		now := s.now()
		dataTimestamp := dbTime(now)
		if snap != nil {
			dataTimestamp = snap.CreatedAt
		}
		// the scheduler's choice: the backup service beside the volume's
		// manager; none up leaves the backup in error, as upstream's
		// scheduler does, and the source untouched
		status, failReason, host := backupCreating, (*string)(nil), hostOf(v.Host)
		if up, err := backupServiceUp(ctx, tx, host, now); err != nil {
			return err
		} else if !up || v.Host == "" {
			status, failReason, host = backupError, strp("Service cinder-backup could not be found."), ""
		}
		if status == backupCreating {
			if snap != nil {
				if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ?`,
					snapshotBackingUp, dbTime(now), snap.ID); err != nil {
					return err
				}
			} else if _, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = ?, updated_at = ? WHERE id = ?`,
				statusBackingUp, v.Status, dbTime(now), v.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO volume_backups (id, volume_id, snapshot_id, project_id, user_id,
			name, description, status, fail_reason, size, container, availability_zone, parent_id, host, data_timestamp,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, v.ID, req.SnapshotID, callerProject(r), callerUser(r), cleanText(req.Name), cleanText(req.Description),
			status, failReason, v.Size, req.Container, req.AvailabilityZone, parentID, host, dataTimestamp,
			dbTime(now), dbTime(now)); err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_backup_metadata", "backup_id", id, req.Metadata, false)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	b, err := backupByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"backup": s.backupSummary(r, b)}), nil
}

// latestBackup is the parent of an incremental backup: the volume's backup
// (of the caller's project) with the latest data_timestamp among the
// available ones (older than the snapshot, when backing one up).
func latestBackup(ctx context.Context, q db.Querier, volumeID, project string, snap *snapshot) (*string, error) {
	rows, err := db.QueryAll(ctx, q, scanBackup, `SELECT `+backupColumns+` FROM volume_backups
		WHERE volume_id = ? AND project_id = ?`, volumeID, project)
	if err != nil {
		return nil, err
	}
	noParent := badRequest("Invalid backup: No backups available to do an incremental backup.")
	var best *backupRow
	for _, b := range rows {
		if b.Status != backupAvailable || b.DataTimestamp == nil {
			continue
		}
		if snap != nil && *b.DataTimestamp >= snap.CreatedAt {
			continue
		}
		if best == nil || *b.DataTimestamp > *best.DataTimestamp {
			best = b
		}
	}
	if best == nil {
		return nil, noParent
	}
	return &best.ID, nil
}

func (s *Service) showBackup(r *http.Request) (httpapi.Response, error) {
	b, err := s.visibleBackup(r, s.db, r.PathValue("backup_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyBackupGet, backupTarget(b)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"backup": s.backupDetail(r, b)}), nil
}

// updateBackup is PUT /backups/{id} (3.9; metadata from 3.43).
func (s *Service) updateBackup(r *http.Request) (httpapi.Response, error) {
	if !since(r, 9) {
		return httpapi.Response{}, versionNotFound(r)
	}
	ctx := r.Context()
	var body struct {
		Backup map[string]any `json:"backup"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("backup_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		b, err := s.visibleBackup(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyBackupUpdate, backupTarget(b)); err != nil {
			return err
		}
		name, desc := b.Name, b.Description
		if hasKey(body.Backup, "name") {
			name = cleanText(optString(body.Backup, "name"))
		}
		if hasKey(body.Backup, "description") {
			desc = cleanText(optString(body.Backup, "description"))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volume_backups SET name = ?, description = ?, updated_at = ? WHERE id = ?`,
			name, desc, dbTime(s.now()), id); err != nil {
			return err
		}
		if md, ok := body.Backup["metadata"].(map[string]any); ok && since(r, 43) {
			kv := map[string]string{}
			for k, v := range md {
				kv[k], _ = v.(string)
			}
			return setKeyValues(ctx, tx, "volume_backup_metadata", "backup_id", id, kv, false)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	b, err := backupByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"backup": s.backupSummary(r, b)}), nil
}

func (s *Service) deleteBackup(r *http.Request) (httpapi.Response, error) {
	if err := s.markBackupDeleting(r, false); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// markBackupDeleting is backup/api.py delete: available or error (any
// status with force), no incremental backups on top; a backup that never
// reached a backup service has nothing stored and goes at once.
func (s *Service) markBackupDeleting(r *http.Request, force bool) error {
	ctx := r.Context()
	id := r.PathValue("backup_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		b, err := s.visibleBackup(r, tx, id)
		if err != nil {
			return err
		}
		if force {
			if err := s.enforce(r, policyBackupForceDelete, backupTarget(b)); err != nil {
				return err
			}
		}
		if err := s.enforce(r, policyBackupDelete, backupTarget(b)); err != nil {
			return err
		}
		if !force && b.Status != backupAvailable && b.Status != backupError {
			return badRequest("Invalid backup: Backup status must be available or error")
		}
		var dependents int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_backups WHERE parent_id = ?`, id).Scan(&dependents); err != nil {
			return err
		}
		if dependents > 0 {
			return badRequest("Invalid backup: Incremental backups exist for this backup.")
		}
		if b.Host == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM volume_backups WHERE id = ?`, id)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, updated_at = ? WHERE id = ?`,
			backupDeleting, dbTime(s.now()), id)
		return err
	})
	if err == nil {
		s.nudge()
	}
	return err
}

// userBackupFilters are the filters a non-admin may use
// (_get_backup_filter_options).
var userBackupFilters = []string{"name", "status", "volume_id"}

func (s *Service) listBackups(r *http.Request) (httpapi.Response, error) {
	return s.listBackupsView(r, false)
}

func (s *Service) listBackupsDetail(r *http.Request) (httpapi.Response, error) {
	return s.listBackupsView(r, true)
}

func (s *Service) listBackupsView(r *http.Request, detail bool) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyBackupGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	if v, ok := r.URL.Query()["all_tenants"]; ok {
		if _, valid := boolFromString(v[len(v)-1]); !valid {
			return httpapi.Response{}, badRequest("Invalid input received: all_tenants must be a boolean, got '%s'.", v[len(v)-1])
		}
	}
	p, err := parseListParams(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !isAdmin(r) {
		for k := range p.filters {
			if !contains(userBackupFilters, k) {
				delete(p.filters, k)
			}
		}
	}
	query, args := `SELECT `+backupColumns+` FROM volume_backups`, []any{}
	if !isAdmin(r) || !p.allTenant {
		query += ` WHERE project_id = ?`
		args = append(args, callerProject(r))
	}
	rows, err := db.QueryAll(ctx, s.db, scanBackup, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	var backups []*backupRow
	for _, b := range rows {
		if b.Metadata, err = keyValues(ctx, s.db, "volume_backup_metadata", "backup_id", b.ID); err != nil {
			return httpapi.Response{}, err
		}
		keep := true
		for k, want := range p.filters {
			keep = keep && backupMatches(b, k, want)
		}
		if keep {
			backups = append(backups, b)
		}
	}
	for _, k := range p.sortKeys {
		if _, ok := backupSortValue(&backupRow{}, k, since(r, 37)); !ok {
			return httpapi.Response{}, badRequest("Invalid input received: Invalid sort key")
		}
	}
	sort.SliceStable(backups, func(i, j int) bool {
		for n, k := range p.sortKeys {
			a, _ := backupSortValue(backups[i], k, true)
			b, _ := backupSortValue(backups[j], k, true)
			if a != b {
				return (p.sortDirs[n] == "asc") == (a < b)
			}
		}
		return backups[i].ID > backups[j].ID
	})
	total := len(backups)
	page, err := pageOf(backups, func(b *backupRow) string { return b.ID }, p)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(page))
	for _, b := range page {
		if detail {
			views = append(views, s.backupDetail(r, b))
		} else {
			views = append(views, s.backupSummary(r, b))
		}
	}
	out := map[string]any{"backups": views}
	collection := "backups"
	if detail {
		collection = "backups/detail"
	}
	if len(page) > 0 {
		if links := s.nextLink(r, collection, len(page), p, page[len(page)-1].ID); links != nil {
			out["backups_links"] = links
		}
	}
	if p.withCount {
		out["count"] = total
	}
	return httpapi.OK(out), nil
}

func backupMatches(b *backupRow, key, want string) bool {
	switch key {
	case "name", "display_name":
		return deref(b.Name) == want
	case "status":
		return b.Status == want
	case "volume_id":
		return b.VolumeID == want
	case "project_id":
		return b.ProjectID == want
	case "user_id":
		return b.UserID == want
	case "id":
		return b.ID == want
	case "snapshot_id":
		return deref(b.SnapshotID) == want
	case "parent_id":
		return deref(b.ParentID) == want
	case "availability_zone":
		return deref(b.AvailabilityZone) == want
	case "host":
		return b.Host == want
	}
	return false
}

// backupSortValue is a backup's value for a sort key; "name" is a key from
// 3.37 (BACKUP_SORT_NAME), display_name always.
func backupSortValue(b *backupRow, key string, nameKey bool) (string, bool) {
	switch key {
	case "id":
		return b.ID, true
	case "name":
		return deref(b.Name), nameKey
	case "display_name":
		return deref(b.Name), true
	case "status":
		return b.Status, true
	case "size":
		return leftPad(b.Size), true
	case "volume_id":
		return b.VolumeID, true
	case "created_at":
		return b.CreatedAt, true
	case "updated_at":
		return b.UpdatedAt, true
	case "data_timestamp":
		return deref(b.DataTimestamp), true
	case "project_id":
		return b.ProjectID, true
	case "user_id":
		return b.UserID, true
	}
	return "", false
}

// restoreBackup is backup/api.py restore: into a new volume of the backup's
// size (restore_backup_<id>, made by the volume manager from the backup), or
// over an available volume at least as large, which is restoring-backup
// until the backup service is done. The answer is {"restore": {...}}.
func (s *Service) restoreBackup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var body struct {
		Restore *struct {
			Name     *string `json:"name"`
			VolumeID *string `json:"volume_id"`
		} `json:"restore"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	var name, volumeID *string
	if body.Restore != nil {
		name, volumeID = body.Restore.Name, body.Restore.VolumeID
	}
	backupID := r.PathValue("backup_id")
	var restoredTo string
	var volumeName *string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		b, err := s.visibleBackup(r, tx, backupID)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyBackupRestore, backupTarget(b)); err != nil {
			return err
		}
		if b.Status != backupAvailable {
			return badRequest("Invalid backup: Backup status must be available")
		}
		if volumeID == nil {
			if name == nil {
				name = strp("restore_backup_" + backupID)
			}
			size := b.Size
			restoredTo, volumeName = uuid.NewString(), name
			req := createRequest{Name: name, Description: strp("auto-created_from_restore_from_backup"), Size: &size,
				BackupID: &b.ID}
			if err := s.insertVolume(r, tx, restoredTo, req, nil, ""); err != nil {
				return err
			}
			v, err := volumeByID(ctx, tx, restoredTo)
			if err != nil {
				return err
			}
			if v.Status == statusError {
				return badRequest("Invalid volume: Error while creating volume %s for restoring backup %s.", restoredTo, backupID)
			}
			return nil
		}
		v, err := volumeByID(ctx, tx, *volumeID)
		if db.IsNoRows(err) || err == nil && v.ProjectID != callerProject(r) && !isAdmin(r) {
			return notFound("Volume %s could not be found.", *volumeID)
		}
		if err != nil {
			return err
		}
		if v.Status != statusAvailable {
			return badRequest("Invalid volume: Volume to be restored to must be available")
		}
		if b.Size > v.Size {
			return badRequest("Invalid volume: volume size %d is too small to restore backup of size %d.", v.Size, b.Size)
		}
		host := hostOf(v.Host)
		if up, err := backupServiceUp(ctx, tx, host, s.now()); err != nil {
			return err
		} else if !up {
			return notFound("Service cinder-backup could not be found.")
		}
		now := dbTime(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, restore_volume_id = ?, host = ?, updated_at = ?
			WHERE id = ?`, backupRestoring, v.ID, host, now, b.ID); err != nil {
			return err
		}
		restoredTo, volumeName = v.ID, v.Name
		return setStatus(ctx, tx, v.ID, statusRestoringBackup, s.now())
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.JSON(http.StatusAccepted, map[string]any{"restore": map[string]any{
		"backup_id": backupID, "volume_id": restoredTo, "volume_name": nullable(volumeName)}}), nil
}

// backupAction is POST /backups/{id}/action: the admin's os-reset_status
// (available or error) and os-force_delete.
func (s *Service) backupAction(r *http.Request) (httpapi.Response, error) {
	var body map[string]map[string]any
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	switch {
	case hasKey(toAnyMap(body), "os-reset_status"):
		status, err := statusArg(body["os-reset_status"], "Backup", backupResetStatuses)
		if err != nil {
			return httpapi.Response{}, err
		}
		ctx := r.Context()
		id := r.PathValue("backup_id")
		err = s.db.InTx(ctx, func(tx *db.Tx) error {
			b, err := s.visibleBackup(r, tx, id)
			if err != nil {
				return err
			}
			if err := s.enforce(r, policyBackupResetStatus, backupTarget(b)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, updated_at = ? WHERE id = ?`,
				status, dbTime(s.now()), id)
			return err
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{Status: http.StatusAccepted}, nil
	case hasKey(toAnyMap(body), "os-force_delete"):
		if err := s.markBackupDeleting(r, true); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{Status: http.StatusAccepted}, nil
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", strings.Join(sortedKeys(body), ","))
}
