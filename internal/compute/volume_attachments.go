package compute

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-volume_attachments: a server's volumes, upstream's volume_attachments
// API. Attach reserves the volume for the server (a Cinder attachment, as the
// caller), gives the attachment the connector of the server's host and
// records the mapping with the connection it got (attaching); the host's
// agent hot-plugs the disk and the service then completes the attachment
// (the volume goes in-use). Detach marks the mapping detaching; the agent
// unplugs the disk and the service then deletes the attachment and the
// mapping. Both are level-triggered: an agent restarted mid-way finishes.

func (s *Service) volumeAttachmentRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/os-volume_attachments", Handler: s.listVolumeAttachments},
		{Method: "GET", Path: "/v2.1/servers/{id}/os-volume_attachments/{volume}", Handler: s.showVolumeAttachment},
		{Method: "POST", Path: "/v2.1/servers/{id}/os-volume_attachments", Handler: s.attachVolume},
		{Method: "PUT", Path: "/v2.1/servers/{id}/os-volume_attachments/{volume}", Handler: s.updateVolumeAttachment},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/os-volume_attachments/{volume}", Handler: s.detachVolume},
	}
}

// volumeStates are the vm_states attach and detach are allowed in (upstream's
// check_instance_state of attach_volume and detach_volume; no task).
var volumeStates = []string{vmActive, vmPaused, vmStopped, vmResized}

// at89 says whether the request is at 2.89 or later (attachment_id and
// bdm_uuid instead of id).
func at89(r *http.Request) bool { return versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 89}) }

// volumeAttachmentView is upstream's _translate_attachment_detail_view.
func volumeAttachmentView(r *http.Request, b blockDevice) map[string]any {
	v := versionOf(r)
	at := func(minor int) bool { return v.AtLeast(httpapi.Version{Major: 2, Minor: minor}) }
	out := map[string]any{"volumeId": b.VolumeID, "serverId": b.InstanceUUID}
	if !at(89) {
		out["id"] = b.VolumeID
	}
	if b.DeviceName != "" {
		out["device"] = b.DeviceName
	}
	if at(70) {
		out["tag"] = nullable(b.Tag)
	}
	if at(79) {
		out["delete_on_termination"] = b.DeleteOnTermination
	}
	if at(89) {
		out["attachment_id"], out["bdm_uuid"] = b.AttachmentID, b.UUID
	}
	return out
}

func (s *Service) listVolumeAttachments(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-volumes-attachments:index")
	if err != nil {
		return httpapi.Response{}, err
	}
	bdms, err := instanceBlockDevices(r.Context(), s.db, in.UUID)
	if err != nil {
		return httpapi.Response{}, err
	}
	bdms, err = limited(r, bdms)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []any{}
	for _, b := range bdms {
		// As upstream: from 2.89 a mapping without an attachment yet (a
		// volume still being made for a new server) is not listed.
		if b.AttachmentID == "" && at89(r) {
			continue
		}
		out = append(out, volumeAttachmentView(r, b))
	}
	return httpapi.OK(map[string]any{"volumeAttachments": out}), nil
}

// limited is upstream's common.limited: the offset and limit query
// parameters (the schema checked they are integers).
func limited[T any](r *http.Request, items []T) ([]T, error) {
	q := r.URL.Query()
	offset, limit := 0, len(items)
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badRequest("offset param must be positive")
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, badRequest("limit param must be positive")
		}
		limit = n
	}
	if offset > len(items) {
		offset = len(items)
	}
	items = items[offset:]
	if limit < len(items) {
		items = items[:limit]
	}
	return items, nil
}

// attachedVolume is the instance's mapping of the volume, upstream's
// get_by_volume_and_instance, with its 404.
func (s *Service) attachedVolume(ctx context.Context, q querier, in *instance, volumeID string) (blockDevice, error) {
	bdms, err := instanceBlockDevices(ctx, q, in.UUID)
	if err != nil {
		return blockDevice{}, err
	}
	for _, b := range bdms {
		if b.VolumeID == volumeID {
			return b, nil
		}
	}
	return blockDevice{}, notFound("Instance %s is not attached to volume %s", in.UUID, volumeID)
}

func (s *Service) showVolumeAttachment(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-volumes-attachments:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	b, err := s.attachedVolume(r.Context(), s.db, in, r.PathValue("volume"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if b.AttachmentID == "" && at89(r) {
		return httpapi.Response{}, notFound("Instance %s is not attached to volume %s", in.UUID, b.VolumeID)
	}
	return httpapi.OK(map[string]any{"volumeAttachment": volumeAttachmentView(r, b)}), nil
}

// devicePattern is upstream's block_device.match_device.
var devicePattern = regexp.MustCompile(`^/dev/x{0,1}[a-z]{0,1}d{0,1}[a-z]+[0-9]*$`)

// volumeAttachRequest is a validated POST body (the route's schema checked
// its shape per microversion).
type volumeAttachRequest struct {
	VolumeAttachment struct {
		VolumeID            string  `json:"volumeId"`
		Device              *string `json:"device"`
		Tag                 string  `json:"tag"`
		DeleteOnTermination bool    `json:"delete_on_termination"`
	} `json:"volumeAttachment"`
}

// checkVolumeState is upstream's lock and state check of attach and detach.
func (s *Service) checkVolumeState(r *http.Request, in *instance, method string) error {
	if err := s.checkLocked(r, in); err != nil {
		return err
	}
	if !slices.Contains(volumeStates, in.VMState) {
		return invalidState(method, in, "vm_state", in.VMState)
	}
	if in.TaskState != "" {
		return invalidState(method, in, "task_state", in.TaskState)
	}
	return nil
}

// volumeCaller is the request's caller for the volume service.
func volumeCaller(r *http.Request) VolumeCaller {
	return VolumeCaller{Token: r.Header.Get("X-Auth-Token"), ProjectID: auth.FromContext(r.Context()).ProjectID}
}

// getVolume looks the volume up as the caller may see it: one the caller
// cannot see, or any without a volume service, is upstream's VolumeNotFound.
func (s *Service) getVolume(r *http.Request, id string) (Volume, error) {
	if s.opts.Volumes == nil {
		return Volume{}, notFound("Volume %s could not be found.", id)
	}
	v, err := s.opts.Volumes.GetVolume(r.Context(), volumeCaller(r), id)
	if errors.Is(err, ErrNoVolumeService) || httpapi.IsStatus(err, http.StatusNotFound) {
		return Volume{}, notFound("Volume %s could not be found.", id)
	}
	return v, err
}

// volumeFault is the volume service's refusal as upstream's nova.volume.cinder
// translates it: a 400 is InvalidInput, a 404 VolumeNotFound, a 403 and 409
// as they are; anything else an error of the service.
func volumeFault(err error, volumeID string) error {
	if errors.Is(err, ErrNoVolumeService) {
		return notFound("Volume %s could not be found.", volumeID)
	}
	var he *httpapi.Error
	if errors.As(err, &he) {
		switch he.Status {
		case http.StatusBadRequest:
			return badRequest("Invalid input received: %s (HTTP 400)", he.Message)
		case http.StatusNotFound:
			return notFound("Volume %s could not be found.", volumeID)
		case http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge:
			return httpapi.Errorf(he.Status, "%s", he.Message)
		}
	}
	return err
}

// hostConnector is the connector of the instance's host (its name and the
// address its agent reports), os-brick's connector properties.
func (s *Service) hostConnector(ctx context.Context, host string) (VolumeConnector, error) {
	var ip *string
	err := s.db.QueryRowContext(ctx, `SELECT host_ip FROM compute_services WHERE host = ?`, host).Scan(&ip)
	if err != nil && !db.IsNoRows(err) {
		return VolumeConnector{}, err
	}
	c := VolumeConnector{Host: host, Initiator: initiatorName(host)}
	if ip != nil {
		c.IP = *ip
	}
	return c, nil
}

func (s *Service) attachVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	in, err := s.visibleInstance(r, "os_compute_api:os-volumes-attachments:create")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req volumeAttachRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	att := req.VolumeAttachment
	if err := s.checkVolumeState(r, in, "attach_volume"); err != nil {
		return httpapi.Response{}, err
	}
	if att.Device != nil && *att.Device != "" && !devicePattern.MatchString(*att.Device) {
		return httpapi.Response{}, badRequest("The supplied device path (%s) is invalid.", *att.Device)
	}
	vol, err := s.getVolume(r, att.VolumeID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkAlreadyAttached(ctx, in, vol); err != nil {
		return httpapi.Response{}, err
	}
	if vol.Multiattach && !versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 60}) {
		return httpapi.Response{}, badRequest("Multiattach volumes are only supported starting with compute API version 2.60.")
	}
	b, err := s.reserveVolume(r, in, vol, blockDevice{SourceType: "volume", Tag: att.Tag,
		DeleteOnTermination: att.DeleteOnTermination, Status: bdmAttaching}, "attach_volume")
	if err != nil {
		return httpapi.Response{}, err
	}
	view := map[string]any{"id": b.VolumeID, "serverId": in.UUID, "volumeId": b.VolumeID, "device": b.DeviceName}
	if versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 70}) {
		view["tag"] = nullable(b.Tag)
	}
	if versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 79}) {
		view["delete_on_termination"] = b.DeleteOnTermination
	}
	return httpapi.OK(map[string]any{"volumeAttachment": view}), nil
}

// checkAlreadyAttached is upstream's _check_volume_already_attached: a volume
// that is not multiattach is on one instance at most, and a multiattach one
// once per instance.
func (s *Service) checkAlreadyAttached(ctx context.Context, in *instance, vol Volume) error {
	bdms, err := volumeBlockDevices(ctx, s.db, vol.ID)
	if err != nil || len(bdms) == 0 {
		return err
	}
	if !vol.Multiattach {
		var uuids []string
		for _, b := range bdms {
			uuids = append(uuids, b.InstanceUUID)
		}
		return badRequest("Invalid volume: volume %s is already attached to instances: %s", vol.ID, strings.Join(uuids, " "))
	}
	if slices.ContainsFunc(bdms, func(b blockDevice) bool { return b.InstanceUUID == in.UUID }) {
		return badRequest("Invalid volume: volume %s already attached", vol.ID)
	}
	return nil
}

// reserveVolume makes the volume's attachment for the instance as the
// caller, gives it the connector of the instance's host and records the
// mapping b (with the next device name and the connection) with the action,
// if the instance may still take it; otherwise the attachment goes again.
func (s *Service) reserveVolume(r *http.Request, in *instance, vol Volume, b blockDevice, action string) (blockDevice, error) {
	ctx := r.Context()
	caller := volumeCaller(r)
	attachment, err := s.opts.Volumes.CreateAttachment(ctx, caller, vol.ID, in.UUID)
	if err != nil {
		return blockDevice{}, volumeFault(err, vol.ID)
	}
	undo := func() {
		if err := s.opts.Volumes.DeleteAttachment(context.WithoutCancel(ctx), VolumeCaller{}, attachment.ID); err != nil {
			s.log.Warn("delete the attachment of a failed attach", "instance", in.UUID, "volume", vol.ID, "error", err)
		}
	}
	connector, err := s.hostConnector(ctx, in.Host)
	if err != nil {
		undo()
		return blockDevice{}, err
	}
	attachment, err = s.opts.Volumes.UpdateAttachment(ctx, caller, attachment.ID, connector)
	if err != nil {
		undo()
		return blockDevice{}, volumeFault(err, vol.ID)
	}
	b.UUID, b.InstanceUUID, b.VolumeID, b.AttachmentID = newUUID(), in.UUID, vol.ID, attachment.ID
	b.SizeGB, b.Connection, b.ConnectorHost, b.CreatedAt = vol.Size, &attachment.ConnectionInfo, in.Host, stampMicro(s.now())
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted || cur.Host != in.Host || !slices.Contains(volumeStates, cur.VMState) || cur.TaskState != "" {
			return conflict("Instance %s changed while the volume was being attached; try again.", in.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		taken, err := instanceBlockDevices(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(taken, func(t blockDevice) bool { return t.VolumeID == vol.ID }) {
			return badRequest("Invalid volume: volume %s already attached", vol.ID)
		}
		b.DeviceName = nextDeviceName(append(taken, cur.localDeviceRows()...))
		if err := insertBlockDevice(ctx, tx, b); err != nil {
			return err
		}
		return s.startAction(ctx, tx, r, cur, action)
	})
	if err != nil {
		undo()
		return blockDevice{}, err
	}
	s.kick(in.Host)
	return b, nil
}

// volumeUpdateRequest is a PUT body (its schema checked the shape).
type volumeUpdateRequest struct {
	VolumeAttachment map[string]any `json:"volumeAttachment"`
}

// updateVolumeAttachment is upstream's update: before 2.85 only a swap (which
// Cinder's volume migration asks for), from 2.85 a change of
// delete_on_termination, the other fields immutable.
func (s *Service) updateVolumeAttachment(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-volumes-attachments:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req volumeUpdateRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	att := req.VolumeAttachment
	oldID := r.PathValue("volume")
	newID, _ := att["volumeId"].(string)
	onlySwap := !versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 85})
	if onlySwap || newID != oldID {
		if err := s.enforce(r, "os_compute_api:os-volumes-attachments:swap", map[string]any{}); err != nil {
			return httpapi.Response{}, err
		}
	} else if err := s.enforce(r, "os_compute_api:os-volumes-attachments:update",
		map[string]any{"target.project_id": in.ProjectID}); err != nil {
		return httpapi.Response{}, err
	}
	if !onlySwap {
		if err := s.updateDeleteOnTermination(r, in, oldID, att); err != nil {
			return httpapi.Response{}, err
		}
		if newID == oldID {
			return httpapi.Response{Status: http.StatusAccepted}, nil
		}
	}
	// A swap is Cinder's to ask for, during a volume's migration, which the
	// volume service does not do: upstream's answer for a volume that is not
	// migrating. The caller is an admin (or the service), whom the volume
	// service shows every project's volumes, as it shows compute.
	if s.opts.Volumes == nil {
		return httpapi.Response{}, notFound("Volume %s could not be found.", oldID)
	}
	if _, err := s.opts.Volumes.GetVolume(r.Context(), VolumeCaller{}, oldID); err != nil {
		return httpapi.Response{}, volumeFault(err, oldID)
	}
	return httpapi.Response{}, conflict("volume %s is not migrating; this API should only be called by Cinder", oldID)
}

func (s *Service) updateDeleteOnTermination(r *http.Request, in *instance, volumeID string, att map[string]any) error {
	ctx := r.Context()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		b, err := s.attachedVolume(ctx, tx, in, volumeID)
		if err != nil {
			return err
		}
		immutable := map[string]any{"id": volumeID, "serverId": in.UUID, "device": b.DeviceName, "tag": nullable(b.Tag)}
		for _, key := range []string{"id", "serverId", "device", "tag"} {
			if v, ok := att[key]; ok && v != immutable[key] {
				return badRequest("The %s property is not mutable", key)
			}
		}
		v, ok := att["delete_on_termination"]
		if !ok {
			return nil
		}
		switch v := v.(type) {
		case bool:
			b.DeleteOnTermination = v
		case string:
			parsed, err := strictBool(v)
			if err != nil {
				return badRequest("%s", err)
			}
			b.DeleteOnTermination = parsed
		}
		_, err = updateBlockDevice(ctx, tx, b, "")
		return err
	})
}

// strictBool is oslo's bool_from_string with strict=True.
func strictBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, errors.New("Unrecognized value '" + s + "', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")
}

func (s *Service) detachVolume(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	in, err := s.visibleInstance(r, "os_compute_api:os-volumes-attachments:delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	volumeID := r.PathValue("volume")
	if _, err := s.getVolume(r, volumeID); err != nil {
		return httpapi.Response{}, err
	}
	b, err := s.attachedVolume(ctx, s.db, in, volumeID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if b.BootIndex != nil && *b.BootIndex == 0 {
		return httpapi.Response{}, badRequest("Cannot detach a root device volume")
	}
	if err := s.checkVolumeState(r, in, "detach_volume"); err != nil {
		return httpapi.Response{}, err
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted || !slices.Contains(volumeStates, cur.VMState) || cur.TaskState != "" {
			return conflict("Instance %s changed while the volume was being detached; try again.", in.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		b, err := s.attachedVolume(ctx, tx, cur, volumeID)
		if err != nil {
			return err
		}
		if b.Status != bdmAttached {
			// Upstream's begin_detaching refuses a volume that is not in-use.
			return badRequest("Invalid volume: Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.")
		}
		b.Status = bdmDetaching
		if _, err := updateBlockDevice(ctx, tx, b, bdmAttached); err != nil {
			return err
		}
		return s.startAction(ctx, tx, r, cur, "detach_volume")
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.kick(in.Host)
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
