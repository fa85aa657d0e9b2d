package compute

import (
	"context"
	"errors"
)

// ErrNoVolumeService is the volume client's answer when the catalog has no
// block-storage endpoint: a cloud without Cinder, where no volume exists.
var ErrNoVolumeService = errors.New("the catalog has no block-storage endpoint")

// VolumeCaller is whom a call to the volume service is made for: a user's
// token and project (the project goes into Cinder's URL, which must match the
// token's), or compute's own credentials when Token is "".
type VolumeCaller struct {
	Token     string
	ProjectID string
}

// Volume is what compute needs to know of a Cinder volume.
type Volume struct {
	ID               string
	Name             string
	Status           string
	Size             int // GB
	AvailabilityZone string
	Multiattach      bool
	Bootable         bool
	// Attachments are the volume's attachments: the server and the
	// attachment each names.
	Attachments []VolumeAttachmentRef
}

// VolumeAttachmentRef is one entry of a volume's attachments.
type VolumeAttachmentRef struct {
	ServerID     string
	AttachmentID string
}

// VolumeCreate asks for a new volume (upstream's BDMs with source image or
// blank and destination volume).
type VolumeCreate struct {
	Name             string
	Size             int
	ImageID          string
	SnapshotID       string
	VolumeType       string
	AvailabilityZone string
}

// VolumeConnector is the attaching host, os-brick's connector properties.
type VolumeConnector struct {
	Host      string `json:"host"`
	IP        string `json:"ip"`
	Initiator string `json:"initiator,omitempty"`
}

// VolumeAttachment is one Cinder attachment (3.27+), with the connection the
// volume service made for its connector once updated with one.
type VolumeAttachment struct {
	ID         string
	Status     string
	VolumeID   string
	InstanceID string
	// ConnectionInfo is upstream's connection_info: driver_volume_type and
	// its data.
	ConnectionInfo VolumeConnection
}

// VolumeConnection is an attachment's connection_info.
type VolumeConnection struct {
	DriverVolumeType string         `json:"driver_volume_type"`
	Data             map[string]any `json:"data,omitempty"`
}

// VolumeAPI is the volume service (Cinder v3) as compute calls it,
// upstream's nova.volume.cinder.API with the attachments API of 3.44.
type VolumeAPI interface {
	GetVolume(ctx context.Context, c VolumeCaller, id string) (Volume, error)
	CreateVolume(ctx context.Context, c VolumeCaller, req VolumeCreate) (Volume, error)
	DeleteVolume(ctx context.Context, c VolumeCaller, id string) error
	// CreateAttachment reserves the volume for the instance (no connector:
	// status reserved).
	CreateAttachment(ctx context.Context, c VolumeCaller, volumeID, instanceUUID string) (VolumeAttachment, error)
	// UpdateAttachment gives the attachment its host's connector; the answer
	// holds the connection_info.
	UpdateAttachment(ctx context.Context, c VolumeCaller, attachmentID string, connector VolumeConnector) (VolumeAttachment, error)
	// CompleteAttachment marks the volume in-use (os-complete).
	CompleteAttachment(ctx context.Context, c VolumeCaller, attachmentID string) error
	// DeleteAttachment ends the attachment (the export goes); one that is not
	// there is no error.
	DeleteAttachment(ctx context.Context, c VolumeCaller, attachmentID string) error
}
