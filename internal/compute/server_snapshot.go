package compute

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Task states of snapshots, backups and shelving (nova.compute.task_states).
const (
	taskImageSnapshotPending = "image_snapshot_pending"
	taskImageSnapshot        = "image_snapshot"
	taskImageBackup          = "image_backup"
	taskImagePendingUpload   = "image_pending_upload"
	taskImageUploading       = "image_uploading"
)

// SnapshotImages is the image service as a snapshot needs it: the image record
// made as the caller (token), before the host's agent uploads its data
// (upstream's compute_utils.create_image).
type SnapshotImages interface {
	CreateImage(ctx context.Context, token string, meta map[string]any) (Image, error)
}

// pendingSnapshot is the image a snapshot, backup or shelve is uploading to,
// kept on the instance until the agent reports the upload done.
type pendingSnapshot struct {
	ImageID    string `json:"image_id"`
	Action     string `json:"action"` // createImage, createBackup or shelve
	BackupType string `json:"backup_type,omitempty"`
	Rotation   int    `json:"rotation,omitempty"`
}

// snapshotStates are the vm_states a snapshot or backup may start from
// (upstream's check_instance_state on API.snapshot and API.backup).
var snapshotStates = []string{vmActive, vmStopped, vmPaused, vmSuspended}

// nonInheritableImageProperties are the image properties a snapshot does not
// take from the server's image (upstream's NON_INHERITABLE_IMAGE_PROPERTIES and
// the default non_inheritable_image_properties).
var nonInheritableImageProperties = []string{"cinder_encryption_key_id", "cinder_encryption_key_deletion_policy",
	"img_signature", "img_signature_hash_method", "img_signature_key_type", "img_signature_certificate_uuid",
	"cache_in_nova", "bittorrent"}

// createImage is the createImage action: an image record made now, as the
// caller, and the server's disk uploaded to it by its host's agent (task
// image_snapshot_pending, image_snapshot, image_pending_upload,
// image_uploading). Before 2.45 the answer is 202 with the image's URL in
// Location, from 2.45 {"image_id": ...}.
func (s *Service) createImage(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:servers:create_image")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Name     string            `json:"name"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(arg, &req); err != nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute createImage.")
	}
	if in.ImageRef == "" {
		if err := s.enforce(r, "os_compute_api:servers:create_image:allow_volume_backed",
			map[string]any{"target.project_id": in.ProjectID, "target.user_id": in.UserID}); err != nil {
			return httpapi.Response{}, err
		}
		// Upstream snapshots each volume (a Cinder snapshot per volume and an
		// image holding the block device mapping): not done here yet.
		return httpapi.Response{}, badRequest("Snapshot of volume-backed instances is not supported yet.")
	}
	img, err := s.startSnapshot(r, in, "createImage", taskImageSnapshotPending, req.Name, "snapshot", req.Metadata,
		pendingSnapshot{Action: "createImage"})
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.imageCreated(r, img.ID, true), nil
}

// createBackup is the createBackup action: a snapshot with image_type backup
// and backup_type, after which the server's backups of that type beyond
// rotation, the oldest first, are deleted (upstream's _rotate_backups).
func (s *Service) createBackup(r *http.Request, arg json.RawMessage) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-create-backup")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Name       string            `json:"name"`
		BackupType string            `json:"backup_type"`
		Rotation   json.Number       `json:"rotation"`
		Metadata   map[string]string `json:"metadata"`
	}
	if err := json.Unmarshal(arg, &req); err != nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute createBackup.")
	}
	rotation, err := optionalInt(req.Rotation.String())
	if err != nil || rotation < 0 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute rotation. Value: %s.", req.Rotation)
	}
	if in.ImageRef == "" {
		return httpapi.Response{}, badRequest("Backup is not supported for volume-backed instances.")
	}
	props := map[string]string{}
	for k, v := range req.Metadata {
		props[k] = v
	}
	props["backup_type"] = req.BackupType
	img, err := s.startSnapshot(r, in, "createBackup", taskImageBackup, req.Name, "backup", props,
		pendingSnapshot{Action: "createBackup", BackupType: req.BackupType, Rotation: rotation})
	if err != nil {
		return httpapi.Response{}, err
	}
	// Before 2.45 the Location names the image only when the rotation keeps it.
	return s.imageCreated(r, img.ID, rotation > 0), nil
}

// dropImagesOfDeleted deletes the images a server being deleted leaves
// behind: a shelved server's image (upstream's delete of shelved_image_id) and
// the image of a snapshot it had under way, whose upload will not come.
func (s *Service) dropImagesOfDeleted(ctx context.Context, in *instance) {
	if (in.VMState == vmShelved || in.VMState == vmShelvedOffloaded) && in.Request.ShelvedImage != "" {
		s.dropImage(ctx, "", in.Request.ShelvedImage, in.UUID)
	}
	if in.Request.Snapshot != nil {
		s.dropImage(ctx, "", in.Request.Snapshot.ImageID, in.UUID)
	}
}

// imageCreated is the answer of createImage and createBackup: the image's id in
// the body from 2.45, its URL in Location before.
func (s *Service) imageCreated(r *http.Request, imageID string, location bool) httpapi.Response {
	if since(r, 45) {
		return httpapi.Response{Status: http.StatusAccepted, Body: map[string]any{"image_id": imageID}}
	}
	resp := httpapi.Response{Status: http.StatusAccepted}
	if location {
		resp.Header = http.Header{"Location": {s.base() + "/v2.1/images/" + imageID}}
	}
	return resp
}

// startSnapshot makes the image record as the caller and starts task on the
// instance, from one of snapshotStates with no task (a lock does not stop a
// snapshot, as upstream). An instance that changed meanwhile has its image
// deleted again.
func (s *Service) startSnapshot(r *http.Request, in *instance, action, task, name, imageType string,
	extra map[string]string, pending pendingSnapshot) (Image, error) {
	if !slices.Contains(snapshotStates, in.VMState) {
		return Image{}, invalidState(action, in, "vm_state", in.VMState)
	}
	if in.TaskState != "" {
		return Image{}, invalidState(action, in, "task_state", in.TaskState)
	}
	img, err := s.createSnapshotImage(r, in, name, imageType, extra)
	if err != nil {
		return Image{}, err
	}
	pending.ImageID = img.ID
	err = s.changeSnapshotState(r, in, action, snapshotStates, task, false, func(cur *instance) {
		cur.Request.Snapshot = &pending
	})
	if err != nil {
		s.dropImage(r.Context(), "", img.ID, in.UUID)
		return Image{}, err
	}
	return img, nil
}

// changeSnapshotState starts task on the placed instance in one of the
// vm_states from with no task, as changeState does, except that only checkLock
// makes a lock matter (snapshots and backups ignore it, as upstream).
func (s *Service) changeSnapshotState(r *http.Request, in *instance, action string, from []string, task string,
	checkLock bool, change func(*instance)) error {
	ctx := r.Context()
	var done *instance
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		done = nil
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted {
			return notFound("Instance %s could not be found.", cur.UUID)
		}
		if checkLock {
			if err := s.checkLocked(r, cur); err != nil {
				return err
			}
		}
		if !slices.Contains(from, cur.VMState) {
			return invalidState(action, cur, "vm_state", cur.VMState)
		}
		if cur.TaskState != "" {
			return invalidState(action, cur, "task_state", cur.TaskState)
		}
		if cur.Host == "" && cur.VMState != vmShelvedOffloaded {
			return conflict("Instance %s is not ready", cur.UUID)
		}
		if change != nil {
			change(cur)
		}
		cur.TaskState, cur.UpdatedAt = task, stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		done = cur
		return s.startAction(ctx, tx, r, cur, action)
	})
	if err != nil {
		return err
	}
	*in = *done
	if in.Host != "" {
		s.kick(in.Host)
	} else {
		s.wake()
	}
	return nil
}

// createSnapshotImage makes the image a snapshot of the instance uploads to,
// as upstream's create_image: the server's image's properties (less the
// non-inheritable ones) with instance_uuid, user_id, image_type,
// base_image_ref and owner_* kept, extra on top; private to the caller's
// project, or shared with the server's when another project's admin asks.
// The agent writes qcow2, so the formats are known now (upstream fills them
// in at upload).
func (s *Service) createSnapshotImage(r *http.Request, in *instance, name, imageType string, extra map[string]string) (Image, error) {
	creator, ok := s.opts.Images.(SnapshotImages)
	if !ok {
		return Image{}, httpapi.Errorf(http.StatusNotImplemented, "The requested functionality is not supported.")
	}
	creds := auth.FromContext(r.Context())
	props := map[string]any{}
	for k, v := range in.Request.Image.Properties {
		if slices.Contains(nonInheritableImageProperties, k) || strings.HasPrefix(k, "os_glance") {
			continue
		}
		props[k] = v
	}
	props["instance_uuid"], props["user_id"], props["image_type"] = in.UUID, creds.UserID, imageType
	props["base_image_ref"] = in.ImageRef
	visibility := "private"
	if creds.ProjectID != in.ProjectID {
		visibility = "shared"
		props["instance_owner"] = in.ProjectID
	}
	for k, v := range extra {
		props[k] = v
	}
	props["name"], props["visibility"] = name, visibility
	props["disk_format"], props["container_format"] = "qcow2", "bare"
	props["min_disk"], props["min_ram"] = max(in.Flavor.Disk, in.Request.Image.MinDisk), in.Request.Image.MinRAM
	return creator.CreateImage(r.Context(), r.Header.Get("X-Auth-Token"), props)
}

// dropImage deletes an image compute made (a snapshot whose task could not
// start, a rotated backup, a shelved server's image once unshelved) with
// token, or compute's own credentials for ""; a failure is logged, as
// upstream's delete_image.
func (s *Service) dropImage(ctx context.Context, token, imageID, instanceUUID string) {
	p, ok := s.opts.Images.(ImageProxy)
	if !ok {
		return
	}
	if err := p.DeleteImage(ctx, token, imageID); err != nil && !httpapi.IsStatus(err, http.StatusNotFound) {
		s.log.Warn("delete image", "instance", instanceUUID, "image", imageID, "error", err)
	}
}

// rotateBackups deletes the instance's backups of backupType beyond rotation,
// the oldest first (upstream's _rotate_backups, which the new backup counts in).
func (s *Service) rotateBackups(ctx context.Context, instanceUUID, backupType string, rotation int) {
	p, ok := s.opts.Images.(ImageProxy)
	if !ok {
		return
	}
	q := url.Values{"instance_uuid": {instanceUUID}, "image_type": {"backup"}, "backup_type": {backupType},
		"sort_key": {"created_at"}, "sort_dir": {"desc"}}
	images, err := p.ListImages(ctx, "", q)
	if err != nil {
		s.log.Warn("list backups to rotate", "instance", instanceUUID, "error", err)
		return
	}
	var backups []Image
	for _, img := range images {
		pr := img.Properties
		if pr["instance_uuid"] == instanceUUID && pr["image_type"] == "backup" && pr["backup_type"] == backupType {
			backups = append(backups, img)
		}
	}
	// Newest first; the image service's order is not trusted for equal stamps.
	slices.SortStableFunc(backups, func(a, b Image) int { return strings.Compare(b.CreatedAt, a.CreatedAt) })
	for _, img := range backups[min(rotation, len(backups)):] {
		s.dropImage(ctx, "", img.ID, instanceUUID)
	}
}

// snapshotPolicies are the default rules of createImage, createBackup and the
// shelve actions (nova/policies/servers.py, create_backup.py, shelve.py).
var snapshotPolicies = map[string]string{
	"os_compute_api:servers:create_image":                     "rule:project_member_or_admin",
	"os_compute_api:servers:create_image:allow_volume_backed": "rule:project_member_or_admin",
	"os_compute_api:os-create-backup":                         "rule:project_member_or_admin",
	"os_compute_api:os-shelve:shelve":                         "rule:project_member_or_admin",
	"os_compute_api:os-shelve:unshelve":                       "rule:project_member_or_admin",
	"os_compute_api:os-shelve:unshelve_to_host":               "rule:context_is_admin",
	"os_compute_api:os-shelve:shelve_offload":                 "rule:context_is_admin",
}

func init() { maps.Copy(defaultPolicies, snapshotPolicies) }
