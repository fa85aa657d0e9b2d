package compute

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// AgentVolume is a volume of an instance as its host's agent converges it:
// the disk the guest should have (Disk) and where its attach or detach is.
type AgentVolume struct {
	Disk virt.VolumeDisk `json:"disk"`
	// Status is attaching, attached or detaching: a detaching volume's disk is
	// unplugged, the others' are plugged.
	Status string `json:"status"`
	// SizeGB is the volume's size; Extend asks the agent to show the guest
	// the new size (a volume-extended event).
	SizeGB int  `json:"size_gb"`
	Extend bool `json:"extend,omitempty"`
}

// VolumeReport is what an agent tells of an instance's volumes after it
// converged them: the volume ids the guest has now (or will have at its next
// start, for a guest that does not run) and those whose new size it showed.
type VolumeReport struct {
	Host     string   `json:"host"`
	UUID     string   `json:"uuid"`
	Present  []string `json:"present"`
	Extended []string `json:"extended,omitempty"`
}

// volumeDisk is the disk of a mapping's NBD connection (upstream's
// connection_info with driver_volume_type nbd); an error for one the agents
// cannot attach.
func volumeDisk(b blockDevice) (virt.VolumeDisk, error) {
	c := b.Connection
	if c != nil && c.DriverVolumeType == "iscsi" {
		return iscsiVolumeDisk(b, c.Data)
	}
	if c == nil || c.DriverVolumeType != "nbd" {
		return virt.VolumeDisk{}, fmt.Errorf("volume %s: connection %v is not NBD", b.VolumeID, c)
	}
	str := func(k string) string { v, _ := c.Data[k].(string); return v }
	d := virt.VolumeDisk{VolumeID: b.VolumeID, Host: str("host"), Export: str("export_name"),
		TLSPSKIdentity: str("tls_psk_identity"), TLSPSKKey: str("tls_psk_key"), Boot: b.BootIndex != nil && *b.BootIndex == 0}
	switch p := c.Data["port"].(type) {
	case float64:
		d.Port = int(p)
	case string:
		d.Port, _ = strconv.Atoi(p)
	}
	if ro, ok := c.Data["access_mode"].(string); ok && ro == "ro" {
		d.ReadOnly = true
	}
	if d.Host == "" || d.Port <= 0 {
		return virt.VolumeDisk{}, fmt.Errorf("volume %s: connection without a host and port", b.VolumeID)
	}
	return d, nil
}

// hostVolumes are the volumes of every instance on the host, by instance.
func (s *Service) hostVolumes(ctx context.Context, host string) (map[string][]AgentVolume, error) {
	bdms, err := db.QueryAll(ctx, s.db, scanBlockDevice, `SELECT `+bdmColumns+` FROM block_device_mappings
		WHERE instance_uuid IN (SELECT uuid FROM instances WHERE host = ? AND deleted = ?)
		ORDER BY instance_uuid, CASE WHEN boot_index = 0 THEN 0 ELSE 1 END, created_at, device_name`, host, false)
	if err != nil {
		return nil, err
	}
	out := map[string][]AgentVolume{}
	for _, b := range bdms {
		if b.Status == bdmCreating || b.Status == bdmReserved {
			continue // the conductor's still: no connection yet
		}
		disk, err := volumeDisk(b)
		if err != nil {
			s.log.Warn("volume the agent cannot attach", "instance", b.InstanceUUID, "error", err)
			continue
		}
		out[b.InstanceUUID] = append(out[b.InstanceUUID], AgentVolume{Disk: disk, Status: b.Status, SizeGB: b.SizeGB,
			Extend: b.ExtendPending})
	}
	return out, nil
}

// ReportVolumes applies an agent's volume report: an attaching volume the
// guest has is completed in the volume service (in-use) and attached; a
// detaching one the guest no longer has loses its attachment (the export
// goes) and its mapping; an extend shown to the guest is done. The volume
// service is called before the row changes, so a crash between the two only
// repeats an idempotent call at the next report.
func (s *Service) ReportVolumes(ctx context.Context, rep VolumeReport) error {
	if s.opts.Volumes == nil {
		return nil // no volume service made the mappings this could be about
	}
	in, err := loadInstance(ctx, s.db, rep.UUID)
	if err != nil {
		return err
	}
	if in.Host != rep.Host || in.Deleted {
		return nil // stale: the instance left the host
	}
	bdms, err := instanceBlockDevices(ctx, s.db, in.UUID)
	if err != nil {
		return err
	}
	for _, b := range bdms {
		present := slices.Contains(rep.Present, b.VolumeID)
		switch {
		case b.Status == bdmAttaching && present:
			if err := s.opts.Volumes.CompleteAttachment(ctx, VolumeCaller{}, b.AttachmentID); err != nil {
				s.log.Warn("complete the volume attachment", "instance", in.UUID, "volume", b.VolumeID, "error", err)
				continue
			}
			b.Status = bdmAttached
			if _, err := updateBlockDevice(ctx, s.db, b, bdmAttaching); err != nil {
				return err
			}
		case b.Status == bdmDetaching && !present:
			if err := s.opts.Volumes.DeleteAttachment(ctx, VolumeCaller{}, b.AttachmentID); err != nil {
				s.log.Warn("delete the volume attachment", "instance", in.UUID, "volume", b.VolumeID, "error", err)
				continue
			}
			if err := deleteBlockDevice(ctx, s.db, b.UUID); err != nil {
				return err
			}
		case b.ExtendPending && slices.Contains(rep.Extended, b.VolumeID):
			b.ExtendPending = false
			if _, err := updateBlockDevice(ctx, s.db, b, b.Status); err != nil {
				return err
			}
		}
	}
	return nil
}

// releaseVolumes ends the attachments of a deleted instance's volumes and
// deletes those with delete_on_termination, as upstream's
// _cleanup_volumes after the guest is destroyed, then drops the mappings.
// Failures are logged: the volume stays, as upstream.
func (s *Service) releaseVolumes(ctx context.Context, in *instance) {
	bdms, err := instanceBlockDevices(ctx, s.db, in.UUID)
	if err != nil {
		s.log.Warn("volumes of deleted instance", "instance", in.UUID, "error", err)
		return
	}
	for _, b := range bdms {
		if s.opts.Volumes != nil {
			if b.AttachmentID != "" {
				if err := s.opts.Volumes.DeleteAttachment(ctx, VolumeCaller{}, b.AttachmentID); err != nil {
					s.log.Warn("delete the attachment of deleted instance", "instance", in.UUID, "volume", b.VolumeID, "error", err)
				}
			}
			if b.DeleteOnTermination {
				if err := s.opts.Volumes.DeleteVolume(ctx, VolumeCaller{}, b.VolumeID); err != nil {
					s.log.Warn("delete the volume of deleted instance", "instance", in.UUID, "volume", b.VolumeID, "error", err)
				}
			}
		}
		if err := deleteBlockDevice(ctx, s.db, b.UUID); err != nil {
			s.log.Warn("drop the volume mapping of deleted instance", "instance", in.UUID, "volume", b.VolumeID, "error", err)
		}
	}
}

// volumeExtended handles the volume service's volume-extended event for the
// instance's volume: its new size, read from the volume service, is shown to
// the guest by the host's agent (upstream's extend_volume). It says whether
// the instance has the volume.
func (s *Service) volumeExtended(ctx context.Context, in *instance, volumeID string) (bool, error) {
	b, err := s.attachedVolume(ctx, s.db, in, volumeID)
	if err != nil || s.opts.Volumes == nil {
		return false, nil
	}
	vol, err := s.opts.Volumes.GetVolume(ctx, VolumeCaller{}, volumeID)
	if err != nil {
		return true, err
	}
	if vol.Size <= b.SizeGB {
		return true, nil
	}
	b.SizeGB, b.ExtendPending = vol.Size, true
	_, err = updateBlockDevice(ctx, s.db, b, "")
	return true, err
}

// volumesAttachedView is a server's os-extended-volumes:volumes_attached:
// the id of each of its volumes, and from 2.3 its delete_on_termination.
func (s *Service) volumesAttachedView(r *http.Request, in *instance, o *serverViewOpts) []any {
	var bdms []blockDevice
	if o != nil && o.volumes != nil {
		bdms = o.volumes[in.UUID]
	} else {
		var err error
		if bdms, err = instanceBlockDevices(r.Context(), s.db, in.UUID); err != nil {
			s.log.Warn("volumes of the server's view", "instance", in.UUID, "error", err)
		}
	}
	out := []any{}
	for _, b := range bdms {
		v := map[string]any{"id": b.VolumeID}
		if since(r, 3) {
			v["delete_on_termination"] = b.DeleteOnTermination
		}
		out = append(out, v)
	}
	return out
}

// pageVolumes are the volumes of a page of servers, by instance, in one query.
func (s *Service) pageVolumes(ctx context.Context, page []*instance) (map[string][]blockDevice, error) {
	out := map[string][]blockDevice{}
	if len(page) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(page))
	for _, in := range page {
		args = append(args, in.UUID)
	}
	bdms, err := db.QueryAll(ctx, s.db, scanBlockDevice, `SELECT `+bdmColumns+` FROM block_device_mappings
		WHERE instance_uuid IN (?`+strings.Repeat(", ?", len(args)-1)+`)
		ORDER BY CASE WHEN boot_index = 0 THEN 0 ELSE 1 END, created_at, device_name`, args...)
	for _, b := range bdms {
		out[b.InstanceUUID] = append(out[b.InstanceUUID], b)
	}
	return out, err
}

// volumeCreateTimeout is how long the conductor waits for a volume a server's
// block device mapping asked for (upstream's block_device_allocate_retries
// 60 × block_device_allocate_retries_interval 3 s).
const volumeCreateTimeout = 180 * time.Second

// allocateVolumes readies a placed instance's volumes for its host, with
// compute's own credentials (the user's token is long gone, as upstream's
// conductor acts with the request's context): a volume being made is waited
// for, then reserved for the instance; a reserved one gets the connector of
// the host and its connection. It says whether every volume is ready (the
// conductor's next pass goes on otherwise), and fails the build for a volume
// that went to error or took too long. Each step is recorded as it is done,
// so a conductor that crashes repeats none.
func (s *Service) allocateVolumes(ctx context.Context, in *instance) (bool, error) {
	bdms, err := instanceBlockDevices(ctx, s.db, in.UUID)
	if err != nil || len(bdms) == 0 || s.opts.Volumes == nil {
		return err == nil, err
	}
	ready := true
	for _, b := range bdms {
		from, read := b.Status, b
		if (b.Status == bdmAttaching || b.Status == bdmAttached && in.evacuating()) && b.ConnectorHost != in.Host {
			// Made for the host a failed spawn left (a reschedule), or the
			// one an evacuated server left: as upstream, the attachment is
			// made again for this one (the old one's export goes with it).
			if err := s.opts.Volumes.DeleteAttachment(ctx, VolumeCaller{}, b.AttachmentID); err != nil {
				return false, err
			}
			att, err := s.opts.Volumes.CreateAttachment(ctx, VolumeCaller{}, b.VolumeID, in.UUID)
			if err != nil {
				return false, s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: %s", in.UUID, errMessage(err)))
			}
			b.AttachmentID, b.Status = att.ID, bdmReserved
		}
		if b.Status == bdmCreating {
			vol, err := s.opts.Volumes.GetVolume(ctx, VolumeCaller{}, b.VolumeID)
			if err != nil {
				return false, err
			}
			created, _ := time.Parse("2006-01-02T15:04:05.000000", b.CreatedAt)
			switch {
			case vol.Status == "available":
			case vol.Status == "error" || vol.Status == "creating" && s.now().Sub(created) > volumeCreateTimeout:
				return false, s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: Volume %s did not finish being created even after we waited %d seconds or %d attempts. And its status is %s.",
					in.UUID, b.VolumeID, int(volumeCreateTimeout.Seconds()), 61, vol.Status))
			default:
				ready = false
				continue
			}
			att, err := s.opts.Volumes.CreateAttachment(ctx, VolumeCaller{}, b.VolumeID, in.UUID)
			if err != nil {
				return false, s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: %s", in.UUID, errMessage(err)))
			}
			b.AttachmentID, b.Status, b.SizeGB = att.ID, bdmReserved, vol.Size
		}
		if b.Status == bdmReserved {
			connector, err := s.hostConnector(ctx, in.Host)
			if err != nil {
				return false, err
			}
			att, err := s.opts.Volumes.UpdateAttachment(ctx, VolumeCaller{}, b.AttachmentID, connector)
			if err != nil {
				return false, s.failBuild(ctx, in, taskNetworking, fmt.Sprintf("Build of instance %s aborted: %s", in.UUID, errMessage(err)))
			}
			b.Connection, b.ConnectorHost, b.Status = &att.ConnectionInfo, in.Host, bdmAttaching
		}
		if b.Status != read.Status || b.AttachmentID != read.AttachmentID || b.ConnectorHost != read.ConnectorHost {
			if _, err := updateBlockDevice(ctx, s.db, b, from); err != nil {
				return false, err
			}
		}
	}
	return ready, nil
}
