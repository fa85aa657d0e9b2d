package compute

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// serverViewOpts say how a server is rendered beyond its 2.1 body.
type serverViewOpts struct {
	// list is set for /servers/detail: upstream shows server_groups (2.71) only
	// for one server (show, update).
	list bool
	// hostStatus caches the compute services' status by host across a list.
	hostStatus map[string]string
	// volumes are the listed instances' volumes (pageVolumes).
	volumes map[string][]blockDevice
}

// addVersionedFields adds what microversions after 2.1 show of a server, each
// field from the version upstream added it, in upstream's order.
func (s *Service) addVersionedFields(r *http.Request, in *instance, v map[string]any, o *serverViewOpts) {
	creds := auth.FromContext(r.Context())
	target := map[string]any{"target.project_id": in.ProjectID}
	allowed := func(rule string) bool { return s.policy.Allowed(rule, target, creds.PolicyCredentials()) }
	extended := allowed("os_compute_api:os-extended-server-attributes")
	if extended && since(r, 3) {
		// The EC2-era attributes 2.3 brought back, admin-only as the rest of
		// OS-EXT-SRV-ATTR.
		props := in.Request.Image.Properties
		var rootDevice any
		if in.Host != "" {
			rootDevice = "/dev/vda" // the agents' first virtio disk
		}
		v["OS-EXT-SRV-ATTR:reservation_id"] = in.Request.ReservationID
		v["OS-EXT-SRV-ATTR:launch_index"] = in.Request.LaunchIndex
		v["OS-EXT-SRV-ATTR:hostname"] = in.Hostname
		v["OS-EXT-SRV-ATTR:kernel_id"] = props["kernel_id"]
		v["OS-EXT-SRV-ATTR:ramdisk_id"] = props["ramdisk_id"]
		v["OS-EXT-SRV-ATTR:root_device_name"] = rootDevice
		v["OS-EXT-SRV-ATTR:user_data"] = nullable(in.Request.UserData)
	}
	if since(r, 9) {
		v["locked"] = in.Locked
	}
	if since(r, 16) {
		showAll := allowed("os_compute_api:servers:show:host_status")
		if showAll || allowed("os_compute_api:servers:show:host_status:unknown-only") {
			if st := s.hostStatus(r.Context(), in.Host, o); showAll || st == "UNKNOWN" {
				v["host_status"] = st
			}
		}
	}
	if since(r, 19) {
		var d any
		if in.Request.Description != nil {
			d = *in.Request.Description
		}
		v["description"] = d
	}
	if since(r, 26) {
		v["tags"] = nonNilTags(in.Tags)
	}
	if since(r, 47) {
		f := map[string]any{"original_name": in.Flavor.Name, "vcpus": in.Flavor.VCPUs, "ram": in.Flavor.RAM,
			"disk": in.Flavor.Disk, "ephemeral": in.Flavor.Ephemeral, "swap": in.Flavor.Swap}
		if allowed("os_compute_api:servers:show:flavor-extra-specs") {
			specs := in.Flavor.ExtraSpecs
			if specs == nil {
				specs = map[string]string{}
			}
			f["extra_specs"] = specs
		}
		v["flavor"] = f
	}
	if since(r, 63) {
		v["trusted_image_certificates"] = nil // certificate validation is not offered: never any
	}
	if since(r, 71) && !o.list {
		v["server_groups"] = s.serverGroupsOf(r.Context(), in)
	}
	if since(r, 73) {
		v["locked_reason"] = nullable(in.LockedReason)
	}
	if since(r, 90) && !extended {
		v["OS-EXT-SRV-ATTR:hostname"] = in.Hostname
	}
	if since(r, 96) {
		v["pinned_availability_zone"] = nullable(in.Request.PinnedAZ)
	}
	if since(r, 98) {
		if img, ok := v["image"].(map[string]any); ok {
			img["properties"] = imageMetaProps(in.Request.Image.Properties)
		}
	}
	if since(r, 100) {
		hints := in.Request.SchedulerHints
		if hints == nil {
			hints = map[string]any{}
		}
		v["scheduler_hints"] = hints
	}
}

// hostStatus is upstream's host_status of the server's host: DOWN when forced
// down, MAINTENANCE when disabled, UP when heard from lately, else UNKNOWN; ""
// for a server on no host.
func (s *Service) hostStatus(ctx context.Context, host string, o *serverViewOpts) string {
	if host == "" {
		return ""
	}
	if st, ok := o.hostStatus[host]; ok {
		return st
	}
	st := "UNKNOWN"
	h, err := loadHostStates(ctx, s.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, host)
	switch {
	case err != nil:
		s.log.Warn("host status", "host", host, "error", err)
	case len(h) == 1 && h[0].ForcedDown:
		st = "DOWN"
	case len(h) == 1 && h[0].Disabled:
		st = "MAINTENANCE"
	case len(h) == 1 && s.up(h[0]):
		st = "UP"
	}
	if o.hostStatus == nil {
		o.hostStatus = map[string]string{}
	}
	o.hostStatus[host] = st
	return st
}

// serverGroupsOf is 2.71's server_groups: the group the server was booted
// into, while it still exists.
func (s *Service) serverGroupsOf(ctx context.Context, in *instance) []string {
	if in.Request.ServerGroup == "" {
		return []string{}
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_groups WHERE id = ?`, in.Request.ServerGroup).Scan(&n)
	if err != nil && !db.IsNoRows(err) {
		s.log.Warn("server groups of", "instance", in.UUID, "error", err)
	}
	if n == 0 {
		return []string{}
	}
	return []string{in.Request.ServerGroup}
}

// imageMetaProps are the image properties 2.98 embeds: upstream shows only the
// standard ones (ImageMetaProps' fields), which all share these prefixes or names.
func imageMetaProps(props map[string]string) map[string]string {
	out := map[string]string{}
	for k, val := range props {
		switch {
		case strings.HasPrefix(k, "hw_"), strings.HasPrefix(k, "img_"), strings.HasPrefix(k, "os_"),
			strings.HasPrefix(k, "traits:"), k == "architecture", k == "hypervisor_type", k == "vm_mode",
			k == "hypervisor_version_requires", k == "auto_disk_config":
			out[k] = val
		}
	}
	return out
}
