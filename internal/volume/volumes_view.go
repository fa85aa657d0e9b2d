package volume

import (
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// linkPrefix is the API's base with the project when the request's URL
// carried it (common.ViewBuilder._get_project_id_in_url).
func (s *Service) linkPrefix(r *http.Request) (versioned, bookmark string) {
	p := ""
	if up := urlProject(r); up != "" {
		p = "/" + up
	}
	return s.base() + "/v3" + p, s.base() + p
}

func (s *Service) links(r *http.Request, collection, id string) []httpapi.Link {
	v, b := s.linkPrefix(r)
	return []httpapi.Link{{Rel: "self", Href: v + "/" + collection + "/" + id},
		{Rel: "bookmark", Href: b + "/" + collection + "/" + id}}
}

// viewTime renders a stored timestamp as upstream's views (no zone, microseconds).
func viewTime(stored *string) any {
	if stored == nil || *stored == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *stored)
	if err != nil {
		return *stored
	}
	return stamp(t)
}

func nullable(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// volumeSummary is the list view's brief entry.
func (s *Service) volumeSummary(r *http.Request, v *volume) map[string]any {
	return map[string]any{"id": v.ID, "name": nullable(v.Name), "links": s.links(r, "volumes", v.ID)}
}

// volumeDetail is cinder/api/v3/views/volumes.py detail with the extensions
// upstream loads (tenant, host and migration attributes, image metadata),
// each key at the microversion and for the callers upstream shows it to.
func (s *Service) volumeDetail(r *http.Request, v *volume) map[string]any {
	admin := isAdmin(r)
	target := map[string]any{"project_id": v.ProjectID}
	attachments := []any{}
	for _, a := range v.Attachments {
		if a.AttachStatus != attachAttached {
			continue
		}
		entry := map[string]any{"id": v.ID, "attachment_id": a.ID, "volume_id": v.ID,
			"server_id": nullable(a.InstanceUUID), "host_name": nil, "device": nullable(a.Mountpoint),
			"attached_at": viewTime(a.AttachTime)}
		if admin {
			entry["host_name"] = nullable(a.AttachedHost)
		}
		attachments = append(attachments, entry)
	}
	metadata := v.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	var typeName any = v.VolumeTypeID
	if v.Type != nil {
		typeName = v.Type.Name
	}
	out := map[string]any{
		"id": v.ID, "status": v.Status, "size": v.Size, "availability_zone": v.AvailabilityZone,
		"created_at": viewTime(&v.CreatedAt), "updated_at": viewTime(&v.UpdatedAt),
		"name": nullable(v.Name), "description": nullable(v.Description), "volume_type": typeName,
		"snapshot_id": nullable(v.SnapshotID), "source_volid": nullable(v.SourceVolID), "metadata": metadata,
		"links": s.links(r, "volumes", v.ID), "user_id": v.UserID, "bootable": strings.ToLower(pyBool(v.Bootable)),
		"encrypted": false, "replication_status": "disabled", "consistencygroup_id": nil,
		"multiattach": v.Multiattach, "attachments": attachments,
	}
	if admin {
		out["migration_status"] = nullable(v.MigrationStatus)
	}
	if since(r, 13) {
		out["group_id"] = nil
	}
	if admin && since(r, 21) {
		out["provider_id"] = nil
	}
	if since(r, 48) {
		out["shared_targets"] = false
		out["service_uuid"] = nil
	}
	if admin && since(r, 61) {
		out["cluster_name"] = nil
	}
	if since(r, 63) {
		out["volume_type_id"] = v.VolumeTypeID
	}
	if since(r, 65) {
		out["consumes_quota"] = v.UseQuota
	}
	// the extensions (contrib/volume_*_attribute.py, volume_image_metadata.py)
	if s.allowed(r, policyTenantAttribute, target) {
		out["os-vol-tenant-attr:tenant_id"] = v.ProjectID
	}
	if s.allowed(r, policyHostAttribute, target) {
		var host any
		if v.Host != "" {
			host = v.Host
		}
		out["os-vol-host-attr:host"] = host
	}
	if s.allowed(r, policyMigAttribute, target) {
		out["os-vol-mig-status-attr:migstat"] = nullable(v.MigrationStatus)
		out["os-vol-mig-status-attr:name_id"] = nil
	}
	if len(v.ImageMetadata) > 0 && s.allowed(r, policyImageMetadataShow, target) {
		out["volume_image_metadata"] = v.ImageMetadata
	}
	return out
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
