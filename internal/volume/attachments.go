package volume

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// attachmentRoutes are the attachments API (cinder/api/v3/attachments.py,
// 3.27+; os-complete 3.44): the way Nova attaches since Queens.
func (s *Service) attachmentRoutes() []httpapi.Route {
	createSchema := func(minor int) jsonschema.Schema {
		props := map[string]any{
			"instance_uuid": map[string]any{"type": "string", "format": "uuid"},
			"connector":     map[string]any{"type": []any{"object", "null"}},
			"volume_uuid":   map[string]any{"type": "string", "format": "uuid"},
		}
		if minor >= 54 {
			props["mode"] = map[string]any{"type": "string", "enum": []any{"rw", "ro"}}
		}
		return jsonschema.Schema{"type": "object", "properties": map[string]any{"attachment": map[string]any{
			"type": "object", "properties": props, "required": []any{"volume_uuid"}, "additionalProperties": false}},
			"required": []any{"attachment"}, "additionalProperties": false}
	}
	update := []httpapi.Schema{{Request: jsonschema.Schema{"type": "object", "properties": map[string]any{
		"attachment": map[string]any{"type": "object", "properties": map[string]any{
			"connector": map[string]any{"type": "object", "minProperties": 1}},
			"required": []any{"connector"}, "additionalProperties": false}},
		"required": []any{"attachment"}, "additionalProperties": false}}}
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/attachments", Handler: s.createAttachment, Schemas: versioned(createSchema, 54)},
		{Method: "GET", Path: "/v3/attachments", Handler: s.listAttachments},
		{Method: "GET", Path: "/v3/attachments/detail", Handler: s.listAttachmentsDetail},
		{Method: "GET", Path: "/v3/attachments/{attachment_id}", Handler: s.showAttachment},
		{Method: "PUT", Path: "/v3/attachments/{attachment_id}", Handler: s.updateAttachment, Schemas: update},
		{Method: "DELETE", Path: "/v3/attachments/{attachment_id}", Handler: s.deleteAttachment},
		{Method: "POST", Path: "/v3/attachments/{attachment_id}/action", Handler: s.attachmentAction},
	}
}

func attachmentSummary(a *attachment) map[string]any {
	return map[string]any{"id": a.ID, "status": a.AttachStatus, "instance": nullable(a.InstanceUUID), "volume_id": a.VolumeID}
}

// attachmentDetail is views/attachments.py detail: times as upstream
// normalizes them (” when unset), the connection_info as stored.
func attachmentDetail(a *attachment) map[string]any {
	out := attachmentSummary(a)
	when := func(t *string) any {
		if v := viewTime(t); v != nil {
			return v
		}
		return ""
	}
	out["attached_at"] = when(a.AttachTime)
	out["detached_at"] = when(a.DetachTime)
	out["attach_mode"] = a.AttachMode
	var conn any = map[string]any{}
	if a.ConnectionInfo != nil {
		_ = json.Unmarshal([]byte(*a.ConnectionInfo), &conn)
	}
	out["connection_info"] = conn
	return out
}

// visibleAttachment loads an attachment of the caller's project (any for
// admins), with its volume.
func (s *Service) visibleAttachment(r *http.Request, q db.Querier, id string) (*attachment, *volume, error) {
	a, err := attachmentByID(r.Context(), q, id)
	if db.IsNoRows(err) || err == nil && a.ProjectID != callerProject(r) && !isAdmin(r) {
		return nil, nil, notFound("Volume attachment could not be found with filter: attachment_id = %s.", id)
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := volumeByID(r.Context(), q, a.VolumeID)
	if err != nil {
		return nil, nil, err
	}
	return a, v, loadDetails(r.Context(), q, v)
}

func (s *Service) createAttachment(r *http.Request) (httpapi.Response, error) {
	if !since(r, 27) {
		return httpapi.Response{}, versionNotFound(r)
	}
	ctx := r.Context()
	var body struct {
		Attachment struct {
			VolumeUUID   string         `json:"volume_uuid"`
			InstanceUUID *string        `json:"instance_uuid"`
			Connector    map[string]any `json:"connector"`
			Mode         string         `json:"mode"`
		} `json:"attachment"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	in := body.Attachment
	mode := "null"
	if since(r, 54) && in.Mode != "" {
		mode = in.Mode
	}
	var v *volume
	var attachmentID string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if v, err = s.visibleVolume(r, tx, in.VolumeUUID); err != nil {
			return err
		}
		if err := s.enforce(r, policyAttachmentCreate, volumeTarget(v)); err != nil {
			return err
		}
		if strings.Contains(v.Status, "error") {
			return badRequest("Invalid volume: Volume attachments can not be created if the volume is in an error state. "+
				"The Volume %s currently has a status of: %s ", v.ID, v.Status)
		}
		if v.AdminMetadata["readonly"] == "True" {
			mode = "ro"
		}
		attachmentID, err = s.reserveAttachment(ctx, tx, v, in.InstanceUUID, mode)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	if in.Connector != nil {
		if _, err := s.connect(ctx, v, attachmentID, in.Connector, mode, false); err != nil {
			return httpapi.Response{}, onManagerTimeout(err, "Unable to create attachment for volume.")
		}
	}
	a, err := attachmentByID(ctx, s.db, attachmentID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"attachment": attachmentDetail(a)}), nil
}

func (s *Service) updateAttachment(r *http.Request) (httpapi.Response, error) {
	if !since(r, 27) {
		return httpapi.Response{}, versionNotFound(r)
	}
	ctx := r.Context()
	var body struct {
		Attachment struct {
			Connector map[string]any `json:"connector"`
		} `json:"attachment"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	a, v, err := s.visibleAttachment(r, s.db, r.PathValue("attachment_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyAttachmentUpdate, map[string]any{"project_id": a.ProjectID}); err != nil {
		return httpapi.Response{}, err
	}
	if strings.Contains(v.Status, "error") {
		return httpapi.Response{}, conflict("Volume attachments can not be updated if the volume is in an error state. "+
			"The Volume %s currently has a status of: %s ", v.ID, v.Status)
	}
	if len(v.Attachments) > 1 && !v.Multiattach {
		for _, other := range v.Attachments {
			if other.ID != a.ID && other.ConnectionInfo != nil {
				return httpapi.Response{}, conflict("duplicate connectors detected on volume %s", v.ID)
			}
		}
	}
	// before 3.44 there is no os-complete: the update attaches
	if _, err := s.connect(ctx, v, a.ID, body.Attachment.Connector, a.AttachMode, !since(r, 44)); err != nil {
		return httpapi.Response{}, onManagerTimeout(err, "Unable to update the attachment.")
	}
	a, err = attachmentByID(ctx, s.db, a.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"attachment": attachmentDetail(a)}), nil
}

func (s *Service) showAttachment(r *http.Request) (httpapi.Response, error) {
	if !since(r, 27) {
		return httpapi.Response{}, versionNotFound(r)
	}
	a, _, err := s.visibleAttachment(r, s.db, r.PathValue("attachment_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"attachment": attachmentDetail(a)}), nil
}

func (s *Service) deleteAttachment(r *http.Request) (httpapi.Response, error) {
	if !since(r, 27) {
		return httpapi.Response{}, versionNotFound(r)
	}
	ctx := r.Context()
	a, v, err := s.visibleAttachment(r, s.db, r.PathValue("attachment_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(r, policyAttachmentDelete, map[string]any{"project_id": a.ProjectID}); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.disconnect(ctx, v, a); err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	remaining, err := attachmentsOf(ctx, s.db, v.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(remaining))
	for _, x := range remaining {
		views = append(views, attachmentSummary(x))
	}
	return httpapi.OK(map[string]any{"attachments": views}), nil
}

// attachmentAction is POST /attachments/{id}/action: os-complete (3.44), 204.
func (s *Service) attachmentAction(r *http.Request) (httpapi.Response, error) {
	if !since(r, 44) {
		return httpapi.Response{}, versionNotFound(r)
	}
	ctx := r.Context()
	var body map[string]any
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if _, ok := body["os-complete"]; !ok || len(body) != 1 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-complete. 'os-complete' is a required property")
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		a, v, err := s.visibleAttachment(r, tx, r.PathValue("attachment_id"))
		if err != nil {
			return err
		}
		if err := s.enforce(r, policyAttachmentComplete, map[string]any{"project_id": a.ProjectID}); err != nil {
			return err
		}
		return s.completeAttachment(ctx, tx, v.ID, a.ID, nil, nil)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) listAttachments(r *http.Request) (httpapi.Response, error) {
	return s.listAttachmentsView(r, false)
}

func (s *Service) listAttachmentsDetail(r *http.Request) (httpapi.Response, error) {
	return s.listAttachmentsView(r, true)
}

// listAttachmentsView lists the caller's project's attachments (all
// projects' for an admin with all_tenants) with upstream's filters
// volume_id, status/attach_status and instance_id.
func (s *Service) listAttachmentsView(r *http.Request, detail bool) (httpapi.Response, error) {
	if !since(r, 27) {
		return httpapi.Response{}, versionNotFound(r)
	}
	q := r.URL.Query()
	query := `SELECT ` + attachmentColumns + ` FROM volume_attachments WHERE 1 = 1`
	var args []any
	if !isAdmin(r) || !boolParam(q.Get("all_tenants")) {
		query += ` AND project_id = ?`
		args = append(args, callerProject(r))
	}
	if v := q.Get("volume_id"); v != "" {
		query += ` AND volume_id = ?`
		args = append(args, v)
	}
	if v := q.Get("instance_id"); v != "" {
		query += ` AND instance_uuid = ?`
		args = append(args, v)
	}
	for _, k := range []string{"status", "attach_status"} {
		if v := q.Get(k); v != "" {
			query += ` AND attach_status = ?`
			args = append(args, v)
		}
	}
	query += ` ORDER BY created_at DESC, id DESC`
	rows, err := db.QueryAll(r.Context(), s.db, scanAttachment, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	page, err := httpapi.ParsePage(r, maxLimit)
	if err != nil {
		return httpapi.Response{}, badRequest("limit param must be an integer")
	}
	rows, _, err = httpapi.Apply(page, rows, func(a *attachment) string { return a.ID })
	if err != nil {
		return httpapi.Response{}, notFound("Marker %s could not be found.", page.Marker)
	}
	views := make([]any, 0, len(rows))
	for _, a := range rows {
		if detail {
			views = append(views, attachmentDetail(a))
		} else {
			views = append(views, attachmentSummary(a))
		}
	}
	return httpapi.OK(map[string]any{"attachments": views}), nil
}
