package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// guestImageSpec is one Glance image made from the guest build.
type guestImageSpec struct {
	name   string
	file   func(guestimage.Artifacts) string
	fields map[string]any
	// link adds the IDs of images seeded before it (kernel_id, ramdisk_id).
	link map[string]string // field -> image name
}

// guestImages are what the first start uploads: the whole-disk image, which boots
// through its own bootloader like any cloud image, and the direct-boot form (a
// kernel and ramdisk that the compute service boots without a bootloader).
var guestImages = []guestImageSpec{
	{name: "nimbus-guest-kernel", file: func(a guestimage.Artifacts) string { return a.Kernel },
		fields: map[string]any{"disk_format": "aki", "container_format": "aki"}},
	{name: "nimbus-guest-ramdisk", file: func(a guestimage.Artifacts) string { return a.Ramdisk },
		fields: map[string]any{"disk_format": "ari", "container_format": "ari"}},
	{name: "nimbus-guest", file: func(a guestimage.Artifacts) string { return a.Disk },
		fields: map[string]any{"disk_format": "qcow2", "container_format": "bare"}},
	{name: "nimbus-guest-direct", file: func(a guestimage.Artifacts) string { return a.Disk },
		fields: map[string]any{"disk_format": "qcow2", "container_format": "bare"},
		link:   map[string]string{"kernel_id": "nimbus-guest-kernel", "ramdisk_id": "nimbus-guest-ramdisk"}},
}

// seedGuestImages uploads the test guest as public images owned by the admin project,
// through the image API in-process, as any client would. It is idempotent: images
// already active are kept (so later starts do not even look at the build), and one
// a crash left half-uploaded is replaced.
func (c *Cloud) seedGuestImages(ctx context.Context, api *inProcess) error {
	ids := map[string]string{}
	var missing []guestImageSpec
	for _, spec := range guestImages {
		id, err := api.activeImage(ctx, spec.name)
		if err != nil {
			return fmt.Errorf("seed the guest image: %w", err)
		}
		if id == "" {
			missing = append(missing, spec)
		}
		ids[spec.name] = id
	}
	if len(missing) == 0 {
		return nil
	}
	build, err := guestimage.Build(ctx, guestimage.Options{Logger: c.log})
	if err != nil {
		return err
	}
	for _, spec := range missing {
		fields := map[string]any{
			"name": spec.name, "visibility": "public", "architecture": "x86_64", "os_type": "linux",
			"os_distro": "nimbus-guest", "hypervisor_type": "qemu", "nimbus_guest_build": build.Key,
		}
		for k, v := range spec.fields {
			fields[k] = v
		}
		for field, name := range spec.link {
			fields[field] = ids[name]
		}
		if len(spec.link) > 0 {
			fields["os_command_line"] = build.CommandLine // what the compute service passes on direct boot
		}
		id, err := api.upload(ctx, fields, spec.file(build))
		if err != nil {
			return fmt.Errorf("seed %s: %w", spec.name, err)
		}
		ids[spec.name] = id
		c.log.Info("seeded guest image", "name", spec.name, "id", id)
	}
	return nil
}

// activeImage returns the ID of the active image with that name, deleting any
// that is not active (an upload a crash cut off).
func (p *inProcess) activeImage(ctx context.Context, name string) (string, error) {
	res, err := p.call(ctx, p.image, http.MethodGet, "/v2/images?name="+url.QueryEscape(name), nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	var list struct {
		Images []struct{ ID, Status string }
	}
	if err := json.Unmarshal(res.body.Bytes(), &list); err != nil {
		return "", err
	}
	active := ""
	for _, im := range list.Images {
		switch {
		case im.Status == "active" && active == "":
			active = im.ID
		case im.Status == "queued" || im.Status == "saving":
			if _, err := p.call(ctx, p.image, http.MethodDelete, "/v2/images/"+im.ID, nil, http.StatusNoContent); err != nil {
				return "", err
			}
		}
	}
	return active, nil
}

func (p *inProcess) upload(ctx context.Context, fields map[string]any, path string) (string, error) {
	res, err := p.call(ctx, p.image, http.MethodPost, "/v2/images", fields, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var created struct{ ID string }
	if err := json.Unmarshal(res.body.Bytes(), &created); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := p.call(ctx, p.image, http.MethodPut, "/v2/images/"+created.ID+"/file", f, http.StatusNoContent); err != nil {
		return "", err
	}
	return created.ID, nil
}
