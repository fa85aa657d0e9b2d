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
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// dataRoutes are the data endpoints; staging and importing are changes to the
// image, so they take modify_image, as upstream (it has no rule of their own).
func (s *Service) dataRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "PUT", Path: "/v2/images/{image_id}/file", Policy: "upload_image", Target: s.imageTarget, Handler: s.upload},
		{Method: "GET", Path: "/v2/images/{image_id}/file", Policy: "download_image", Target: s.imageTarget, Handler: s.download},
		{Method: "PUT", Path: "/v2/images/{image_id}/stage", Policy: "modify_image", Target: s.imageTarget, Handler: s.stage},
		{Method: "POST", Path: "/v2/images/{image_id}/import", Policy: "modify_image", Target: s.imageTarget, Handler: s.importImage},
	}
}

// claim moves a queued image to the given transient status, so two uploads never race.
func (s *Service) claim(ctx context.Context, id, from, to string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
		to, stamp(s.now()), id, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Conflict("Image status transition from %s to %s is not allowed", "its current status", to)
	}
	return nil
}

// limit is how many bytes owner may still store: the size cap, or less under quota.
func (s *Service) limit(ctx context.Context, owner string) (int64, error) {
	limit := s.opts.SizeCap
	if s.opts.QuotaBytes > 0 {
		var used sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT CAST(SUM(size) AS BIGINT) FROM images WHERE owner = ?`, owner).Scan(&used); err != nil {
			return 0, err
		}
		limit = min(limit, s.opts.QuotaBytes-used.Int64)
	}
	return max(limit, 0), nil
}

// upload streams the body into the store (as upstream: 204, queued → saving → active).
func (s *Service) upload(r *http.Request) (httpapi.Response, error) {
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := octetStream(r); err != nil {
		return httpapi.Response{}, err
	}
	if im.Status != "queued" {
		return httpapi.Response{}, httpapi.Conflict("Image status transition from %s to saving is not allowed", im.Status)
	}
	if err := s.ingest(r.Context(), im, r.Body, "queued", "saving"); err != nil {
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

// ingest writes data for im, making it active, or puts it back to queued on
// failure. Data of a bare container is inspected on the way (upstream inspects
// only those: other containers wrap the disk in something else): content that
// is not its disk_format, or fails its format's safety checks, is refused.
func (s *Service) ingest(ctx context.Context, im *imageRow, body io.Reader, from, via string) error {
	if err := formatsSet(im); err != nil {
		return err
	}
	limit, err := s.limit(ctx, im.Owner)
	if err != nil {
		return err
	}
	if err := s.claim(ctx, im.ID, from, via); err != nil {
		return err
	}
	var inspect *inspectingReader
	if im.ContainerFmt.String == "bare" {
		inspect = newInspectingReader(body, im.DiskFormat.String)
		body = inspect
	}
	w, err := s.store.Write(im.ID, body, limit)
	if err != nil {
		// a cut-off or refused upload leaves the image queued with no data
		if _, uerr := s.db.ExecContext(context.WithoutCancel(ctx), `UPDATE images SET status = 'queued', updated_at = ?
			WHERE id = ?`, stamp(s.now()), im.ID); uerr != nil {
			s.log.Error("reset image after failed upload", "image_id", im.ID, "error", uerr)
		}
		var tooBig *http.MaxBytesError
		var refused *refusedDataError
		switch {
		case errors.As(err, &refused):
			// as upstream (InvalidImageData): 415, the image stays queued
			s.log.Warn("image data refused", "image_id", im.ID, "disk_format", im.DiskFormat.String, "reason", refused.Error())
			return httpapi.Errorf(http.StatusUnsupportedMediaType, "%s", refused.Error())
		case errors.Is(err, ErrTooLarge) || errors.As(err, &tooBig):
			if limit < s.opts.SizeCap {
				return httpapi.TooLarge("Denying attempt to upload image because it exceeds the quota: the project may store %d more bytes.", limit)
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
	res, err := s.db.ExecContext(ctx, `UPDATE images SET status = 'active', size = ?, virtual_size = ?, checksum = ?,
		os_hash_algo = 'sha512', os_hash_value = ?, updated_at = ? WHERE id = ? AND status = ?`,
		w.Size, vsize, w.MD5, w.SHA512, stamp(s.now()), im.ID, via)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// deleted while uploading: drop the data
		_ = s.store.Delete(im.ID)
		return httpapi.Conflict("Image %s was deleted or changed during the upload.", im.ID)
	}
	return nil
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
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := octetStream(r); err != nil {
		return httpapi.Response{}, err
	}
	if im.Status != "queued" {
		return httpapi.Response{}, httpapi.Conflict("Image status transition from %s to uploading is not allowed", im.Status)
	}
	limit, err := s.limit(r.Context(), im.Owner)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.claim(r.Context(), im.ID, "queued", "uploading"); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.staging.Write(im.ID, r.Body, limit); err != nil {
		_ = s.claim(context.WithoutCancel(r.Context()), im.ID, "uploading", "queued")
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
	var body struct {
		Method struct {
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"method"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	switch body.Method.Name {
	case "glance-direct":
		if im.Status != "uploading" {
			return httpapi.Response{}, httpapi.Conflict("Image needs to be staged before import (status is %s).", im.Status)
		}
		if err := formatsSet(im); err != nil {
			return httpapi.Response{}, err
		}
		f, _, err := s.staging.Open(im.ID)
		if err != nil {
			return httpapi.Response{}, httpapi.Conflict("No staged data for image %s.", im.ID)
		}
		defer f.Close()
		ierr := s.ingest(r.Context(), im, f, "uploading", "importing")
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
		return httpapi.Response{}, httpapi.BadRequest("URI %q is not allowed for web-download.", body.Method.URI)
	default:
		return httpapi.Response{}, httpapi.BadRequest("Import method %q is not valid; use one of glance-direct, web-download.", body.Method.Name)
	}
	return httpapi.JSON(http.StatusAccepted, nil), nil
}
