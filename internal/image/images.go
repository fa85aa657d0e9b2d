package image

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func (s *Service) imageRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2/images", Policy: "get_images", Target: s.ownTarget, Handler: s.listImages,
			Schemas: responses(http.StatusOK, "images")},
		// policy needs the body's owner; the body is validated in the handler, after
		// the 403 of attributes nobody sets, as upstream
		{Method: "POST", Path: "/v2/images", Handler: s.createImage, Schemas: responses(http.StatusCreated, "image")},
		{Method: "GET", Path: "/v2/images/{image_id}", Policy: "get_image", Target: s.imageTarget, Handler: s.showImage,
			Schemas: responses(http.StatusOK, "image")},
		{Method: "PATCH", Path: "/v2/images/{image_id}", Policy: "modify_image", Target: s.imageTarget, Handler: s.patchImage,
			Schemas: responses(http.StatusOK, "image")},
		{Method: "DELETE", Path: "/v2/images/{image_id}", Policy: "delete_image", Target: s.imageTarget, Handler: s.deleteImage, Schemas: noContent},
		{Method: "PUT", Path: "/v2/images/{image_id}/tags/{tag}", Policy: "modify_image", Target: s.imageTarget, Handler: s.addTag, Schemas: noContent},
		{Method: "DELETE", Path: "/v2/images/{image_id}/tags/{tag}", Policy: "modify_image", Target: s.imageTarget, Handler: s.deleteTag, Schemas: noContent},
		{Method: "POST", Path: "/v2/images/{image_id}/actions/deactivate", Policy: "deactivate", Target: s.imageTarget, Handler: s.deactivate, Schemas: noContent},
		{Method: "POST", Path: "/v2/images/{image_id}/actions/reactivate", Policy: "reactivate", Target: s.imageTarget, Handler: s.reactivate, Schemas: noContent},
	}
}

// decodeJSON reads a JSON request body of at most 1 MiB (413 beyond).
func decodeJSON(r *http.Request, dst any) error {
	if r.Body == nil {
		return httpapi.BadRequest("The request body is empty; a JSON object was expected.")
	}
	const max = 1 << 20
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return httpapi.BadRequest("Could not read the request body: %v", err)
	}
	if len(data) > max {
		return httpapi.TooLarge("Request is too large.")
	}
	return httpapi.DecodeJSONBytes(data, dst)
}

// setAttr applies one attribute of a create body or a patch to im.
func (s *Service) setAttr(r *http.Request, im *imageRow, key string, value any, creating bool) error {
	if err := checkWritable(key); err != nil {
		return err
	}
	str := func() (string, error) {
		v, ok := value.(string)
		if !ok {
			return "", httpapi.BadRequest("Invalid value for '%s': %v is not of type 'string'.", key, value)
		}
		return v, nil
	}
	nullStr := func(allowed []string) (sql.NullString, error) {
		if value == nil {
			return sql.NullString{}, nil
		}
		v, err := str()
		if err != nil {
			return sql.NullString{}, err
		}
		if allowed != nil && !contains(allowed, v) {
			return sql.NullString{}, httpapi.BadRequest("Invalid value '%s' for '%s': must be one of %v.", v, key, allowed)
		}
		if len(v) > 255 {
			return sql.NullString{}, httpapi.BadRequest("'%s' is too long (maximum 255 characters).", key)
		}
		return sql.NullString{String: v, Valid: true}, nil
	}
	nonNegInt := func() (int64, error) {
		f, ok := value.(float64)
		if !ok || f != float64(int64(f)) {
			return 0, httpapi.BadRequest("Provided object does not match schema 'image': %s is not of type 'integer'", jsonschema.Repr(value))
		}
		if f < 0 {
			// upstream's domain model (glance/domain Image.min_disk)
			return 0, httpapi.BadRequest("Invalid value '%d' for parameter '%s': Cannot be a negative value", int64(f), key)
		}
		return int64(f), nil
	}
	boolean := func() (bool, error) {
		b, ok := value.(bool)
		if !ok {
			return false, httpapi.BadRequest("Invalid value for '%s': %v is not of type 'boolean'.", key, value)
		}
		return b, nil
	}
	var err error
	switch key {
	case "name":
		im.Name, err = nullStr(nil)
	case "disk_format", "container_format":
		if !creating && im.Status != "queued" {
			return httpapi.Forbidden("Attribute %s can be only replaced for a queued image.", key)
		}
		if key == "disk_format" {
			im.DiskFormat, err = nullStr(diskFormats)
		} else {
			im.ContainerFmt, err = nullStr(containerFormats)
		}
	case "visibility":
		var v string
		if v, err = str(); err != nil {
			return err
		}
		if !contains(visibilities, v) {
			return httpapi.BadRequest("Invalid visibility value: %s", v)
		}
		if v == "public" && v != im.Visibility {
			if err := httpapi.Enforce(r, s.policy, "publicize_image", policyTarget(s.caller(r), im)); err != nil {
				return err
			}
		}
		if v == "community" && v != im.Visibility {
			if err := httpapi.Enforce(r, s.policy, "communitize_image", policyTarget(s.caller(r), im)); err != nil {
				return err
			}
		}
		im.Visibility = v
	case "protected":
		im.Protected, err = boolean()
	case "os_hidden":
		im.Hidden, err = boolean()
	case "min_disk":
		im.MinDisk, err = nonNegInt()
	case "min_ram":
		im.MinRAM, err = nonNegInt()
	case "tags":
		list, ok := value.([]any)
		if !ok {
			return httpapi.BadRequest("Invalid value for 'tags': must be a list of strings.")
		}
		tags := []string{}
		for _, t := range list {
			ts, ok := t.(string)
			if !ok || len(ts) > 255 {
				return httpapi.BadRequest("Invalid tag %v: tags are strings of at most 255 characters.", t)
			}
			if !slices.Contains(tags, ts) {
				tags = append(tags, ts)
			}
		}
		im.Tags = tags
	case "owner":
		var v sql.NullString
		if v, err = nullStr(nil); err == nil {
			c := s.caller(r)
			if !c.admin && v.String != c.project {
				return httpapi.Forbidden("You are not permitted to create images owned by '%s'.", v.String)
			}
			im.Owner = v.String
		}
	case "id":
		return httpapi.Forbidden("Attribute 'id' is read-only.")
	default:
		if len(key) > 255 || key == "" {
			return httpapi.BadRequest("Invalid property name '%s'.", key)
		}
		if value == nil {
			delete(im.Properties, key)
			return nil
		}
		var v string
		if v, err = str(); err == nil {
			im.Properties[key] = v
		}
	}
	return err
}

func (s *Service) createImage(r *http.Request) (httpapi.Response, error) {
	body, err := decodeImageCreate(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	c := s.caller(r)
	now := stamp(s.now())
	im := &imageRow{ID: newID(), Status: "queued", Visibility: "shared", Owner: c.project,
		Properties: map[string]string{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	if id, ok := body["id"]; ok {
		idStr, _ := id.(string)
		if !isUUID(idStr) {
			return httpapi.Response{}, httpapi.BadRequest("Invalid image id '%v': must be a UUID.", id)
		}
		im.ID = idStr
		delete(body, "id")
	}
	// owner first: publicize/communitize checks need it
	if v, ok := body["owner"]; ok {
		if err := s.setAttr(r, im, "owner", v, true); err != nil {
			return httpapi.Response{}, err
		}
	}
	for k, v := range body {
		if k == "owner" {
			continue
		}
		if err := s.setAttr(r, im, k, v, true); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := httpapi.Enforce(r, s.policy, "add_image", policyTarget(c, im)); err != nil {
		return httpapi.Response{}, err
	}
	if im.Owner == "" {
		// an image no project owns would be nobody's to manage, and would
		// match every project-less caller as its owner
		return httpapi.Response{}, httpapi.BadRequest("An image must be owned by a project: 'owner' may not be empty.")
	}
	props, _ := json.Marshal(im.Properties)
	tags, _ := json.Marshal(im.Tags)
	// The count is read in the transaction that inserts, so creates at once never
	// take the project past its quota.
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		if err := s.checkCountQuota(r.Context(), tx, im.Owner); err != nil {
			return err
		}
		// the id is taken for good, even once the image is deleted (image_ids)
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO image_ids (id, created_at) VALUES (?, ?)`,
			im.ID, im.CreatedAt); err != nil {
			return fmt.Errorf("reserve image id: %w", err)
		}
		_, err := tx.ExecContext(r.Context(), `INSERT INTO images (id, name, status, visibility, protected, os_hidden,
			disk_format, container_format, min_disk, min_ram, owner, properties, tags, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			im.ID, im.Name, im.Status, im.Visibility, im.Protected, im.Hidden, im.DiskFormat, im.ContainerFmt,
			im.MinDisk, im.MinRAM, im.Owner, string(props), string(tags), im.CreatedAt, im.UpdatedAt)
		if err != nil {
			return fmt.Errorf("create image: %w", err)
		}
		return nil
	})
	if db.IsUniqueViolation(err) {
		// upstream's message (glance/db/sqlalchemy/api.py), for live and deleted ids alike
		return httpapi.Response{}, httpapi.Conflict("Image ID %s already exists!", im.ID)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	// As upstream (since v2.6), the answer says how data may be imported into the image.
	return httpapi.Created(imageJSON(im)).WithHeader("Location", "/v2/images/"+im.ID).
		WithHeader("OpenStack-image-import-methods", strings.Join(importMethods, ",")), nil
}

// decodeImageCreate reads and validates a create body in upstream's order
// (glance/api/v2/images.py RequestDeserializer.create): attributes nobody may
// set (403), then the image schema (400), then custom property names (400 when
// longer than 255 characters, 403 when reserved).
func decodeImageCreate(r *http.Request) (map[string]any, error) {
	doc, err := decodeDocument(r)
	if err != nil {
		return nil, err
	}
	body, ok := doc.(map[string]any)
	if !ok {
		// upstream's schema names no type, and its deserializer then fails (500)
		return nil, httpapi.BadRequest("Provided object does not match schema 'image': %s is not of type 'object'", jsonschema.Repr(doc))
	}
	for _, key := range []string{"direct_url", "self", "file", "schema", "stores"} {
		if _, ok := body[key]; ok {
			return nil, httpapi.Forbidden("Attribute '%s' is read-only.", key)
		}
	}
	if err := validateImageDocument(doc); err != nil {
		return nil, err
	}
	for key := range body {
		if isCore(key) {
			continue
		}
		if len(key) > 255 {
			return nil, httpapi.BadRequest("Custom property should not be greater than 255 characters.")
		}
		if contains(reserved, key) || strings.HasPrefix(key, reservedNamespace) {
			return nil, httpapi.Forbidden("Attribute '%s' is reserved.", key)
		}
	}
	return plainJSON(body).(map[string]any), nil
}

func (s *Service) showImage(r *http.Request) (httpapi.Response, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(imageJSON(im)), nil
}

// deleteImage deletes the image unless it is protected, deciding on the image as
// stored when it deletes (a protection racing the delete either comes first and
// refuses it, or finds no image); the data goes once the row has.
func (s *Service) deleteImage(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := r.PathValue("image_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		im, err := s.getImage(ctx, tx, id)
		if err != nil {
			return err
		}
		if im.Protected {
			return httpapi.Forbidden("Image %s is protected and cannot be deleted.", im.ID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM image_members WHERE image_id = ?`, im.ID); err != nil {
			return fmt.Errorf("delete image members: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM images WHERE id = ?`, im.ID); err != nil {
			return fmt.Errorf("delete image: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.store.Delete(id); err != nil {
		s.log.Warn("delete image data", "image_id", id, "error", err)
	}
	_ = s.staging.Delete(id)
	return httpapi.NoContent(), nil
}

func (s *Service) addTag(r *http.Request) (httpapi.Response, error) {
	tag := r.PathValue("tag")
	if len(tag) > 255 {
		return httpapi.Response{}, httpapi.BadRequest("Tag is too long (maximum 255 characters).")
	}
	_, err := s.changeImage(r.Context(), r.PathValue("image_id"), func(im *imageRow) error {
		if !slices.Contains(im.Tags, tag) {
			im.Tags = append(im.Tags, tag)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) deleteTag(r *http.Request) (httpapi.Response, error) {
	tag := r.PathValue("tag")
	_, err := s.changeImage(r.Context(), r.PathValue("image_id"), func(im *imageRow) error {
		i := slices.Index(im.Tags, tag)
		if i < 0 {
			return httpapi.NotFound("Tag %s not found.", tag)
		}
		im.Tags = slices.Delete(im.Tags, i, i+1)
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// deactivate and reactivate are idempotent, and only move active and deactivated
// images, as upstream.
func (s *Service) deactivate(r *http.Request) (httpapi.Response, error) {
	return s.setActive(r, "deactivated")
}

func (s *Service) reactivate(r *http.Request) (httpapi.Response, error) {
	return s.setActive(r, "active")
}

// setActive moves the image between active and deactivated, deciding on its
// status as stored when it writes.
func (s *Service) setActive(r *http.Request, to string) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		im, err := s.getImage(ctx, tx, r.PathValue("image_id"))
		if err != nil {
			return err
		}
		if im.Status == to {
			return nil
		}
		if im.Status != "active" && im.Status != "deactivated" {
			verb := "deactivate"
			if to == "active" {
				verb = "reactivate"
			}
			return httpapi.Forbidden("Not allowed to %s image in status '%s'", verb, im.Status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			to, stamp(s.now()), im.ID, im.Status); err != nil {
			return fmt.Errorf("set image status: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// checkCountQuota answers 413 when the owner already has QuotaImages images; q is
// the transaction that creates the next one.
func (s *Service) checkCountQuota(ctx context.Context, q db.Querier, owner string) error {
	if s.opts.QuotaImages <= 0 {
		return nil
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM images WHERE owner = ?`, owner).Scan(&n); err != nil {
		return fmt.Errorf("count images: %w", err)
	}
	if n >= s.opts.QuotaImages {
		return httpapi.TooLarge("Attempted to create %d image(s), but the project has %d of a quota of %d images.", 1, n, s.opts.QuotaImages)
	}
	return nil
}
