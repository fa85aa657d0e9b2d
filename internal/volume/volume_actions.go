package volume

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// volumeActionRoutes is POST /volumes/{id}/action: one body key names the
// action (contrib/volume_actions.py, admin_actions.py, v3 revert).
func (s *Service) volumeActionRoutes() []httpapi.Route {
	return []httpapi.Route{{Method: "POST", Path: "/v3/volumes/{volume_id}/action", Handler: s.volumeAction}}
}

// volumeActions are the handlers by action name; each gets the action's
// own body (the value of its key).
func (s *Service) volumeActions() map[string]func(r *http.Request, body json.RawMessage) (httpapi.Response, error) {
	return map[string]func(r *http.Request, body json.RawMessage) (httpapi.Response, error){
		"os-extend":                s.extendVolume,
		"os-reset_status":          s.resetStatus,
		"os-set_bootable":          s.setBootable,
		"os-update_readonly_flag":  s.updateReadonly,
		"os-volume_upload_image":   s.uploadToImage,
		"revert":                   s.revertVolume,
		"os-reserve":               s.reserveVolume,
		"os-unreserve":             s.unreserveVolume,
		"os-begin_detaching":       s.beginDetaching,
		"os-roll_detaching":        s.rollDetaching,
		"os-initialize_connection": s.initializeConnection,
		"os-terminate_connection":  s.terminateConnection,
		"os-attach":                s.attachVolume,
		"os-detach":                s.detachVolume,
		"os-force_delete":          s.forceDelete,
		"os-force_detach":          s.forceDetach,
	}
}

func (s *Service) volumeAction(r *http.Request) (httpapi.Response, error) {
	var body map[string]json.RawMessage
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	actions := s.volumeActions()
	for name, h := range s.moreVolumeActions() {
		actions[name] = h
	}
	for _, name := range sortedKeys(body) {
		if h, ok := actions[name]; ok {
			if name == "revert" && !since(r, 40) {
				return httpapi.Response{}, versionNotFound(r)
			}
			return h(r, body[name])
		}
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", strings.Join(sortedKeys(body), ","))
}

// actionVolume loads the action's volume and checks rule on it.
func (s *Service) actionVolume(r *http.Request, q db.Querier, rule string) (*volume, error) {
	v, err := s.visibleVolume(r, q, r.PathValue("volume_id"))
	if err != nil {
		return nil, err
	}
	if rule != "" {
		if err := s.enforce(r, rule, volumeTarget(v)); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// decodeAction reads an action's object; a missing or non-object value is
// upstream's schema message for the action key.
func decodeAction(raw json.RawMessage, action string, dst any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return badRequest("Invalid input for field/attribute %s. Value: None. None is not of type 'object'", action)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return badRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'object'", action, raw, raw)
	}
	return nil
}

// intParam reads a size given as a JSON number or a numeric string.
func intParam(v any, field string) (int, error) {
	switch n := v.(type) {
	case float64:
		if n == float64(int(n)) && n >= 1 {
			return int(n), nil
		}
	case string:
		if i, err := strconv.Atoi(n); err == nil && i >= 1 {
			return i, nil
		}
	case nil:
		return 0, badRequest("Invalid input for field/attribute %s. Value: None. None is not of type 'integer', 'string'", field)
	}
	return 0, badRequest("Invalid input for field/attribute %s. Value: %v. %v is less than the minimum of 1", field, v, v)
}

func (s *Service) extendVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		NewSize any `json:"new_size"`
	}
	if err := decodeAction(raw, "os-extend", &in); err != nil {
		return httpapi.Response{}, err
	}
	newSize, err := intParam(in.NewSize, "new_size")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, "")
		if err != nil {
			return err
		}
		// 3.42: an in-use volume grows online
		attached := since(r, 42) && v.Status == statusInUse
		rule, expected := policyExtend, statusAvailable
		if attached {
			rule, expected = policyExtendAttached, statusInUse
		}
		if err := s.enforce(r, rule, volumeTarget(v)); err != nil {
			return err
		}
		if newSize <= v.Size {
			return badRequest("Invalid input received: New size for extend must be greater than current size. (current: %d, extended: %d).", v.Size, newSize)
		}
		if v.Status != expected {
			return badRequest("Invalid volume: Volume %s status must be '{'status': '%s'}' to extend, currently %s.", v.ID, expected, v.Status)
		}
		if err := s.checkPerVolumeSize(ctx, tx, v.ProjectID, newSize); err != nil {
			return err
		}
		increase := newSize - v.Size
		deltas := map[string]int{"gigabytes": increase}
		if v.Type != nil {
			deltas["gigabytes_"+v.Type.Name] = increase
		}
		if err := s.checkQuota(ctx, tx, v.ProjectID, deltas); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = ?, target_size = ?, updated_at = ?
			WHERE id = ?`, statusExtending, v.Status, newSize, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// resetStatusValues are the values os-reset_status accepts (the schema's
// volume_status, volume_attach_status and volume_migration_status formats).
var (
	resetStatuses = []string{"available", "creating", "deleting", "error", "error_deleting", "error_managing", "managing",
		"attaching", "in-use", "detaching", "maintenance", "reserved", "error_extending", "extending", "downloading",
		"uploading", "retyping", "backing-up", "restoring-backup", "error_restoring", "reverting", "awaiting-transfer"}
	resetAttachStatuses    = []string{"attached", "detached"}
	resetMigrationStatuses = []string{"migrating", "error", "success", "completing", "none", "starting"}
)

func (s *Service) resetStatus(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		Status          *string `json:"status"`
		AttachStatus    *string `json:"attach_status"`
		MigrationStatus *string `json:"migration_status"`
	}
	if err := decodeAction(raw, "os-reset_status", &in); err != nil {
		return httpapi.Response{}, err
	}
	check := func(v *string, valid []string, field string) error {
		if v != nil && !contains(valid, strings.ToLower(*v)) {
			return badRequest("Invalid input for field/attribute %s. Value: %s. '%s' is not a '%s'", field, *v, *v, field)
		}
		return nil
	}
	for _, err := range []error{check(in.Status, resetStatuses, "status"), check(in.AttachStatus, resetAttachStatuses, "attach_status"),
		check(in.MigrationStatus, resetMigrationStatuses, "migration_status")} {
		if err != nil {
			return httpapi.Response{}, err
		}
	}
	if in.Status == nil && in.AttachStatus == nil && in.MigrationStatus == nil {
		return httpapi.Response{}, badRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.")
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyResetStatus)
		if err != nil {
			return err
		}
		if in.AttachStatus != nil && strings.ToLower(*in.AttachStatus) == attachDetached && len(v.Attachments) > 0 {
			if in.Status != nil && strings.ToLower(*in.Status) == statusInUse {
				return badRequest("Cannot reset-state to in-use because volume does not have any attachments.")
			}
		}
		now := dbTime(s.now())
		if in.Status != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, strings.ToLower(*in.Status), now, v.ID); err != nil {
				return err
			}
		}
		if in.AttachStatus != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE volumes SET attach_status = ?, updated_at = ? WHERE id = ?`, strings.ToLower(*in.AttachStatus), now, v.ID); err != nil {
				return err
			}
			if strings.ToLower(*in.AttachStatus) == attachDetached {
				// as upstream: a detached volume keeps no attachments
				if _, err := tx.ExecContext(ctx, `DELETE FROM volume_attachments WHERE volume_id = ?`, v.ID); err != nil {
					return err
				}
			}
		}
		if in.MigrationStatus != nil {
			ms := strings.ToLower(*in.MigrationStatus)
			var val *string
			if ms != "none" {
				val = &ms
			}
			if _, err := tx.ExecContext(ctx, `UPDATE volumes SET migration_status = ?, updated_at = ? WHERE id = ?`, val, now, v.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) setBootable(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in map[string]any
	if err := decodeAction(raw, "os-set_bootable", &in); err != nil {
		return httpapi.Response{}, err
	}
	val, present := in["bootable"]
	b, ok := boolFromString(val)
	if !present {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-set_bootable. Value: %s. 'bootable' is a required property", raw)
	}
	if !ok {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute bootable. Value: %v. %v is not one of the valid boolean values", val, val)
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyVolumeUpdate)
		if err != nil {
			return err
		}
		if v.Status == statusMaintenance {
			return badRequest("Invalid volume: The volume cannot be updated during maintenance.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET bootable = ?, updated_at = ? WHERE id = ?`, b, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(nil), nil
}

func (s *Service) updateReadonly(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in map[string]any
	if err := decodeAction(raw, "os-update_readonly_flag", &in); err != nil {
		return httpapi.Response{}, err
	}
	val, present := in["readonly"]
	b, ok := boolFromString(val)
	if !present || !ok {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute readonly. Value: %v. %v is not one of the valid boolean values", val, val)
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyUpdateReadonly)
		if err != nil {
			return err
		}
		if v.Status != statusAvailable {
			return badRequest("Invalid volume: Volume %s status must be available to update readonly flag.", v.ID)
		}
		return setKeyValues(ctx, tx, "volume_admin_metadata", "volume_id", v.ID, map[string]string{"readonly": pyBool(b)}, true)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) revertVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		SnapshotID *string `json:"snapshot_id"`
	}
	if err := decodeAction(raw, "revert", &in); err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, "")
		if err != nil {
			return err
		}
		var latest string
		var snapSize int
		var snapStatus string
		err = tx.QueryRowContext(ctx, `SELECT id, volume_size, status FROM volume_snapshots WHERE volume_id = ?
			ORDER BY created_at DESC, id DESC LIMIT 1`, v.ID).Scan(&latest, &snapSize, &snapStatus)
		if db.IsNoRows(err) {
			return badRequest("Volume %s doesn't have any snapshots.", v.ID)
		}
		if err != nil {
			return err
		}
		if in.SnapshotID == nil || *in.SnapshotID != latest {
			sid := "None"
			if in.SnapshotID != nil {
				sid = *in.SnapshotID
			}
			return badRequest("Specified snapshot %s is None or not the latest one of volume %s.", sid, v.ID)
		}
		if v.Size != snapSize {
			return badRequest("Can't revert volume %s to its latest snapshot %s. The volume size must be equal to the snapshot size.", v.ID, latest)
		}
		if err := s.enforce(r, policyRevert, volumeTarget(v)); err != nil {
			return err
		}
		if v.Status != statusAvailable {
			return conflict("Invalid volume: Can't revert volume %s to its latest snapshot %s. Volume's status must be 'available'.", v.ID, latest)
		}
		if snapStatus != "available" {
			return conflict("Invalid snapshot: Can't revert volume %s to its latest snapshot %s. Snapshot's status must be 'available'.", v.ID, latest)
		}
		now := dbTime(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = 'restoring', updated_at = ? WHERE id = ?`, now, latest); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, revert_snapshot_id = ?, updated_at = ? WHERE id = ?`,
			statusReverting, latest, now, v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) uploadToImage(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in map[string]any
	if err := decodeAction(raw, "os-volume_upload_image", &in); err != nil {
		return httpapi.Response{}, err
	}
	name, ok := in["image_name"].(string)
	if !ok || name == "" || len(name) > 255 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute image_name. Value: %v. 'image_name' is a required property", in["image_name"])
	}
	str := func(k, def string) string {
		if v, ok := in[k].(string); ok && v != "" {
			return v
		}
		return def
	}
	diskFormat, containerFormat := str("disk_format", "raw"), str("container_format", "bare")
	if _, ok := uploadFormats[diskFormat]; !ok && diskFormat != "raw" {
		// the formats qemu-img writes (upstream's ValueError for the rest)
		return httpapi.Response{}, badRequest("Invalid input received: disk_format %s is not supported for upload.", diskFormat)
	}
	force := false
	if f, present := in["force"]; present {
		b, ok := boolFromString(f)
		if !ok {
			return httpapi.Response{}, badRequest("Invalid input for field/attribute force. Value: %v. %v is not one of the valid boolean values", f, f)
		}
		force = b
	}
	_ = force // upstream's enable_force_upload is False: force is ignored
	fields := map[string]any{"name": name, "disk_format": diskFormat, "container_format": containerFormat}
	if since(r, 1) {
		fields["visibility"] = str("visibility", "private")
		protected, _ := boolFromString(in["protected"])
		fields["protected"] = protected
	}
	ctx := r.Context()
	v, err := s.actionVolume(r, s.db, policyUploadImage)
	if err != nil {
		return httpapi.Response{}, err
	}
	if fields["visibility"] == "public" {
		if err := s.enforce(r, policyUploadPublic, volumeTarget(v)); err != nil {
			return httpapi.Response{}, err
		}
	}
	if s.opts.Images == nil {
		return httpapi.Response{}, badRequest("Invalid input received: no image service to upload to.")
	}
	// the volume to uploading first, so two uploads do not race
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := volumeByID(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		if cur.Status != statusAvailable {
			return badRequest("Invalid volume: Volume %s status must be available", v.ID)
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = ?, updated_at = ? WHERE id = ?`,
			statusUploading, cur.Status, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	for k, val := range v.ImageMetadata {
		// _merge_volume_image_meta: the source image's properties carry over
		if _, ok := fields[k]; !ok && !contains([]string{"image_id", "image_name", "checksum", "size", "min_disk", "min_ram"}, k) {
			fields[k] = val
		}
	}
	image, err := s.opts.Images.Create(ctx, r.Header.Get("X-Auth-Token"), fields)
	if err != nil {
		_, _ = s.db.ExecContext(ctx, `UPDATE volumes SET status = ?, previous_status = NULL WHERE id = ? AND status = ?`,
			statusAvailable, v.ID, statusUploading)
		return httpapi.Response{}, badRequest("%v", err)
	}
	imageID, _ := image["id"].(string)
	if _, err := s.db.ExecContext(ctx, `UPDATE volumes SET upload_image_id = ? WHERE id = ?`, imageID, v.ID); err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	var typeName any
	if v.Type != nil {
		typeName = map[string]any{"id": v.Type.ID, "name": v.Type.Name, "description": v.Type.Description,
			"is_public": v.Type.IsPublic, "extra_specs": v.Type.ExtraSpecs}
	}
	resp := map[string]any{"id": v.ID, "updated_at": viewTime(&v.UpdatedAt), "status": statusUploading,
		"display_description": nullable(v.Description), "size": v.Size, "volume_type": typeName, "image_id": imageID,
		"container_format": image["container_format"], "disk_format": image["disk_format"], "image_name": image["name"]}
	if p, ok := image["protected"]; ok {
		resp["protected"] = p
	}
	if vis, ok := image["visibility"]; ok {
		resp["visibility"] = vis
	}
	return httpapi.JSON(http.StatusAccepted, map[string]any{"os-volume_upload_image": resp}), nil
}

func (s *Service) forceDelete(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyAdminForceDel)
		if err != nil {
			return err
		}
		var snapshots int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ?`, v.ID).Scan(&snapshots); err != nil {
			return err
		}
		if snapshots > 0 || v.AttachStatus == attachAttached {
			return badRequest("Invalid volume: Volume must not be migrating, attached, belong to a group, have snapshots, " +
				"awaiting a transfer, or be disassociated from snapshots after volume transfer.")
		}
		if v.Host == "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM volumes WHERE id = ?`, v.ID)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, statusDeleting, dbTime(s.now()), v.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) forceDetach(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		AttachmentID *string        `json:"attachment_id"`
		Connector    map[string]any `json:"connector"`
	}
	if err := decodeAction(raw, "os-force_detach", &in); err != nil {
		return httpapi.Response{}, err
	}
	v, err := s.actionVolume(r, s.db, policyForceDetach)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, a := range v.Attachments {
		if in.AttachmentID != nil && a.ID != *in.AttachmentID {
			continue
		}
		if err := s.disconnect(r.Context(), v, a); err != nil {
			return httpapi.Response{}, err
		}
	}
	s.nudge()
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
