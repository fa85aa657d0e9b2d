package image

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// dataRoutes are the data endpoints; staging and importing are changes to the
// image, so they take modify_image, as upstream (it has no rule of their own).
func (s *Service) dataRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "PUT", Path: "/v2/images/{image_id}/file", Policy: "upload_image", Target: s.imageTarget, Handler: s.upload, Schemas: noContent},
		{Method: "GET", Path: "/v2/images/{image_id}/file", Policy: "download_image", Target: s.imageTarget, Handler: s.download,
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: nil, http.StatusPartialContent: nil, http.StatusNoContent: nil})},
		{Method: "PUT", Path: "/v2/images/{image_id}/stage", Policy: "modify_image", Target: s.imageTarget, Handler: s.stage, Schemas: noContent},
		{Method: "POST", Path: "/v2/images/{image_id}/import", Policy: "modify_image", Target: s.imageTarget, Handler: s.importImage, Schemas: answers(map[int]jsonschema.Schema{http.StatusAccepted: nil})},
	}
}

// claim moves an image from status from to the transient status to, deciding on
// the status as stored, so that of two uploads (or imports, or stages) of one
// image exactly one goes on; the other is refused with refuse(the status it
// found). check, when not nil, vets the image as claimed (its formats, say). The
// image is returned as claimed: what the data path goes on with. A claim into a
// transfer status (saving, importing) takes the transfer's lease and returns its
// id; it may also take over an image a dead transfer left in that status.
func (s *Service) claim(ctx context.Context, id, from, to string, refuse func(status string) error,
	check func(*imageRow) error) (claimed *imageRow, transfer string, err error) {
	leased := slices.Contains(transferStatuses, to)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		im, err := s.getImage(ctx, tx, id)
		if err != nil {
			return err
		}
		var expires sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT transfer_expires FROM images WHERE id = ?`, id).Scan(&expires); err != nil {
			return fmt.Errorf("claim image %s: %w", id, err)
		}
		now := s.now()
		takeover := leased && im.Status == to && leaseLapsed(expires, now)
		if im.Status != from && !takeover {
			return refuse(im.Status)
		}
		if check != nil {
			if err := check(im); err != nil {
				return err
			}
		}
		transfer = ""
		var until sql.NullInt64
		if leased {
			transfer, until = newID(), sql.NullInt64{Int64: now.Add(transferLease).Unix(), Valid: true}
		}
		stored := im.Status
		im.Status, im.UpdatedAt = to, stamp(now)
		if _, err := tx.ExecContext(ctx, `UPDATE images SET status = ?, transfer_id = ?, transfer_expires = ?, updated_at = ?
			WHERE id = ? AND status = ?`, to, nullString(transfer), until, im.UpdatedAt, id, stored); err != nil {
			return fmt.Errorf("claim image %s: %w", id, err)
		}
		claimed = im
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return claimed, transfer, nil
}

// release puts an image a failed stage claimed back to status to, unless
// something else (a delete) has moved it on since.
func (s *Service) release(ctx context.Context, id, from, to string) {
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE images SET status = ?, updated_at = ?
		WHERE id = ? AND status = ?`, to, stamp(s.now()), id, from); err != nil {
		s.log.Error("reset image after failed transfer", "image_id", id, "status", to, "error", err)
	}
}

// releaseTransfer puts an image a failed transfer claimed back to status to,
// unless it is no longer that transfer's (deleted, or taken over after its lease
// ran out).
func (s *Service) releaseTransfer(ctx context.Context, id, transfer, to string) {
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE images SET status = ?, transfer_id = NULL,
		transfer_expires = NULL, updated_at = ? WHERE id = ? AND transfer_id = ?`, to, stamp(s.now()), id, transfer); err != nil {
		s.log.Error("reset image after failed transfer", "image_id", id, "status", to, "error", err)
	}
}

// statusConflict is upstream's answer to a transition the image's status does not allow.
func statusConflict(to string) func(status string) error {
	return func(status string) error {
		return httpapi.Conflict("Image status transition from %s to %s is not allowed", status, to)
	}
}

// limit is how many bytes owner may still store: the size cap, or less under quota.
// It only cuts an upload short early: the quota is held when the upload completes.
func (s *Service) limit(ctx context.Context, owner string) (int64, error) {
	limit := s.opts.SizeCap
	if s.opts.QuotaBytes > 0 {
		used, err := storedBytes(ctx, s.db, owner, "")
		if err != nil {
			return 0, err
		}
		limit = min(limit, s.opts.QuotaBytes-used)
	}
	return max(limit, 0), nil
}

// storedBytes is the size of owner's image data, but for the image except.
func storedBytes(ctx context.Context, q db.Querier, owner, except string) (int64, error) {
	var used sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT CAST(SUM(size) AS BIGINT) FROM images WHERE owner = ? AND id <> ?`,
		owner, except).Scan(&used); err != nil {
		return 0, fmt.Errorf("sum image sizes: %w", err)
	}
	return used.Int64, nil
}

// uploadSize is the image size glance passes its store for an upload: the
// request's Content-Length, 0 (unknown) for a chunked body. Imports pass 0,
// as glance's import flow does.
func uploadSize(r *http.Request) int64 {
	return max(r.ContentLength, 0)
}

// upload streams the body into the store (as upstream: 204, queued → saving → active).
func (s *Service) upload(r *http.Request) (httpapi.Response, error) {
	if err := octetStream(r); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.ingest(r.Context(), r.PathValue("image_id"), r.Body, uploadSize(r), "queued", "saving", statusConflict("saving")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// octetStream refuses image data sent as anything but application/octet-stream (415),
// as upstream; a request without a Content-Type is taken as data.
func octetStream(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); ct != "" && mt != "application/octet-stream" {
		return httpapi.Errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not supported for image data; use application/octet-stream.", ct)
	}
	return nil
}

// ingest claims the image (from → via), writes body as its data and makes it
// active, or puts it back to queued on failure. Data of a bare container is
// inspected on the way (upstream inspects only those: other containers wrap the
// disk in something else): content that is not its disk_format, or fails its
// format's safety checks, is refused. The image's checksum, size and status are
// written once, by the transaction that makes it active, and only if the image
// is still the one claimed and the owner's stored bytes stay within quota.
func (s *Service) ingest(ctx context.Context, id string, body io.Reader, size int64, from, via string, refuse func(string) error) error {
	im, transfer, err := s.claim(ctx, id, from, via, refuse, formatsSet)
	if err != nil {
		return err
	}
	stopRenewal := make(chan struct{})
	defer close(stopRenewal)
	go s.renewTransfer(id, transfer, stopRenewal)
	limit, err := s.limit(ctx, im.Owner)
	if err != nil {
		s.releaseTransfer(ctx, id, transfer, "queued")
		return err
	}
	var inspect *inspectingReader
	if im.ContainerFmt.String == "bare" {
		inspect = newInspectingReader(body, im.DiskFormat.String)
		body = inspect
	}
	var w Written
	if sized, ok := s.store.(sizedWriter); ok && size > 0 {
		w, err = sized.WriteSized(im.ID, body, size, limit)
	} else {
		w, err = s.store.Write(im.ID, body, limit)
	}
	if err != nil {
		// a cut-off or refused upload leaves the image queued with no data
		s.releaseTransfer(ctx, id, transfer, "queued")
		var tooBig *http.MaxBytesError
		var refused *refusedDataError
		switch {
		case errors.As(err, &refused):
			// as upstream (InvalidImageData): 415, the image stays queued
			s.log.Warn("image data refused", "image_id", im.ID, "disk_format", im.DiskFormat.String, "reason", refused.Error())
			return httpapi.Errorf(http.StatusUnsupportedMediaType, "%s", refused.Error())
		case errors.Is(err, ErrTooLarge) || errors.As(err, &tooBig):
			if limit < s.opts.SizeCap {
				return overQuota(limit)
			}
			return httpapi.TooLarge("Image exceeds the storage quota: the size cap is %d bytes.", s.opts.SizeCap)
		default:
			return httpapi.BadRequest("Error in store during upload: %v", err)
		}
	}
	ctx = context.WithoutCancel(ctx)
	var vsize sql.NullInt64
	if inspect != nil && inspect.verdict != nil && inspect.verdict.VirtualSize > 0 {
		vsize = sql.NullInt64{Int64: inspect.verdict.VirtualSize, Valid: true}
	}
	var refusal error
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		refusal = nil
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT owner FROM images WHERE id = ? AND transfer_id = ?`, im.ID, transfer).Scan(&owner)
		if db.IsNoRows(err) {
			refusal = httpapi.Conflict("Image %s was deleted or changed during the upload.", im.ID)
			return nil
		}
		if err != nil {
			return fmt.Errorf("load uploaded image: %w", err)
		}
		if s.opts.QuotaBytes > 0 {
			used, err := storedBytes(ctx, tx, owner, im.ID)
			if err != nil {
				return err
			}
			if used+w.Size > s.opts.QuotaBytes { // others' uploads completed meanwhile
				refusal = overQuota(max(s.opts.QuotaBytes-used, 0))
				_, err := tx.ExecContext(ctx, `UPDATE images SET status = 'queued', transfer_id = NULL, transfer_expires = NULL,
					updated_at = ? WHERE id = ? AND transfer_id = ?`, stamp(s.now()), im.ID, transfer)
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?,
			os_hash_algo = 'sha512', os_hash_value = ?, transfer_id = NULL, transfer_expires = NULL, updated_at = ?
			WHERE id = ? AND transfer_id = ?`, w.Size, vsize, w.MD5, w.SHA512, stamp(s.now()), im.ID, transfer)
		return err
	})
	if err != nil || refusal != nil {
		// deleted while uploading, over quota, or not recorded: drop the data
		if derr := s.store.Delete(im.ID); derr != nil {
			s.log.Warn("drop image data", "image_id", im.ID, "error", derr)
		}
		if err != nil {
			s.releaseTransfer(ctx, id, transfer, "queued")
			return fmt.Errorf("activate image %s: %w", im.ID, err)
		}
		return refusal
	}
	return nil
}

func overQuota(left int64) error {
	return httpapi.TooLarge("Denying attempt to upload image because it exceeds the quota: the project may store %d more bytes.", left)
}

// formatsSet refuses data for an image without its formats, as upstream (400):
// the data's inspection needs the disk_format it claims.
func formatsSet(im *imageRow) error {
	var missing []string
	for _, f := range []struct {
		name string
		v    sql.NullString
	}{{"disk_format", im.DiskFormat}, {"container_format", im.ContainerFmt}} {
		if f.v.String == "" {
			missing = append(missing, f.name)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return httpapi.BadRequest("Property %s must be set prior to saving data.", missing[0])
	}
	return httpapi.BadRequest("Properties %s must be set prior to saving data.", strings.Join(missing, ", "))
}

// download streams the data; a queued image has none (204, as upstream) and a
// deactivated one is for admins only (403).
func (s *Service) download(r *http.Request) (httpapi.Response, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	switch {
	case im.Status == "deactivated" && !s.caller(r).admin:
		return httpapi.Response{}, httpapi.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
	case im.Status != "active" && im.Status != "deactivated":
		return httpapi.NoContent(), nil
	}
	f, size, err := s.store.Open(im.ID)
	if err != nil {
		return httpapi.Response{}, httpapi.NotFound("Image data for %s not found.", im.ID)
	}
	defer f.Close()
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	start, end := int64(0), size-1
	status := http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" {
		var ok bool
		if start, end, ok = parseRange(rng, size); !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			e := httpapi.Errorf(http.StatusRequestedRangeNotSatisfiable, "Requested range not satisfiable.")
			e.Header = h
			return httpapi.Response{}, e
		}
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	} else if im.Checksum.Valid {
		// as upstream: the hex md5, which clients compare with the image checksum
		h.Set("Content-MD5", im.Checksum.String)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return httpapi.Response{}, err
	}
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	var body io.Reader = io.LimitReader(f, end-start+1)
	if file, ok := f.(*os.File); ok {
		body = &prefetchReader{f: file, off: start, n: end - start + 1}
	}
	return httpapi.Response{}, stream(r, status, h, body)
}

// parseRange reads one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

// stage keeps the data of an interoperable import aside (queued → uploading).
func (s *Service) stage(r *http.Request) (httpapi.Response, error) {
	if err := octetStream(r); err != nil {
		return httpapi.Response{}, err
	}
	im, _, err := s.claim(r.Context(), r.PathValue("image_id"), "queued", "uploading", statusConflict("uploading"), nil)
	if err != nil {
		return httpapi.Response{}, err
	}
	limit, err := s.limit(r.Context(), im.Owner)
	if err == nil {
		_, err = s.staging.Write(im.ID, r.Body, limit)
	}
	if err != nil {
		s.release(r.Context(), im.ID, "uploading", "queued")
		if errors.Is(err, ErrTooLarge) {
			return httpapi.Response{}, httpapi.TooLarge("Image exceeds the size cap or the storage quota.")
		}
		return httpapi.Response{}, httpapi.BadRequest("Error staging image data: %v", err)
	}
	return httpapi.NoContent(), nil
}

// importImage runs an import method; glance-direct moves the staged data into the
// store. The import is done before answering 202, so clients polling see active.
func (s *Service) importImage(r *http.Request) (httpapi.Response, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	body, err := decodeImportBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	switch body.Method.Name {
	case "glance-direct":
		needsStaging := func(status string) error {
			return httpapi.Conflict("Image needs to be staged before import (status is %s).", status)
		}
		if im.Status != "uploading" {
			return httpapi.Response{}, needsStaging(im.Status)
		}
		if err := formatsSet(im); err != nil {
			return httpapi.Response{}, err
		}
		f, _, err := s.staging.Open(im.ID)
		if err != nil {
			return httpapi.Response{}, httpapi.Conflict("No staged data for image %s.", im.ID)
		}
		defer f.Close()
		ierr := s.ingest(r.Context(), im.ID, f, 0, "uploading", "importing", needsStaging)
		if ierr != nil && !httpapi.IsStatus(ierr, http.StatusUnsupportedMediaType) {
			return httpapi.Response{}, ierr
		}
		// as upstream, the import is accepted (202) and its task says how it
		// ended: refused data fails it, and leaves the image queued
		_ = s.staging.Delete(im.ID)
		if err := s.recordImport(r, im, body.Method.Name, ierr); err != nil {
			return httpapi.Response{}, err
		}
	case "web-download":
		if len(s.opts.WebDownloadAllowed) == 0 {
			return httpapi.Response{}, httpapi.BadRequest("Import method web-download is not allowed: no URL is allowed by the configuration.")
		}
		return httpapi.Response{}, httpapi.BadRequest("URI for web-download does not pass filtering: %s", body.Method.URI)
	}
	return httpapi.JSON(http.StatusAccepted, nil), nil
}

// importBody is an import request.
type importBody struct {
	Method struct{ Name, URI string }
}

// decodeImportBody is upstream's _validate_import_body
// (glance/api/v2/images.py): a method with a name among the enabled import
// methods, and booleans for all_stores and all_stores_must_succeed.
func decodeImportBody(r *http.Request) (importBody, error) {
	var out importBody
	doc, err := decodeDocument(r)
	if err != nil {
		return out, err
	}
	body, _ := doc.(map[string]any)
	method, ok := body["method"]
	if !ok {
		return out, httpapi.BadRequest("Import request requires a 'method' field.")
	}
	m, _ := method.(map[string]any)
	name, ok := m["name"]
	if !ok {
		return out, httpapi.BadRequest("Import request requires a 'name' field.")
	}
	out.Method.Name, _ = name.(string)
	if !slices.Contains(importMethods, out.Method.Name) {
		return out, httpapi.BadRequest("Unknown import method name '%s'.", pyStr(name))
	}
	out.Method.URI, _ = m["uri"].(string)
	for _, key := range []string{"all_stores_must_succeed", "all_stores"} {
		if v, ok := body[key]; ok {
			if _, isBool := v.(bool); !isBool {
				return out, httpapi.BadRequest("'%s' must be boolean value only", key)
			}
		}
	}
	return out, nil
}
