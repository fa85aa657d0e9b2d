package compute

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Block device mapping statuses (migrations/0006): where a volume's attach or
// detach is.
const (
	bdmAttaching = "attaching"
	bdmAttached  = "attached"
	bdmDetaching = "detaching"
)

// VolumeAttaching, VolumeAttached and VolumeDetaching are AgentVolume's statuses.
const (
	VolumeAttaching = bdmAttaching
	VolumeAttached  = bdmAttached
	VolumeDetaching = bdmDetaching
)

// blockDevice is one row of block_device_mappings: a volume of an instance
// (upstream's BlockDeviceMapping with destination_type volume).
type blockDevice struct {
	UUID                string
	InstanceUUID        string
	VolumeID            string
	AttachmentID        string
	DeviceName          string
	BootIndex           *int
	SourceType          string // volume, image, blank (what the volume was made from)
	DeleteOnTermination bool
	Tag                 string
	ImageID             string
	SizeGB              int
	Status              string
	Connection          *VolumeConnection
	// ConnectorHost is the host the connection was made for.
	ConnectorHost string
	ExtendPending bool
	CreatedAt     string
}

const bdmColumns = `uuid, instance_uuid, volume_id, attachment_id, device_name, boot_index, source_type,
	delete_on_termination, tag, image_id, size_gb, status, connection_info, connector_host, extend_pending, created_at`

func scanBlockDevice(sc db.Scanner) (blockDevice, error) {
	var b blockDevice
	var attachment, tag, image, conn, connector sql.NullString
	var boot sql.NullInt64
	if err := sc.Scan(&b.UUID, &b.InstanceUUID, &b.VolumeID, &attachment, &b.DeviceName, &boot, &b.SourceType,
		&b.DeleteOnTermination, &tag, &image, &b.SizeGB, &b.Status, &conn, &connector, &b.ExtendPending, &b.CreatedAt); err != nil {
		return b, err
	}
	b.AttachmentID, b.Tag, b.ImageID, b.ConnectorHost = attachment.String, tag.String, image.String, connector.String
	if boot.Valid {
		i := int(boot.Int64)
		b.BootIndex = &i
	}
	if conn.String != "" {
		var c VolumeConnection
		if err := json.Unmarshal([]byte(conn.String), &c); err != nil {
			return b, fmt.Errorf("connection_info of %s: %w", b.UUID, err)
		}
		b.Connection = &c
	}
	return b, nil
}

// instanceBlockDevices are the instance's volumes, the root (boot index 0)
// first, then in the order they were attached.
func instanceBlockDevices(ctx context.Context, q querier, instanceUUID string) ([]blockDevice, error) {
	return db.QueryAll(ctx, q, scanBlockDevice, `SELECT `+bdmColumns+` FROM block_device_mappings
		WHERE instance_uuid = ? ORDER BY CASE WHEN boot_index = 0 THEN 0 ELSE 1 END, created_at, device_name`, instanceUUID)
}

// volumeBlockDevices are the mappings of a volume, on any instance.
func volumeBlockDevices(ctx context.Context, q querier, volumeID string) ([]blockDevice, error) {
	return db.QueryAll(ctx, q, scanBlockDevice, `SELECT `+bdmColumns+` FROM block_device_mappings WHERE volume_id = ?`, volumeID)
}

func connectionJSON(c *VolumeConnection) (any, error) {
	if c == nil {
		return nil, nil
	}
	data, err := json.Marshal(c)
	return string(data), err
}

func insertBlockDevice(ctx context.Context, q querier, b blockDevice) error {
	conn, err := connectionJSON(b.Connection)
	if err != nil {
		return err
	}
	var boot any
	if b.BootIndex != nil {
		boot = *b.BootIndex
	}
	_, err = q.ExecContext(ctx, `INSERT INTO block_device_mappings (`+bdmColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.UUID, b.InstanceUUID, b.VolumeID, nullable(b.AttachmentID),
		b.DeviceName, boot, b.SourceType, b.DeleteOnTermination, nullable(b.Tag), nullable(b.ImageID), b.SizeGB, b.Status,
		conn, nullable(b.ConnectorHost), b.ExtendPending, b.CreatedAt)
	return err
}

// updateBlockDevice writes the mapping's changing columns on the condition
// that its status is still from (""; any): a report that raced another
// change of the same mapping changes nothing. It says whether it wrote.
func updateBlockDevice(ctx context.Context, q querier, b blockDevice, from string) (bool, error) {
	conn, err := connectionJSON(b.Connection)
	if err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, `UPDATE block_device_mappings SET attachment_id = ?, status = ?, connection_info = ?,
		connector_host = ?, delete_on_termination = ?, size_gb = ?, extend_pending = ? WHERE uuid = ? AND (? = '' OR status = ?)`,
		nullable(b.AttachmentID), b.Status, conn, nullable(b.ConnectorHost), b.DeleteOnTermination, b.SizeGB, b.ExtendPending,
		b.UUID, from, from)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func deleteBlockDevice(ctx context.Context, q querier, uuid string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM block_device_mappings WHERE uuid = ?`, uuid)
	return err
}

// nextDeviceName is the first /dev/vdX the instance's volumes do not take
// (vda is the root disk), as upstream's get_next_device_name.
func nextDeviceName(taken []blockDevice) string {
	used := map[string]bool{"/dev/vda": true}
	for _, b := range taken {
		used[b.DeviceName] = true
	}
	for i := 1; ; i++ {
		name := "/dev/vd" + diskLetters(i)
		if !used[name] {
			return name
		}
	}
}

// diskLetters is the letters of disk i (0 a, 25 z, 26 aa), as Linux names.
func diskLetters(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('a'+(i-1)%26)) + s
	}
	return s
}
