package compute

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// block_device_mapping_v2 on server create, as upstream's
// BlockDeviceDict.from_api and compute API's _validate_bdm: each entry is
// checked (the route's schema checked its shape), the volumes it names are
// looked up and reserved as the caller, and those it asks for (from an image,
// blank) are created as the caller; the conductor then waits until they are
// available and gives them the connector of the server's host, and the agent
// starts the guest with them. A volume with boot index 0 is the server's root
// disk (boot from volume): the server then has no image of its own.

// Block device mapping sources and destinations (upstream's).
const (
	bdmSourceVolume   = "volume"
	bdmSourceImage    = "image"
	bdmSourceSnapshot = "snapshot"
	bdmSourceBlank    = "blank"
	bdmDestVolume     = "volume"
	bdmDestLocal      = "local"
	// bdmCreating and bdmReserved are the statuses of a mapping before the
	// conductor readied it: its volume being made, or made (or the caller's)
	// and reserved for the server without a connector.
	bdmCreating = "creating"
	bdmReserved = "reserved"
)

// blockDeviceRequest is one validated block_device_mapping_v2 entry.
type blockDeviceRequest struct {
	SourceType, DestinationType string
	UUID                        string // the image, volume or snapshot
	BootIndex                   *int   // nil: not bootable
	VolumeSize                  int
	DeleteOnTermination         bool
	Tag                         string
	VolumeType                  string // for a volume compute creates
	// GuestFormat is a local blank disk's: swap, or its file system.
	GuestFormat string
}

// diskBuses are upstream's fields.DiskBus.ALL.
var diskBuses = []string{"fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml"}

// invalidBDM is upstream's InvalidBDMFormat.
func invalidBDM(details string) error {
	return badRequest("Block Device Mapping is Invalid: %s", details)
}

// intField reads an integer the schema let through as a number or a string.
func intField(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x), x == float64(int(x))
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// parseBlockDevices is upstream's from_api over the request's entries, then
// the boot sequence check of _validate_bdm.
func parseBlockDevices(raw []any, imageSpecified bool) ([]blockDeviceRequest, error) {
	var out []blockDeviceRequest
	for _, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, badRequest("Invalid input for field/attribute block_device_mapping_v2. Value: %v. It is not of type 'object'", item)
		}
		if nd, ok := m["no_device"]; ok && nd != nil && nd != false && nd != "" {
			continue
		}
		b := blockDeviceRequest{}
		b.SourceType, _ = m["source_type"].(string)
		b.DestinationType, _ = m["destination_type"].(string)
		b.UUID, _ = m["uuid"].(string)
		b.Tag, _ = m["tag"].(string)
		b.VolumeType, _ = m["volume_type"].(string)
		b.GuestFormat, _ = m["guest_format"].(string)
		if bus, ok := m["disk_bus"].(string); ok && !slices.Contains(diskBuses, bus) {
			// Upstream's InvalidBDMDiskBus, whose message its typo leaves the
			// base class's.
			return nil, badRequest("Block Device Mapping is Invalid.")
		}
		if v, ok := m["boot_index"]; ok && v != nil {
			n, ok := intField(v)
			if !ok {
				return nil, invalidBDM(fmt.Sprintf("boot_index %v is not an integer.", v))
			}
			if n >= 0 {
				b.BootIndex = &n
			}
		}
		if v, ok := m["volume_size"]; ok && v != nil {
			n, ok := intField(v)
			if !ok || n < 1 {
				return nil, invalidBDM(fmt.Sprintf("volume_size %v is not a positive integer.", v))
			}
			b.VolumeSize = n
		}
		var err error
		if b.DeleteOnTermination, err = boolField("delete_on_termination", m["delete_on_termination"]); err != nil {
			return nil, err
		}
		if b.DestinationType == "" {
			b.DestinationType = bdmDestLocal
			if b.SourceType == bdmSourceVolume || b.SourceType == bdmSourceSnapshot {
				b.DestinationType = bdmDestVolume
			}
		}
		_, volumeType := m["volume_type"]
		switch {
		case b.SourceType == bdmSourceBlank && b.UUID != "":
			return nil, invalidBDM("Invalid device UUID.")
		case b.SourceType != bdmSourceBlank && b.UUID == "":
			return nil, invalidBDM("Missing device UUID.")
		case b.SourceType == bdmSourceImage && b.DestinationType == bdmDestLocal &&
			!(imageSpecified && b.BootIndex != nil && *b.BootIndex == 0):
			return nil, invalidBDM("Mapping image to local is not supported.")
		case b.DestinationType == bdmDestLocal && volumeType:
			return nil, invalidBDM("Specifying a volume_type with destination_type=local is not supported.")
		case b.SourceType == bdmSourceVolume && volumeType:
			return nil, invalidBDM("Specifying volume type to existing volume is not supported.")
		case b.DestinationType == bdmDestLocal && b.SourceType != bdmSourceImage && b.SourceType != bdmSourceBlank:
			// Upstream takes the entry and its drivers then ignore it: the
			// volume would be reserved for a server that never has it.
			return nil, invalidBDM("Mapping a volume or snapshot to local is not supported by this cloud.")
		}
		out = append(out, b)
	}
	var boot []int
	for _, b := range out {
		if b.BootIndex != nil {
			boot = append(boot, *b.BootIndex)
		}
	}
	slices.Sort(boot)
	sequence := len(boot) > 0
	for i, v := range boot {
		sequence = sequence && i == v
	}
	if !sequence {
		return nil, badRequest("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.")
	}
	for _, b := range out {
		switch {
		case b.SourceType == bdmSourceImage && b.DestinationType == bdmDestVolume && b.VolumeSize == 0:
			return nil, badRequest("Block Device Mapping is Invalid. Images with destination_type 'volume' need to have a non-zero size specified")
		case b.SourceType == bdmSourceBlank && b.DestinationType == bdmDestVolume && b.VolumeSize == 0:
			return nil, badRequest("Block Device Mapping is Invalid. Blank volumes (source: 'blank', dest: 'volume') need to have non-zero size")
		}
	}
	return out, nil
}

// volumeBootImage is the image a server booted from a volume made from it
// is: its properties steer scheduling and the guest's devices as an image's
// do, but the server has no image of its own (upstream's image_ref "").
func (s *Service) volumeBootImage(ctx context.Context, token string, root blockDeviceRequest) (Image, error) {
	if root.SourceType != bdmSourceImage {
		return Image{Properties: map[string]string{}}, nil
	}
	image, err := s.opts.Images.Get(ctx, token, root.UUID)
	if err != nil {
		if httpapi.IsStatus(err, http.StatusNotFound) || httpapi.IsStatus(err, http.StatusForbidden) {
			return Image{}, badRequest("Block Device Mapping is Invalid: failed to get image %s.", root.UUID)
		}
		return Image{}, fmt.Errorf("look up image %s: %w", root.UUID, err)
	}
	if image.Status != "active" {
		return Image{}, badRequest("Image %s is not active.", root.UUID)
	}
	if image.MinDisk > root.VolumeSize {
		return Image{}, badRequest("Volume is smaller than the minimum size specified in image metadata. Volume size is %d bytes, minimum size is %d bytes.",
			int64(root.VolumeSize)<<30, int64(image.MinDisk)<<30)
	}
	// A volume's guest boots from the volume: the image's kernel and ramdisk
	// play no part.
	delete(image.Properties, "kernel_id")
	delete(image.Properties, "ramdisk_id")
	return image, nil
}

// rootBlockDevice is the entry with boot index 0.
func rootBlockDevice(bdms []blockDeviceRequest) blockDeviceRequest {
	for _, b := range bdms {
		if b.BootIndex != nil && *b.BootIndex == 0 {
			return b
		}
	}
	return blockDeviceRequest{}
}

// volumeBacked says whether the server's root disk is a volume.
func volumeBacked(bdms []blockDeviceRequest) bool {
	return rootBlockDevice(bdms).DestinationType == bdmDestVolume
}

// checkBlockDevices is the rest of upstream's _validate_bdm, as the caller:
// the images and volumes the entries name exist, a volume to boot is
// bootable, and volumes are not given to several servers. It fills in the
// size of existing volumes.
func (s *Service) checkBlockDevices(r *http.Request, bdms []blockDeviceRequest, imageID string, maxCount int) error {
	creds := auth.FromContext(r.Context())
	if err := s.enforce(r, "os_compute_api:servers:create:attach_volume", map[string]any{
		"target.project_id": creds.ProjectID, "target.user_id": creds.UserID}); err != nil {
		return err
	}
	token := r.Header.Get("X-Auth-Token")
	for i := range bdms {
		b := &bdms[i]
		if b.DestinationType != bdmDestVolume {
			continue
		}
		if maxCount > 1 && b.SourceType == bdmSourceVolume {
			return badRequest("Cannot attach one or more volumes to multiple instances")
		}
		switch b.SourceType {
		case bdmSourceImage:
			if b.UUID == imageID {
				continue
			}
			if _, err := s.opts.Images.Get(r.Context(), token, b.UUID); err != nil {
				if httpapi.IsStatus(err, http.StatusNotFound) || httpapi.IsStatus(err, http.StatusForbidden) {
					return badRequest("Block Device Mapping is Invalid: failed to get image %s.", b.UUID)
				}
				return err
			}
		case bdmSourceVolume:
			if s.opts.Volumes == nil {
				return badRequest("Block Device Mapping is Invalid: failed to get volume %s.", b.UUID)
			}
			vol, err := s.opts.Volumes.GetVolume(r.Context(), volumeCaller(r), b.UUID)
			if errors.Is(err, ErrNoVolumeService) || httpapi.IsStatus(err, http.StatusNotFound) {
				return badRequest("Block Device Mapping is Invalid: failed to get volume %s.", b.UUID)
			} else if err != nil {
				return err
			}
			if b.BootIndex != nil && *b.BootIndex == 0 && !vol.Bootable {
				return badRequest("Block Device %s is not bootable.", b.UUID)
			}
			if !vol.Multiattach && (vol.Status != "available" || len(vol.Attachments) > 0) {
				return badRequest("Invalid volume: volume '%s' status must be 'available'. Currently in '%s'", vol.ID, vol.Status)
			}
			b.VolumeSize = vol.Size
		case bdmSourceSnapshot:
			// Snapshots are the volume service's; a volume is made from one
			// like from an image (the volume service checks it exists).
			if s.opts.Volumes == nil {
				return badRequest("Block Device Mapping is Invalid: failed to get snapshot %s.", b.UUID)
			}
		default:
			if s.opts.Volumes == nil {
				return badRequest("Block Device Mapping is Invalid.")
			}
		}
	}
	return nil
}

// prepareBlockDevices makes each server's volumes as the caller: an existing
// volume is reserved for the server (an attachment without a connector, as
// upstream's API does), one from an image, a snapshot or blank is created
// (upstream's compute creates it, as the user: here the API, which has the
// user's token). Their device names follow the locals local disks'. It
// returns each server's mappings to record, and an undo that gives back what
// it made.
func (s *Service) prepareBlockDevices(r *http.Request, bdms []blockDeviceRequest, ids []string, locals int) ([][]blockDevice, func(), error) {
	ctx := r.Context()
	caller := volumeCaller(r)
	var attachments, volumes []string
	undo := func() {
		ctx := context.WithoutCancel(ctx)
		for _, a := range attachments {
			if err := s.opts.Volumes.DeleteAttachment(ctx, VolumeCaller{}, a); err != nil {
				s.log.Warn("give back a volume reserved for a failed create", "attachment", a, "error", err)
			}
		}
		for _, v := range volumes {
			if err := s.opts.Volumes.DeleteVolume(ctx, VolumeCaller{}, v); err != nil {
				s.log.Warn("delete a volume made for a failed create", "volume", v, "error", err)
			}
		}
	}
	out := make([][]blockDevice, len(ids))
	now := stampMicro(s.now())
	for i, id := range ids {
		next := locals
		for _, b := range bdms {
			if b.DestinationType != bdmDestVolume {
				continue
			}
			row := blockDevice{UUID: newUUID(), InstanceUUID: id, SourceType: b.SourceType, BootIndex: b.BootIndex,
				DeleteOnTermination: b.DeleteOnTermination, Tag: b.Tag, SizeGB: b.VolumeSize, CreatedAt: now}
			if b.BootIndex != nil && *b.BootIndex == 0 {
				row.DeviceName = "/dev/vda"
			} else {
				next++
				row.DeviceName = "/dev/vd" + diskLetters(next)
			}
			switch b.SourceType {
			case bdmSourceVolume:
				att, err := s.opts.Volumes.CreateAttachment(ctx, caller, b.UUID, id)
				if err != nil {
					undo()
					return nil, nil, volumeFault(err, b.UUID)
				}
				attachments = append(attachments, att.ID)
				row.VolumeID, row.AttachmentID, row.Status = b.UUID, att.ID, bdmReserved
			default:
				// No zone, as upstream with cross_az_attach (the default): the
				// volume service's zones are its own.
				req := VolumeCreate{Size: b.VolumeSize, VolumeType: b.VolumeType}
				switch b.SourceType {
				case bdmSourceImage:
					req.ImageID, row.ImageID = b.UUID, b.UUID
				case bdmSourceSnapshot:
					req.SnapshotID = b.UUID
				case bdmSourceBlank:
					req.Name = id + "-blank-vol"
				}
				vol, err := s.opts.Volumes.CreateVolume(ctx, caller, req)
				if err != nil {
					undo()
					return nil, nil, volumeFault(err, b.UUID)
				}
				volumes = append(volumes, vol.ID)
				row.VolumeID, row.Status = vol.ID, bdmCreating
			}
			out[i] = append(out[i], row)
		}
	}
	return out, undo, nil
}

// checkVolumeBackedRebuild is upstream's refusal to rebuild a server booted
// from a volume with another image than its root volume was made from (the
// root disk is the volume's, which a rebuild does not reimage; 2.93's reimage
// is not done). The root volume's image is the one compute made it from; of a
// volume the user brought it is unknown, so any image is another.
func (s *Service) checkVolumeBackedRebuild(ctx context.Context, in *instance, imageID string) error {
	bdms, err := instanceBlockDevices(ctx, s.db, in.UUID)
	if err != nil {
		return err
	}
	for _, b := range bdms {
		if b.BootIndex != nil && *b.BootIndex == 0 && b.ImageID != imageID {
			return badRequest("Image %s is unacceptable: Unable to rebuild with a different image for a volume-backed server.", imageID)
		}
	}
	return nil
}
