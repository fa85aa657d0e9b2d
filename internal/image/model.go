package image

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// imageRow is one image as stored.
type imageRow struct {
	ID, Status, Visibility, Owner  string
	Name, DiskFormat, ContainerFmt sql.NullString
	Checksum, HashAlgo, HashValue  sql.NullString
	Size, VirtualSize              sql.NullInt64
	Protected, Hidden              bool
	MinDisk, MinRAM                int64
	Properties                     map[string]string
	Tags                           []string
	CreatedAt, UpdatedAt           string
}

const imageColumns = `id, name, status, visibility, protected, os_hidden, disk_format, container_format, size,
	virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, owner, properties, tags, created_at, updated_at`

var (
	diskFormats      = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
	containerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
	visibilities     = []string{"public", "private", "shared", "community"}
	// readOnly attributes answer 403 when set, as upstream.
	readOnly = []string{"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size",
		"virtual_size", "direct_url", "self", "file", "schema", "id", "locations", "stores"}
	reserved = []string{"location", "deleted", "deleted_at"}
)

func scanImage(sc db.Scanner) (*imageRow, error) {
	var im imageRow
	var props, tags string
	err := sc.Scan(&im.ID, &im.Name, &im.Status, &im.Visibility, &im.Protected, &im.Hidden, &im.DiskFormat,
		&im.ContainerFmt, &im.Size, &im.VirtualSize, &im.Checksum, &im.HashAlgo, &im.HashValue, &im.MinDisk,
		&im.MinRAM, &im.Owner, &props, &tags, &im.CreatedAt, &im.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(props), &im.Properties); err != nil || im.Properties == nil {
		im.Properties = map[string]string{}
	}
	if err := json.Unmarshal([]byte(tags), &im.Tags); err != nil || im.Tags == nil {
		im.Tags = []string{}
	}
	return &im, nil
}

// getImage loads an image through q (the database, or the transaction that is
// about to write it).
func (s *Service) getImage(ctx context.Context, q db.Querier, id string) (*imageRow, error) {
	im, err := scanImage(q.QueryRowContext(ctx, `SELECT `+imageColumns+` FROM images WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", id, err)
	}
	return im, nil
}

func notFound(id string) error { return httpapi.NotFound("No image found with ID %s", id) }

// saveMetadata writes the attributes a user sets (name, formats, visibility,
// properties, tags ...). Never the status, size or checksums: those belong to
// the data path, which moves them with conditional updates of its own, so that
// a metadata write racing an upload or a deactivation cannot write back the
// status it read before.
func (s *Service) saveMetadata(ctx context.Context, q db.Querier, im *imageRow) error {
	props, _ := json.Marshal(im.Properties)
	tags, _ := json.Marshal(im.Tags)
	im.UpdatedAt = stamp(s.now())
	_, err := q.ExecContext(ctx, `UPDATE images SET name = ?, visibility = ?, protected = ?, os_hidden = ?,
		disk_format = ?, container_format = ?, min_disk = ?, min_ram = ?, owner = ?, properties = ?, tags = ?,
		updated_at = ? WHERE id = ?`,
		im.Name, im.Visibility, im.Protected, im.Hidden, im.DiskFormat, im.ContainerFmt, im.MinDisk, im.MinRAM,
		im.Owner, string(props), string(tags), im.UpdatedAt, im.ID)
	if err != nil {
		return fmt.Errorf("save image %s: %w", im.ID, err)
	}
	return nil
}

// changeImage applies change to the image as stored now and saves its metadata,
// in one transaction: the change sees every write committed before it, and none
// is lost to a write racing it. change may run more than once (a transaction
// PostgreSQL aborts is run again) and must do nothing but change im.
func (s *Service) changeImage(ctx context.Context, id string, change func(im *imageRow) error) (*imageRow, error) {
	var changed *imageRow
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		im, err := s.getImage(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := change(im); err != nil {
			return err
		}
		changed = im
		return s.saveMetadata(ctx, tx, im)
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

func nullable(v sql.NullString) any {
	if v.Valid {
		return v.String
	}
	return nil
}

func nullableInt(v sql.NullInt64) any {
	if v.Valid {
		return v.Int64
	}
	return nil
}

// imageJSON renders an image as upstream: core attributes, then free-form properties.
func imageJSON(im *imageRow) map[string]any {
	m := map[string]any{}
	for k, v := range im.Properties {
		m[k] = v
	}
	for k, v := range map[string]any{
		"id": im.ID, "name": nullable(im.Name), "status": im.Status, "visibility": im.Visibility,
		"protected": im.Protected, "os_hidden": im.Hidden, "disk_format": nullable(im.DiskFormat),
		"container_format": nullable(im.ContainerFmt), "size": nullableInt(im.Size),
		"virtual_size": nullableInt(im.VirtualSize), "checksum": nullable(im.Checksum),
		"os_hash_algo": nullable(im.HashAlgo), "os_hash_value": nullable(im.HashValue),
		"min_disk": im.MinDisk, "min_ram": im.MinRAM, "owner": im.Owner, "tags": im.Tags,
		"created_at": im.CreatedAt, "updated_at": im.UpdatedAt,
		"file": "/v2/images/" + im.ID + "/file", "self": "/v2/images/" + im.ID, "schema": "/v2/schemas/image",
	} {
		m[k] = v
	}
	return m
}

// caller is who is asking, as the image rules need it.
type caller struct {
	project string
	admin   bool
}

func (s *Service) caller(r *http.Request) caller {
	c := auth.FromContext(r.Context())
	if c == nil {
		return caller{}
	}
	return caller{project: c.ProjectID, admin: s.policy.Allowed("context_is_admin", nil, c.PolicyCredentials())}
}

// memberStatus is the caller's membership of a shared image ("" when none).
func (s *Service) memberStatus(ctx context.Context, imageID, project string) string {
	var st string
	if err := s.db.QueryRowContext(ctx, `SELECT status FROM image_members WHERE image_id = ? AND member_id = ?`,
		imageID, project).Scan(&st); err != nil {
		return ""
	}
	return st
}

// owns reports whether c's project owns im: a token without a project owns
// nothing, not even an image whose owner is empty.
func (c caller) owns(im *imageRow) bool { return c.project != "" && im.Owner == c.project }

// visible reports whether c may see im at all (upstream's database layer, which
// filters before any policy); images it may not see answer 404 so their existence
// does not leak.
func (s *Service) visible(ctx context.Context, c caller, im *imageRow) bool {
	switch {
	case c.admin, c.owns(im), im.Visibility == "public", im.Visibility == "community":
		return true
	case im.Visibility == "shared" && c.project != "":
		return s.memberStatus(ctx, im.ID, c.project) != ""
	}
	return false
}

// loadVisible loads the image of the path, 404 when the caller may not see it.
func (s *Service) loadVisible(r *http.Request) (*imageRow, error) {
	id := r.PathValue("image_id")
	im, err := s.getImage(r.Context(), s.db, id)
	if err != nil {
		return nil, err
	}
	if !s.visible(r.Context(), s.caller(r), im) {
		return nil, notFound(id)
	}
	return im, nil
}

// policyTarget is upstream's ImageTarget of im as c sees it: project_id and owner
// are the image's owner, and member_id is c's project when the image is shared
// and c does not own it (glance/db ImageRepo sets it so, having found the image
// through c's membership), else null.
func policyTarget(c caller, im *imageRow) map[string]any {
	target := map[string]any{"project_id": im.Owner, "owner": im.Owner, "visibility": im.Visibility, "member_id": nil}
	if im.Visibility == "shared" && c.project != "" && !c.owns(im) {
		target["member_id"] = c.project
	}
	return target
}

// imageTarget is the policy target of an image route, after the visibility check
// (so a hidden image is 404 before any 403). As upstream's ImageAPIPolicy, a
// caller that get_image refuses gets 404 from every image route, and a 403 only
// for images it may see.
func (s *Service) imageTarget(r *http.Request) (map[string]any, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return nil, err
	}
	target := policyTarget(s.caller(r), im)
	if err := httpapi.Enforce(r, s.policy, "get_image", target); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return nil, notFound(im.ID)
		}
		return nil, err
	}
	return target, nil
}

// ownTarget is the target of a request about no image yet (a list, or a create
// before its owner is known): the caller's own project, as upstream's
// ImageAPIPolicy builds it from a dict of proposed properties.
func (s *Service) ownTarget(r *http.Request) (map[string]any, error) {
	c := s.caller(r)
	var project any
	if c.project != "" {
		project = c.project
	}
	return map[string]any{"project_id": project, "owner": project, "visibility": "private"}, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func contains(list []string, v string) bool { return slices.Contains(list, v) }
