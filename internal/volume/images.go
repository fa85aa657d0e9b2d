package volume

import (
	"context"
	"io"
)

// Images is the image service as the volume service calls it: to read the
// image a volume is created from, and to upload a volume as a new image
// (os-volume_upload_image). The token is the caller's, as upstream calls
// Glance with the user's context.
type Images interface {
	// Get returns the image's record (id, name, status, size, disk_format,
	// container_format, min_disk, properties...), 404 as an error.
	Get(ctx context.Context, token, imageID string) (map[string]any, error)
	// Download streams the image's data.
	Download(ctx context.Context, token, imageID string) (io.ReadCloser, error)
	// Create makes an image record owned by the caller's project.
	Create(ctx context.Context, token string, fields map[string]any) (map[string]any, error)
	// Upload sends the image's data.
	Upload(ctx context.Context, token, imageID string, data io.Reader, size int64) error
}
