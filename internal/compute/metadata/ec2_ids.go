package metadata

import (
	"fmt"
	"hash/crc32"
	"strconv"
)

// ec2ID formats an EC2 identifier as upstream: prefix-%08x.
func ec2ID(prefix string, n int64) string { return fmt.Sprintf("%s-%08x", prefix, n) }

// uuidInt is the integer behind the EC2 id of something known by its UUID.
// Upstream numbers images and instances in mapping tables (s3_images,
// ec2_instances); Nimbus has none, so the UUID's first 32 bits stand in: stable
// on every host and recognisable (ami-1a2b3c4d is image 1a2b3c4d-...). A name that
// is not a UUID is hashed.
func uuidInt(uuid string) int64 {
	if len(uuid) >= 8 {
		if n, err := strconv.ParseUint(uuid[:8], 16, 32); err == nil {
			return int64(n)
		}
	}
	return int64(crc32.ChecksumIEEE([]byte(uuid)))
}

// instanceID is the EC2 instance-id.
func (d *document) instanceID() string {
	n := d.inst.EC2ID
	if n == 0 {
		n = uuidInt(d.inst.UUID)
	}
	return ec2ID("i", n)
}

// imageID is the EC2 id of an image (ami, aki, ari), nil without one (an
// instance booted from a volume), as upstream.
func imageID(prefix, uuid string) any {
	if uuid == "" {
		return nil
	}
	return ec2ID(prefix, uuidInt(uuid))
}
