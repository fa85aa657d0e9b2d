package clients

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

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
	img := compute.Image{Properties: map[string]string{}}
	str := func(k string) string { v, _ := raw[k].(string); return v }
	num := func(k string) int64 { v, _ := raw[k].(float64); return int64(v) }
	img.ID, img.Name, img.Status = str("id"), str("name"), str("status")
	img.DiskFormat, img.ContainerFormat = str("disk_format"), str("container_format")
	img.Size, img.VirtualSize = num("size"), num("virtual_size")
	img.MinDisk, img.MinRAM = int(num("min_disk")), int(num("min_ram"))
	img.Checksum, img.HashAlgo, img.HashValue = str("checksum"), str("os_hash_algo"), str("os_hash_value")
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
	return img, nil
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
