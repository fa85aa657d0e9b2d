package volume

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// volumeRoutes are the volumes API (cinder/api/v3/volumes.py): create, list
// (brief and detail), summary (3.12), show, update and delete. Policies are
// checked in the handlers, with the volume's project as the target, after
// the volume is found: another project's volume is not found (404), as
// upstream's project_only queries.
func (s *Service) volumeRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/volumes", Handler: s.createVolume, Schemas: versioned(volumeCreateSchema, 13, 47, 53)},
		{Method: "GET", Path: "/v3/volumes", Handler: s.listVolumes},
		{Method: "GET", Path: "/v3/volumes/detail", Handler: s.listVolumesDetail},
		{Method: "GET", Path: "/v3/volumes/summary", Handler: s.volumesSummary},
		{Method: "GET", Path: "/v3/volumes/{volume_id}", Handler: s.showVolume},
		{Method: "PUT", Path: "/v3/volumes/{volume_id}", Handler: s.updateVolume, Schemas: versioned(volumeUpdateSchema, 53)},
		{Method: "DELETE", Path: "/v3/volumes/{volume_id}", Handler: s.deleteVolume},
	}
}

func volumeTarget(v *volume) map[string]any { return map[string]any{"project_id": v.ProjectID} }

// visibleVolume loads a volume the caller may see (its project's; any for
// admins) with its details; 404 otherwise.
func (s *Service) visibleVolume(r *http.Request, q db.Querier, id string) (*volume, error) {
	ctx := r.Context()
	v, err := volumeByID(ctx, q, id)
	if db.IsNoRows(err) || err == nil && v.ProjectID != callerProject(r) && !isAdmin(r) {
		return nil, notFound("Volume %s could not be found.", id)
	}
	if err != nil {
		return nil, err
	}
	return v, loadDetails(ctx, q, v)
}

// resolveType is VolumeType.get_by_name_or_id: an id (uuid-like) first, then
// a name; a private type the caller's project has no access to is not found.
func (s *Service) resolveType(r *http.Request, q db.Querier, ref string) (*volumeType, error) {
	ctx := r.Context()
	var t *volumeType
	var err error
	if _, perr := uuid.Parse(ref); perr == nil {
		t, err = typeByID(ctx, q, ref)
		if db.IsNoRows(err) {
			t, err = typeByName(ctx, q, ref)
		}
	} else {
		t, err = typeByName(ctx, q, ref)
	}
	if db.IsNoRows(err) {
		return nil, notFound("Volume type with name %s could not be found.", ref)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := typeAccessible(ctx, q, t, callerProject(r), isAdmin(r)); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFound("Volume type with name %s could not be found.", ref)
	}
	return t, nil
}

// multiattachType is a type whose extra spec multiattach is "<is> True".
func multiattachType(t *volumeType) bool {
	v, ok := t.ExtraSpecs["multiattach"]
	return ok && specMatches("True", v) && strings.Contains(v, "<is>")
}

// createRequest is a volume create body once validated.
type createRequest struct {
	Name, Description                *string
	Size                             *int
	TypeRef, SnapshotID, SourceVolID *string
	ImageRef, BackupID, AZ           *string
	Metadata                         map[string]string
	Multiattach                      bool
}

func optString(m map[string]any, keys ...string) *string {
	for _, k := range keys {
		if v, ok := m[k].(string); ok {
			return &v
		}
	}
	return nil
}

// cleanText is clean_name_and_description: surrounding whitespace removed.
func cleanText(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

func parseCreate(body map[string]any) (createRequest, error) {
	vol, _ := body["volume"].(map[string]any)
	var c createRequest
	c.Name = cleanText(optString(vol, "name", "display_name"))
	c.Description = cleanText(optString(vol, "description", "display_description"))
	switch size := vol["size"].(type) {
	case float64:
		n := int(size)
		c.Size = &n
	case string:
		n, err := strconv.Atoi(size)
		if err != nil {
			return c, badRequest("Invalid input received: Volume size '%s' must be an integer and greater than 0", size)
		}
		c.Size = &n
	}
	c.TypeRef = optString(vol, "volume_type")
	if c.TypeRef != nil && *c.TypeRef == "" {
		c.TypeRef = nil
	}
	c.SnapshotID = optString(vol, "snapshot_id")
	c.SourceVolID = optString(vol, "source_volid")
	c.ImageRef = optString(vol, "imageRef", "image_id")
	c.BackupID = optString(vol, "backup_id")
	c.AZ = optString(vol, "availability_zone")
	if md, ok := vol["metadata"].(map[string]any); ok {
		c.Metadata = map[string]string{}
		for k, v := range md {
			c.Metadata[k], _ = v.(string)
		}
	}
	if m, ok := vol["multiattach"]; ok && m != nil {
		b, _ := boolFromString(m)
		c.Multiattach = b
	}
	return c, nil
}

// BackupSource is what a volume made from a backup needs of it (lookupBackup).
type BackupSource struct {
	ID        string
	ProjectID string
	Status    string
	SizeGB    int
}

func (s *Service) createVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyVolumeCreate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body map[string]any
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	req, err := parseCreate(body)
	if err != nil {
		return httpapi.Response{}, err
	}
	if req.Multiattach {
		return httpapi.Response{}, badRequest("multiattach parameter has been removed. The default behavior is to use " +
			"multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type " +
			"and use it to create multiattach volumes.")
	}
	if req.BackupID != nil && !since(r, 47) {
		req.BackupID = nil
	}
	// the image is the image service's: read it with the caller's token
	// before the transaction, as upstream's API does
	var image map[string]any
	var imageID string
	if req.ImageRef != nil {
		if s.opts.Images == nil {
			return httpapi.Response{}, badRequest("Invalid input received: no image service to create a volume from.")
		}
		if err := s.enforce(r, policyVolumeCreateFromImage, s.ownTarget(r)); err != nil {
			return httpapi.Response{}, err
		}
		ref := *req.ImageRef
		imageID = ref[strings.LastIndex(ref, "/")+1:]
		token := r.Header.Get("X-Auth-Token")
		image, err = s.opts.Images.Get(ctx, token, imageID)
		if err != nil {
			var apiErr *APIError
			if errors.As(err, &apiErr) && (apiErr.Status == 404 || apiErr.Status == 403) {
				return httpapi.Response{}, badRequest("Invalid image identifier or unable to access requested image.")
			}
			return httpapi.Response{}, err
		}
		if st, _ := image["status"].(string); st != "active" {
			return httpapi.Response{}, badRequest("Invalid input received: Image %s is not active.", imageID)
		}
	}
	id := uuid.NewString()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		return s.insertVolume(r, tx, id, req, image, imageID)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	v, err := s.visibleVolume(r, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"volume": s.volumeDetail(r, v)}), nil
}

// insertVolume is volume/api.py create and its flow's checks, then the
// scheduler's choice, in one transaction with the quota count.
func (s *Service) insertVolume(r *http.Request, tx *db.Tx, id string, req createRequest, image map[string]any, imageID string) error {
	ctx := r.Context()
	project := callerProject(r)
	var vtype *volumeType
	var err error
	if req.TypeRef != nil {
		if vtype, err = s.resolveType(r, tx, *req.TypeRef); err != nil {
			return err
		}
	}
	size := 0
	if req.Size != nil {
		size = *req.Size
	}
	az := s.opts.AvailabilityZone
	if req.AZ != nil {
		az = *req.AZ
	}
	var snapshotSize, sourceSize int
	// a volume made from a snapshot or another volume is made where they
	// are, bypassing the scheduler (VolumeCastTask, snapshot_same_host)
	var srcTypeID, srcHost string
	if req.SnapshotID != nil {
		var status, volID string
		var typeID *string
		err := tx.QueryRowContext(ctx, `SELECT status, volume_size, volume_id, volume_type_id, host FROM volume_snapshots
			WHERE id = ? AND (project_id = ? OR ?)`, *req.SnapshotID, project, isAdmin(r)).Scan(&status, &snapshotSize, &volID, &typeID, &srcHost)
		if db.IsNoRows(err) {
			return notFound("Snapshot %s could not be found.", *req.SnapshotID)
		}
		if err != nil {
			return err
		}
		if status != "available" {
			return badRequest("Invalid snapshot: Originating snapshot status must be one of 'available' values")
		}
		if req.Size == nil {
			size = snapshotSize
		} else if size < snapshotSize {
			return badRequest("Invalid input received: Volume size '%d'GB cannot be smaller than the snapshot size %dGB. They must be >= original snapshot size.", size, snapshotSize)
		}
		if typeID != nil {
			srcTypeID = *typeID
		}
	}
	if req.SourceVolID != nil {
		src, err := volumeByID(ctx, tx, *req.SourceVolID)
		if db.IsNoRows(err) || err == nil && src.ProjectID != project && !isAdmin(r) {
			return notFound("Volume %s could not be found.", *req.SourceVolID)
		}
		if err != nil {
			return err
		}
		if src.Status != statusAvailable && src.Status != statusInUse {
			return badRequest("Invalid volume: Unable to create a volume from an originating source volume when its status is not 'available' or 'in-use'.")
		}
		sourceSize = src.Size
		if req.Size == nil {
			size = sourceSize
		} else if size < sourceSize {
			return badRequest("Invalid input received: Volume size '%d'GB cannot be smaller than original volume size  %dGB. They must be >= original volume size.", size, sourceSize)
		}
		srcTypeID, srcHost = src.VolumeTypeID, src.Host
		if req.AZ == nil {
			az = src.AvailabilityZone
		}
	}
	if req.BackupID != nil {
		b, err := lookupBackup(r, tx, *req.BackupID)
		if err != nil {
			return err
		}
		if b.Status != "available" {
			return badRequest("Invalid backup: Backup status must be available but is %s.", b.Status)
		}
		if req.Size == nil {
			size = b.SizeGB
		} else if size < b.SizeGB {
			return badRequest("Invalid input received: Volume size %dGB cannot be smaller than the backup size %dGB. It must be >= backup size.", size, b.SizeGB)
		}
	}
	if image != nil {
		minDisk := int(num(image["min_disk"]))
		imageBytes := num(image["size"])
		if req.Size == nil {
			size = max(minDisk, int((imageBytes+gib-1)/gib), 1)
		}
		if imgGB := int((imageBytes + gib - 1) / gib); imgGB > size {
			return badRequest("Invalid input received: Size of specified image %d is larger than volume size %d.", imgGB, size)
		}
		if minDisk > size {
			return badRequest("Invalid input received: Volume size %dGB cannot be smaller than the image minDisk size %dGB.", size, minDisk)
		}
	}
	if size <= 0 {
		shown := "None"
		if req.Size != nil {
			shown = strconv.Itoa(size)
		}
		return badRequest("Invalid input received: Volume size '%s' must be an integer and greater than 0", shown)
	}
	if vtype == nil && srcTypeID != "" {
		if vtype, err = typeByID(ctx, tx, srcTypeID); err != nil && !db.IsNoRows(err) {
			return err
		}
	}
	if vtype == nil {
		if vtype, err = s.defaultType(ctx, tx); err != nil {
			return err
		}
	}
	zones, err := availabilityZones(ctx, tx, s.opts.AvailabilityZone)
	if err != nil {
		return err
	}
	if !contains(zones, az) {
		return badRequest("Invalid input received: Availability zone '%s' is invalid.", az)
	}
	if err := s.checkPerVolumeSize(ctx, tx, project, size); err != nil {
		return err
	}
	if err := s.checkQuota(ctx, tx, project, volumeDeltas(vtype.Name, size)); err != nil {
		return err
	}
	candidates, err := pools(ctx, tx, s.now())
	if err != nil {
		return err
	}
	status, host, failReason := statusCreating, "", (*string)(nil)
	if srcHost != "" {
		host = srcHost
	} else if chosen, err := schedule(candidates, scheduleRequest{SizeGB: size, AvailabilityZone: az, ExtraSpecs: vtype.ExtraSpecs}); err != nil {
		// as upstream: the volume exists, in error, the scheduler's reason logged
		status, failReason = statusError, strp(err.Error())
		s.log.Warn("no valid backend for volume", "volume", id, "size", size, "type", vtype.Name, "zone", az)
	} else {
		host = chosen
	}
	var imageRef *string
	if image != nil {
		imageRef = &imageID
	}
	now := dbTime(s.now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO volumes (id, project_id, user_id, name, description, size, status,
		attach_status, availability_zone, volume_type_id, host, snapshot_id, source_volid, backup_id, image_id, multiattach,
		fail_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'detached', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, project, callerUser(r), req.Name, req.Description, size, status, az, vtype.ID, host, req.SnapshotID,
		req.SourceVolID, req.BackupID, imageRef, multiattachType(vtype), failReason, now, now); err != nil {
		return err
	}
	return setKeyValues(ctx, tx, "volume_metadata", "volume_id", id, req.Metadata, false)
}

const gib = 1 << 30

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

// availabilityZones are the zones volumes may be created in: the configured
// default and every volume service's.
func availabilityZones(ctx context.Context, q db.Querier, def string) ([]string, error) {
	zones, err := db.QueryStrings(ctx, q, `SELECT DISTINCT availability_zone FROM volume_services ORDER BY availability_zone`)
	if err != nil {
		return nil, err
	}
	if !contains(zones, def) {
		zones = append(zones, def)
	}
	return zones, nil
}

func (s *Service) showVolume(r *http.Request) (httpapi.Response, error) {
	v, err := s.visibleVolume(r, s.db, r.PathValue("volume_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyVolumeGet, volumeTarget(v)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"volume": s.volumeDetail(r, v)}), nil
}

func (s *Service) updateVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	var body struct {
		Volume map[string]any `json:"volume"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("volume_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.visibleVolume(r, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyVolumeUpdate, volumeTarget(v)); err != nil {
			return err
		}
		if v.Status == statusMaintenance {
			return badRequest("Invalid volume: The volume cannot be updated during maintenance.")
		}
		name, desc := v.Name, v.Description
		if n := optString(body.Volume, "name", "display_name"); n != nil || hasKey(body.Volume, "name", "display_name") {
			name = cleanText(n)
		}
		if d := optString(body.Volume, "description", "display_description"); d != nil || hasKey(body.Volume, "description", "display_description") {
			desc = cleanText(d)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volumes SET name = ?, description = ?, updated_at = ? WHERE id = ?`,
			name, desc, dbTime(s.now()), id); err != nil {
			return err
		}
		if md, ok := body.Volume["metadata"].(map[string]any); ok {
			kv := map[string]string{}
			for k, val := range md {
				kv[k], _ = val.(string)
			}
			return setKeyValues(ctx, tx, "volume_metadata", "volume_id", id, kv, false)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	v, err := s.visibleVolume(r, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"volume": s.volumeDetail(r, v)}), nil
}

func hasKey(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// deletableStatuses are the statuses delete accepts without force.
var deletableStatuses = []string{statusAvailable, statusError, statusErrorRestoring, statusErrorExtending, "error_managing"}

func (s *Service) deleteVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	q := r.URL.Query()
	cascade := boolParam(q.Get("cascade"))
	force := since(r, 23) && boolParam(q.Get("force"))
	id := r.PathValue("volume_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.visibleVolume(r, tx, id)
		if err != nil {
			return err
		}
		if force {
			if err := s.enforce(r, policyVolumeForceDelete, volumeTarget(v)); err != nil {
				return err
			}
		}
		if err := s.enforce(r, policyVolumeDelete, volumeTarget(v)); err != nil {
			return err
		}
		if v.Host == "" {
			// never scheduled: nothing on a backend, the row goes at once
			_, err := tx.ExecContext(ctx, `DELETE FROM volumes WHERE id = ?`, id)
			return err
		}
		var snapshots int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ?`, id).Scan(&snapshots); err != nil {
			return err
		}
		var undeletable int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ? AND status NOT IN ('available', 'error', 'deleting')`,
			id).Scan(&undeletable); err != nil {
			return err
		}
		ok := v.AttachStatus != attachAttached && (force || contains(deletableStatuses, v.Status)) &&
			(v.MigrationStatus == nil || *v.MigrationStatus == "success" || *v.MigrationStatus == "error")
		if cascade {
			ok = ok && (force || undeletable == 0)
		} else {
			ok = ok && snapshots == 0
		}
		if !ok {
			statusPart := ""
			if !force {
				statusPart = "status must be " + strings.Join(deletableStatuses, " or ") + " and"
			}
			return badRequest("Invalid volume: Volume %s must not be migrating, attached, belong to a group, have snapshots, "+
				"awaiting a transfer, or be disassociated from snapshots after volume transfer.", statusPart)
		}
		now := dbTime(s.now())
		if cascade && snapshots > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = 'deleting', updated_at = ? WHERE volume_id = ?`,
				now, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, statusDeleting, now, id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// boolParam is utils.get_bool_param over a query value (strict=False: what
// is not true is false).
func boolParam(v string) bool {
	b, ok := boolFromString(v)
	return ok && b
}

// jsonString renders v as JSON text for a TEXT column.
func jsonString(v any) *string {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	s := string(data)
	return &s
}
