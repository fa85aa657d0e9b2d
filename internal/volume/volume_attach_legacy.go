package volume

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// The older attach flow (contrib/volume_actions.py) Nova used before the
// attachments API and clients still call: os-reserve, then
// os-initialize_connection (the export), os-attach (in-use); and
// os-begin_detaching, os-terminate_connection, os-detach. Each export is one
// attachment row here too, so the manager converges both flows alike.

func accepted() (httpapi.Response, error) { return httpapi.Response{Status: http.StatusAccepted}, nil }

// statusStep moves a volume from one of from to to under rule, or answers msg.
func (s *Service) statusStep(r *http.Request, rule string, from []string, to string, msg func(v *volume) error) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, rule)
		if err != nil {
			return err
		}
		if !contains(from, v.Status) {
			if msg == nil {
				return nil
			}
			return msg(v)
		}
		return setStatus(ctx, tx, v.ID, to, s.now())
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return accepted()
}

func (s *Service) reserveVolume(r *http.Request, _ json.RawMessage) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyReserve)
		if err != nil {
			return err
		}
		allowed := []string{statusAvailable}
		if v.Multiattach {
			allowed = append(allowed, statusInUse)
		}
		if !contains(allowed, v.Status) {
			return badRequest("Invalid volume: Volume status must be %s to reserve, but the status is %s.",
				strings.Join(allowed, " or "), v.Status)
		}
		return setStatus(ctx, tx, v.ID, statusAttaching, s.now())
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return accepted()
}

func (s *Service) unreserveVolume(r *http.Request, _ json.RawMessage) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyUnreserve)
		if err != nil {
			return err
		}
		if v.Status != statusAttaching {
			return nil // "nothing to do", as upstream
		}
		to := statusAvailable
		for _, a := range v.Attachments {
			if a.AttachStatus == attachAttached {
				to = statusInUse
			}
		}
		return setStatus(ctx, tx, v.ID, to, s.now())
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return accepted()
}

func (s *Service) beginDetaching(r *http.Request, _ json.RawMessage) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyBeginDetaching)
		if err != nil {
			return err
		}
		if v.Status != statusInUse || v.AttachStatus != attachAttached {
			return badRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
		}
		return setStatus(ctx, tx, v.ID, statusDetaching, s.now())
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return accepted()
}

func (s *Service) rollDetaching(r *http.Request, _ json.RawMessage) (httpapi.Response, error) {
	return s.statusStep(r, policyRollDetaching, []string{statusDetaching}, statusInUse, nil)
}

type connectorBody struct {
	Connector map[string]any `json:"connector"`
}

func decodeConnectorAction(raw json.RawMessage, action string) (map[string]any, error) {
	var in connectorBody
	if err := decodeAction(raw, action, &in); err != nil {
		return nil, err
	}
	if in.Connector == nil {
		return nil, badRequest("Invalid input for field/attribute %s. Value: %s. 'connector' is a required property", action, raw)
	}
	return in.Connector, nil
}

// initializeConnection exports the volume for the connector's host and
// answers its connection_info (200). The export is the attachment the
// older flow is in the middle of: one attaching without a connection, else
// a new one.
func (s *Service) initializeConnection(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	connector, err := decodeConnectorAction(raw, "os-initialize_connection")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	var v *volume
	var attachmentID string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if v, err = s.actionVolume(r, tx, policyInitialize); err != nil {
			return err
		}
		if v.Status == statusMaintenance {
			return badRequest("Invalid volume: The volume connection cannot be initialized in maintenance mode.")
		}
		if v.Host == "" {
			return badRequest("Invalid volume: Volume %s has no host to connect to (status %s).", v.ID, v.Status)
		}
		for _, a := range v.Attachments {
			if a.ConnectionInfo == nil && (a.AttachStatus == attachAttaching || a.AttachStatus == attachReserved) {
				attachmentID = a.ID
			}
			if a.ConnectionInfo != nil && connectorHost(decodeConnector(a.Connector)) == connectorHost(connector) &&
				a.AttachStatus != attachAttached {
				attachmentID = a.ID // the same host again: the same export
			}
		}
		if attachmentID != "" {
			return nil
		}
		attachmentID = uuid.NewString()
		now := dbTime(s.now())
		_, err := tx.ExecContext(ctx, `INSERT INTO volume_attachments (id, volume_id, project_id, attach_mode, attach_status,
			created_at, updated_at) VALUES (?, ?, ?, 'rw', ?, ?, ?)`, attachmentID, v.ID, v.ProjectID, attachAttaching, now, now)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	mode := "rw"
	if v.AdminMetadata["readonly"] == "True" {
		mode = "ro"
	}
	conn, err := s.connectAs(ctx, v, attachmentID, connector, mode, attachAttaching, "")
	if err != nil {
		return httpapi.Response{}, onManagerTimeout(err, faultMessage)
	}
	return httpapi.OK(map[string]any{"connection_info": conn}), nil
}

func (s *Service) attachVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		InstanceUUID *string `json:"instance_uuid"`
		HostName     *string `json:"host_name"`
		Mountpoint   *string `json:"mountpoint"`
		Mode         *string `json:"mode"`
	}
	if err := decodeAction(raw, "os-attach", &in); err != nil {
		return httpapi.Response{}, err
	}
	if in.InstanceUUID == nil && in.HostName == nil {
		return httpapi.Response{}, badRequest("Invalid request to attach volume to an instance %s and a host %s.", "None", "None")
	}
	if in.Mountpoint == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute os-attach. Value: %s. 'mountpoint' is a required property", raw)
	}
	mode := "rw"
	if in.Mode != nil {
		mode = *in.Mode
	}
	if mode != "rw" && mode != "ro" {
		return httpapi.Response{}, badRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'")
	}
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.actionVolume(r, tx, policyAttach)
		if err != nil {
			return err
		}
		if v.Status == statusMaintenance {
			return badRequest("Invalid volume: The volume cannot be attached in maintenance mode.")
		}
		if v.AdminMetadata["readonly"] == "True" && mode != "ro" {
			return badRequest("Invalid attaching mode '%s' for volume %s.", mode, v.ID)
		}
		var target *attachment
		for _, a := range v.Attachments {
			if a.AttachStatus == attachAttaching || a.AttachStatus == attachReserved {
				if target == nil || in.HostName != nil && a.AttachedHost != nil && *a.AttachedHost == *in.HostName {
					target = a
				}
			}
		}
		id := ""
		if target != nil {
			id = target.ID
		} else {
			id = uuid.NewString()
			now := dbTime(s.now())
			if _, err := tx.ExecContext(ctx, `INSERT INTO volume_attachments (id, volume_id, project_id, attached_host,
				attach_mode, attach_status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				id, v.ID, v.ProjectID, in.HostName, mode, attachAttaching, now, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volume_attachments SET attach_mode = ? WHERE id = ?`, mode, id); err != nil {
			return err
		}
		if err := setKeyValues(ctx, tx, "volume_admin_metadata", "volume_id", v.ID, map[string]string{"attached_mode": mode}, true); err != nil {
			return err
		}
		return s.completeAttachment(ctx, tx, v.ID, id, in.InstanceUUID, in.Mountpoint)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return accepted()
}

func (s *Service) detachVolume(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	var in struct {
		AttachmentID *string `json:"attachment_id"`
	}
	if len(raw) > 0 && string(raw) != "null" && string(raw) != "{}" {
		if err := decodeAction(raw, "os-detach", &in); err != nil {
			return httpapi.Response{}, err
		}
	}
	v, err := s.actionVolume(r, s.db, policyDetach)
	if err != nil {
		return httpapi.Response{}, err
	}
	if v.Status == statusMaintenance {
		return httpapi.Response{}, badRequest("Invalid volume: The volume cannot be detached in maintenance mode.")
	}
	var target *attachment
	for _, a := range v.Attachments {
		if in.AttachmentID != nil && a.ID == *in.AttachmentID || in.AttachmentID == nil && len(v.Attachments) == 1 {
			target = a
		}
	}
	if target == nil {
		if in.AttachmentID != nil {
			return httpapi.Response{}, notFound("Volume attachment could not be found with filter: attachment_id = %s.", *in.AttachmentID)
		}
		if len(v.Attachments) > 1 {
			return httpapi.Response{}, badRequest("Invalid volume: Detach volume failed: More than one attachment, but no attachment_id provided.")
		}
		// nothing attached: as upstream's manager, detaching is done
		err := s.db.InTx(r.Context(), func(tx *db.Tx) error { return s.settleAttachStatus(r.Context(), tx, v.ID) })
		if err != nil {
			return httpapi.Response{}, err
		}
		return accepted()
	}
	if err := s.disconnect(r.Context(), v, target); err != nil {
		return httpapi.Response{}, err
	}
	s.nudge()
	return accepted()
}

// terminateConnection removes the exports of the connector's host and
// unreserves the volume (the attachments stay until os-detach).
func (s *Service) terminateConnection(r *http.Request, raw json.RawMessage) (httpapi.Response, error) {
	connector, err := decodeConnectorAction(raw, "os-terminate_connection")
	if err != nil {
		return httpapi.Response{}, err
	}
	ctx := r.Context()
	v, err := s.actionVolume(r, s.db, policyTerminate)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, a := range v.Attachments {
		if a.ConnectionInfo == nil || connectorHost(decodeConnector(a.Connector)) != connectorHost(connector) {
			continue
		}
		if s.opts.Connections != nil {
			if err := s.opts.Connections.TerminateConnection(ctx, v.Host, bv(v), a.ID); errors.Is(err, ErrManagerTimeout) {
				return httpapi.Response{}, onManagerTimeout(err, faultMessage)
			} else if err != nil {
				return httpapi.Response{}, httpErrorf(http.StatusInternalServerError, "Unable to terminate volume connection: %v.", err)
			}
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE volume_attachments SET connection_info = NULL, updated_at = ? WHERE id = ?`,
			dbTime(s.now()), a.ID); err != nil {
			return httpapi.Response{}, err
		}
	}
	return s.unreserveVolume(r, nil)
}
