package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nimbus-cloud/nimbus/internal/compute"
)

// Images is the image API (Glance v2).
type Images struct{ e *endpoint }

var _ compute.Images = (*Images)(nil)

// NewImages authenticates against identity and reaches the image API at url.
func NewImages(creds Credentials, url string) *Images {
	return &Images{e: newEndpoint(creds, url)}
}

// imageFields are the image's standard attributes; everything else is a property.
var imageFields = map[string]bool{"id": true, "name": true, "status": true, "disk_format": true, "container_format": true,
	"size": true, "virtual_size": true, "min_disk": true, "min_ram": true, "owner": true, "visibility": true,
	"protected": true, "os_hidden": true, "checksum": true, "os_hash_algo": true, "os_hash_value": true, "tags": true,
	"created_at": true, "updated_at": true, "self": true, "file": true, "schema": true, "direct_url": true, "locations": true}

func (c *Images) Get(ctx context.Context, token, id string) (compute.Image, error) {
	var raw map[string]any
	if err := c.e.get(ctx, token, "v2/images/"+url.PathEscape(id), &raw); err != nil {
		return compute.Image{}, err
	}
	return imageOf(raw), nil
}

func (c *Images) Download(ctx context.Context, id string, w io.Writer) error {
	sc, err := c.e.own(ctx)
	if err != nil {
		return err
	}
	resp, err := sc.Request(ctx, "GET", c.e.url+"v2/images/"+url.PathEscape(id)+"/file",
		&gophercloud.RequestOpts{OkCodes: []int{http.StatusOK}, KeepResponseBody: true})
	if err != nil {
		return apiError(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("download image %s: %w", id, err)
	}
	return nil
}

// Access is the image API's URL and a token of the compute service, for the
// agents of other hosts to download with (compute.ImageAccessor).
func (c *Images) Access(ctx context.Context) (compute.ImageAccess, error) {
	sc, err := c.e.own(ctx)
	if err != nil {
		return compute.ImageAccess{}, err
	}
	return compute.ImageAccess{URL: c.e.url, Token: sc.Token()}, nil
}

var _ compute.ImageProxy = (*Images)(nil)

// imageOf reads a Glance v2 image body.
func imageOf(raw map[string]any) compute.Image {
	img := compute.Image{Properties: map[string]string{}}
	str := func(k string) string { v, _ := raw[k].(string); return v }
	num := func(k string) int64 { v, _ := raw[k].(float64); return int64(v) }
	img.ID, img.Name, img.Status = str("id"), str("name"), str("status")
	img.DiskFormat, img.ContainerFormat = str("disk_format"), str("container_format")
	img.Size, img.VirtualSize = num("size"), num("virtual_size")
	img.MinDisk, img.MinRAM = int(num("min_disk")), int(num("min_ram"))
	img.Checksum, img.HashAlgo, img.HashValue = str("checksum"), str("os_hash_algo"), str("os_hash_value")
	img.CreatedAt, img.UpdatedAt = str("created_at"), str("updated_at")
	for k, v := range raw {
		if imageFields[k] {
			continue
		}
		switch x := v.(type) {
		case string:
			img.Properties[k] = x
		case nil:
		default:
			b, _ := json.Marshal(x)
			img.Properties[k] = string(b)
		}
	}
	return img
}

// ListImages pages through GET /v2/images as token's bearer: one page when the
// query names a limit, every page otherwise (as glanceclient's list does).
func (c *Images) ListImages(ctx context.Context, token string, query url.Values) ([]compute.Image, error) {
	var out []compute.Image
	path := "v2/images?" + query.Encode()
	for path != "" {
		var page struct {
			Images []map[string]any `json:"images"`
			Next   string           `json:"next"`
		}
		if err := c.e.get(ctx, token, path, &page); err != nil {
			return nil, err
		}
		for _, raw := range page.Images {
			out = append(out, imageOf(raw))
		}
		path = ""
		if page.Next != "" && !query.Has("limit") {
			path = strings.TrimPrefix(page.Next, "/")
		}
	}
	return out, nil
}

func (c *Images) DeleteImage(ctx context.Context, token, id string) error {
	return c.e.remove(ctx, token, "v2/images/"+url.PathEscape(id))
}

// SetImageProperties patches the image (JSON patch, Glance's v2.1 media type):
// every property not in props removed, the others added or replaced.
func (c *Images) SetImageProperties(ctx context.Context, token, id string, props map[string]string) (compute.Image, error) {
	var raw map[string]any
	if err := c.e.get(ctx, token, "v2/images/"+url.PathEscape(id), &raw); err != nil {
		return compute.Image{}, err
	}
	ops := []map[string]any{}
	for k := range imageOf(raw).Properties {
		if _, keep := props[k]; !keep {
			ops = append(ops, map[string]any{"op": "remove", "path": "/" + jsonPointer(k)})
		}
	}
	for k, v := range props {
		ops = append(ops, map[string]any{"op": "add", "path": "/" + jsonPointer(k), "value": v})
	}
	sc, err := c.e.as(ctx, token)
	if err != nil {
		return compute.Image{}, err
	}
	var out map[string]any
	_, err = sc.Patch(ctx, c.e.url+"v2/images/"+url.PathEscape(id), ops, &out, &gophercloud.RequestOpts{
		OkCodes: []int{http.StatusOK}, MoreHeaders: map[string]string{"Content-Type": "application/openstack-images-v2.1-json-patch"}})
	if err != nil {
		return compute.Image{}, apiError(err)
	}
	return imageOf(out), nil
}

// jsonPointer escapes a property name as a JSON pointer token (RFC 6901).
func jsonPointer(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// ImageURL is the image API's URL as the catalog gives it.
func (c *Images) ImageURL() string { return strings.TrimSuffix(c.e.url, "/") }

var _ compute.SnapshotImages = (*Images)(nil)

// CreateImage makes an image record (POST /v2/images, Glance's flat body of
// attributes and properties) as token's bearer: a snapshot's, before its data.
func (c *Images) CreateImage(ctx context.Context, token string, meta map[string]any) (compute.Image, error) {
	var raw map[string]any
	if err := c.e.send(ctx, token, http.MethodPost, "v2/images", meta, &raw, http.StatusCreated); err != nil {
		return compute.Image{}, err
	}
	return imageOf(raw), nil
}

// Upload stores the file at path as the image's data with the compute
// service's credentials (a snapshot's upload, from a host's agent).
func (c *Images) Upload(ctx context.Context, id, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc, err := c.e.own(ctx)
	if err != nil {
		return err
	}
	_, err = sc.Request(ctx, "PUT", c.e.url+"v2/images/"+url.PathEscape(id)+"/file", &gophercloud.RequestOpts{
		RawBody: f, OkCodes: []int{http.StatusNoContent}, MoreHeaders: map[string]string{"Content-Type": "application/octet-stream"}})
	if err != nil {
		return fmt.Errorf("upload image %s: %w", id, apiError(err))
	}
	return nil
}
