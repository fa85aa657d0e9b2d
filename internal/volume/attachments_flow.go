package volume

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// The attach and detach steps both APIs share: the attachments API (3.27+)
// and the older os-reserve / os-initialize_connection / os-attach flow.
// Reservations and status changes are conditional updates in a transaction,
// as upstream's conditional_update; the export itself is the volume
// manager's (Connections), called between two transactions: when the second
// never comes (a crash), the attachment has no connection_info and the
// manager's convergence removes the export again.

// reserveAttachment is _attachment_reserve: the volume to reserved (a
// non-multiattach volume only from available, so a second attachment is
// refused) and a reserved attachment row.
func (s *Service) reserveAttachment(ctx context.Context, tx *db.Tx, v *volume, instance *string, mode string) (string, error) {
	allowed := []string{statusAvailable, statusDownloading}
	if v.Multiattach {
		allowed = []string{statusAvailable, statusInUse, statusDownloading}
	}
	if !contains(allowed, v.Status) {
		override := false
		if instance != nil && (v.Status == statusInUse || v.Status == statusReserved) {
			for _, a := range v.Attachments {
				if a.InstanceUUID != nil && *a.InstanceUUID == *instance {
					override = true
				}
			}
		}
		if !override {
			return "", badRequest("Invalid volume: Volume %s status must be %s to reserve, but the current status is %s.",
				v.ID, strings.Join(allowed, " or "), v.Status)
		}
	}
	now := dbTime(s.now())
	if _, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?`, statusReserved, now, v.ID); err != nil {
		return "", err
	}
	id := uuid.NewString()
	_, err := tx.ExecContext(ctx, `INSERT INTO volume_attachments (id, volume_id, project_id, instance_uuid, attach_mode,
		attach_status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, v.ID, v.ProjectID, instance, mode, attachReserved, now, now)
	return id, err
}

// connectorHost is the connector's host (os-brick's "host").
func connectorHost(connector map[string]any) string {
	h, _ := connector["host"].(string)
	return h
}

// connect exports the volume for the attachment on its manager and records
// the connection: the attachment attaching (attached when markAttached) on
// the connector's host, the volume attaching (in-use), as the manager's
// attachment_update and volume_attached.
func (s *Service) connect(ctx context.Context, v *volume, attachmentID string, connector map[string]any, mode string, markAttached bool) (map[string]any, error) {
	attStatus, volStatus := attachAttaching, statusAttaching
	if markAttached {
		attStatus, volStatus = attachAttached, statusInUse
	}
	return s.connectAs(ctx, v, attachmentID, connector, mode, attStatus, volStatus)
}

// connectAs is connect with the statuses to record; volStatus "" leaves the
// volume's as it is (the older flow's os-initialize_connection).
func (s *Service) connectAs(ctx context.Context, v *volume, attachmentID string, connector map[string]any, mode, attStatus, volStatus string) (map[string]any, error) {
	if s.opts.Connections == nil {
		return nil, badRequest("Invalid volume: no volume manager serves %s.", v.Host)
	}
	if mode == "" || mode == "null" {
		mode, _ = connector["mode"].(string)
	}
	if mode == "" || mode == "null" {
		mode = "rw"
	}
	ip, _ := connector["ip"].(string)
	initiator, _ := connector["initiator"].(string)
	info, err := s.opts.Connections.InitializeConnection(ctx, v.Host, backend.Volume{ID: v.ID, SizeGB: v.Size},
		backend.Export{VolumeID: v.ID, AttachmentID: attachmentID, ReadOnly: mode == "ro",
			Connector: backend.Connector{Host: connectorHost(connector), IP: ip, Initiator: initiator}})
	if err != nil {
		s.log.Warn("volume export failed", "volume", v.ID, "attachment", attachmentID, "error", err)
		if errors.Is(err, ErrManagerTimeout) {
			return nil, err // the caller answers upstream's message for it
		}
		return nil, httpErrorf(http.StatusInternalServerError, "Unable to update attachment (Bad or unexpected response from the storage volume backend API: %v).", err)
	}
	data := map[string]any{}
	for k, val := range info.Data {
		data[k] = val
	}
	data["access_mode"] = mode
	data["encrypted"] = false
	data["volume_id"] = v.ID
	conn := map[string]any{"driver_volume_type": info.DriverVolumeType, "data": data}
	mountpoint, _ := connector["mountpoint"].(string)
	if mountpoint == "" {
		mountpoint = "na"
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		now := dbTime(s.now())
		res, err := tx.ExecContext(ctx, `UPDATE volume_attachments SET connector = ?, connection_info = ?, attached_host = ?,
			mountpoint = ?, attach_mode = ?, attach_status = ?, attach_time = ?, updated_at = ? WHERE id = ?`,
			jsonString(connector), jsonString(conn), connectorHost(connector), mountpoint, mode, attStatus, now, now, attachmentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("Volume attachment could not be found with filter: attachment_id = %s.", attachmentID)
		}
		if err := setKeyValues(ctx, tx, "volume_admin_metadata", "volume_id", v.ID, map[string]string{"attached_mode": mode}, true); err != nil {
			return err
		}
		if volStatus == "" {
			return nil
		}
		volAttach := attachAttaching
		if volStatus == statusInUse {
			volAttach = attachAttached
		}
		_, err = tx.ExecContext(ctx, `UPDATE volumes SET status = ?, attach_status = ?, updated_at = ? WHERE id = ?`,
			volStatus, volAttach, now, v.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// completeAttachment is attachment_complete / os-attach: the attachment
// attached, the volume in-use.
func (s *Service) completeAttachment(ctx context.Context, tx *db.Tx, volumeID, attachmentID string, instance, mountpoint *string) error {
	now := dbTime(s.now())
	if _, err := tx.ExecContext(ctx, `UPDATE volume_attachments SET attach_status = ?, attach_time = COALESCE(attach_time, ?),
		instance_uuid = COALESCE(?, instance_uuid), mountpoint = COALESCE(?, mountpoint), updated_at = ? WHERE id = ?`,
		attachAttached, now, instance, mountpoint, now, attachmentID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, attach_status = ?, updated_at = ? WHERE id = ?`,
		statusInUse, attachAttached, now, volumeID)
	return err
}

// disconnect removes an attachment's export (when it had one) and then the
// attachment, as attachment_delete and finish_detach: the volume in-use
// while other attachments remain, else available and detached.
func (s *Service) disconnect(ctx context.Context, v *volume, a *attachment) error {
	if a.ConnectionInfo != nil && s.opts.Connections != nil && v.Host != "" {
		if err := s.opts.Connections.TerminateConnection(ctx, v.Host, backend.Volume{ID: v.ID, SizeGB: v.Size}, a.ID); err != nil {
			s.log.Warn("volume unexport failed", "volume", v.ID, "attachment", a.ID, "error", err)
			if errors.Is(err, ErrManagerTimeout) {
				return onManagerTimeout(err, faultMessage)
			}
			return httpErrorf(http.StatusInternalServerError, "Unable to terminate volume connection: %v.", err)
		}
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_attachments WHERE id = ?`, a.ID); err != nil {
			return err
		}
		return s.settleAttachStatus(ctx, tx, v.ID)
	})
}

// settleAttachStatus sets a volume's status from its remaining attachments
// (db.volume_detached).
func (s *Service) settleAttachStatus(ctx context.Context, tx *db.Tx, volumeID string) error {
	var attached, others int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_attachments WHERE volume_id = ? AND attach_status = ?`,
		volumeID, attachAttached).Scan(&attached); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_attachments WHERE volume_id = ?`, volumeID).Scan(&others); err != nil {
		return err
	}
	status, attachStatus := statusAvailable, attachDetached
	switch {
	case attached > 0:
		status, attachStatus = statusInUse, attachAttached
	case others > 0:
		status, attachStatus = statusReserved, attachDetached
	}
	now := dbTime(s.now())
	if others == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_admin_metadata WHERE volume_id = ? AND key = 'attached_mode'`, volumeID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, attach_status = ?, updated_at = ? WHERE id = ?`,
		status, attachStatus, now, volumeID)
	return err
}

// decodeConnector reads a stored connector.
func decodeConnector(raw *string) map[string]any {
	out := map[string]any{}
	if raw != nil {
		_ = json.Unmarshal([]byte(*raw), &out)
	}
	return out
}
