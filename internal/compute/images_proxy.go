package compute

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// imageProxyRoutes are Nova's deprecated proxies of the image service: /images
// (nova/api/openstack/compute/images.py, to 2.35) and their metadata
// (image_metadata.py, to 2.38), 404 beyond as upstream. Upstream checks no
// policy of its own: the image service decides what the caller may see and
// change.
func (s *Service) imageProxyRoutes() []httpapi.Route {
	images := func(method, path string, h httpapi.Handler) httpapi.Route {
		return httpapi.Route{Method: method, Path: "/v2.1/images" + path, Handler: s.upTo(35, h)}
	}
	meta := func(method, path string, h httpapi.Handler) httpapi.Route {
		return httpapi.Route{Method: method, Path: "/v2.1/images/{id}/metadata" + path, Handler: s.upTo(38, h)}
	}
	return []httpapi.Route{
		images("GET", "", s.listImages(false)),
		images("GET", "/detail", s.listImages(true)),
		images("GET", "/{id}", s.showImage),
		images("DELETE", "/{id}", s.deleteImage),
		meta("GET", "", s.imageMetadata),
		meta("POST", "", s.updateImageMetadata(false)),
		meta("PUT", "", s.updateImageMetadata(true)),
		meta("GET", "/{key}", s.showImageMeta),
		meta("PUT", "/{key}", s.setImageMeta),
		meta("DELETE", "/{key}", s.deleteImageMeta),
	}
}

// upTo serves h to microversion 2.max, 404 after (upstream's
// MAX_PROXY_API_SUPPORT_VERSION and the like).
func (s *Service) upTo(max int, h httpapi.Handler) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if since(r, max+1) {
			return httpapi.Response{}, versionNotFound()
		}
		return h(r)
	}
}

// imageProxy is the image service's proxy calls (501 when the cloud's image
// service has none).
func (s *Service) imageProxy() (ImageProxy, error) {
	p, ok := s.opts.Images.(ImageProxy)
	if !ok {
		return nil, httpapi.Errorf(http.StatusNotImplemented, "The requested functionality is not supported.")
	}
	return p, nil
}

// imageFilters maps the proxy's filters to Glance v2's (images.py
// SUPPORTED_FILTERS, glance.py _extract_query_params_v2): minRam and minDisk
// are applied here, as at least.
func imageFilters(q url.Values) (url.Values, int, int) {
	out := url.Values{}
	for k, vs := range q {
		v := vs[0]
		switch {
		case k == "name" || k == "limit" || k == "marker":
			out.Set(k, v)
		case k == "status":
			out.Set("status", strings.ToLower(v))
		case k == "changes-since":
			out.Set("updated_at", "gte:"+v)
		case k == "server":
			out.Set("instance_uuid", v[strings.LastIndex(v, "/")+1:])
		case k == "type":
			out.Set("image_type", v)
		case strings.HasPrefix(k, "property-"):
			out.Set(strings.TrimPrefix(k, "property-"), v)
		}
	}
	minRAM, _ := strconv.Atoi(q.Get("minRam"))
	minDisk, _ := strconv.Atoi(q.Get("minDisk"))
	return out, minRAM, minDisk
}

func (s *Service) imageLinks(p ImageProxy, id string) []map[string]string {
	self := s.base() + "/v2.1/images/" + id
	return []map[string]string{{"rel": "self", "href": self},
		{"rel": "bookmark", "href": s.base() + "/images/" + id},
		{"rel": "alternate", "type": "application/vnd.openstack.image", "href": p.ImageURL() + "/images/" + id}}
}

// imageStatus and imageProgress are the view's (views/images.py).
func imageStatus(glance string) string {
	switch glance {
	case "active":
		return "ACTIVE"
	case "queued", "saving":
		return "SAVING"
	case "deleted", "pending_delete":
		return "DELETED"
	case "killed":
		return "ERROR"
	}
	return "UNKNOWN"
}

func imageProgress(glance string) int {
	return map[string]int{"queued": 25, "saving": 50, "active": 100}[glance]
}

// imageView is the detailed view of views/images.py show.
func (s *Service) imageView(p ImageProxy, img Image) map[string]any {
	props := img.Properties
	if props == nil {
		props = map[string]string{}
	}
	v := map[string]any{"id": img.ID, "name": img.Name, "minRam": img.MinRAM, "minDisk": img.MinDisk, "metadata": props,
		"created": img.CreatedAt, "updated": img.UpdatedAt, "status": imageStatus(img.Status), "progress": imageProgress(img.Status),
		"OS-EXT-IMG-SIZE:size": img.Size, "links": s.imageLinks(p, img.ID)}
	if server, ok := props["instance_uuid"]; ok {
		v["server"] = map[string]any{"id": server, "links": s.serverLinks(server)}
	}
	if auto, ok := props["auto_disk_config"]; ok {
		v["OS-DCF:diskConfig"] = "MANUAL"
		if on, err := boolField("auto_disk_config", auto); err == nil && on {
			v["OS-DCF:diskConfig"] = "AUTO"
		}
	}
	return v
}

func (s *Service) listImages(detail bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		p, err := s.imageProxy()
		if err != nil {
			return httpapi.Response{}, err
		}
		query, minRAM, minDisk := imageFilters(r.URL.Query())
		images, err := p.ListImages(r.Context(), r.Header.Get("X-Auth-Token"), query)
		if err != nil {
			return httpapi.Response{}, err
		}
		views := []map[string]any{}
		for _, img := range images {
			if img.MinRAM < minRAM || img.MinDisk < minDisk {
				continue
			}
			if detail {
				views = append(views, s.imageView(p, img))
			} else {
				views = append(views, map[string]any{"id": img.ID, "name": img.Name, "links": s.imageLinks(p, img.ID)})
			}
		}
		return httpapi.OK(map[string]any{"images": views}), nil
	}
}

// proxiedImage is the path's image as the caller may see it (upstream's
// "Image not found." otherwise).
func (s *Service) proxiedImage(r *http.Request) (ImageProxy, Image, error) {
	p, err := s.imageProxy()
	if err != nil {
		return nil, Image{}, err
	}
	img, err := s.opts.Images.Get(r.Context(), r.Header.Get("X-Auth-Token"), r.PathValue("id"))
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return nil, Image{}, notFound("Image not found.")
	}
	if err != nil {
		return nil, Image{}, err
	}
	if img.Properties == nil {
		img.Properties = map[string]string{}
	}
	return p, img, nil
}

func (s *Service) showImage(r *http.Request) (httpapi.Response, error) {
	p, img, err := s.proxiedImage(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"image": s.imageView(p, img)}), nil
}

func (s *Service) deleteImage(r *http.Request) (httpapi.Response, error) {
	p, err := s.imageProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	err = p.DeleteImage(r.Context(), r.Header.Get("X-Auth-Token"), r.PathValue("id"))
	switch {
	case httpapi.IsStatus(err, http.StatusNotFound):
		return httpapi.Response{}, notFound("Image not found.")
	case httpapi.IsStatus(err, http.StatusForbidden):
		return httpapi.Response{}, forbidden("You are not allowed to delete the image.")
	case err != nil:
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) imageMetadata(r *http.Request) (httpapi.Response, error) {
	_, img, err := s.proxiedImage(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"metadata": img.Properties}), nil
}

func (s *Service) showImageMeta(r *http.Request) (httpapi.Response, error) {
	_, img, err := s.proxiedImage(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	v, ok := img.Properties[key]
	if !ok {
		return httpapi.Response{}, notFound("The resource could not be found.")
	}
	return httpapi.OK(map[string]any{"meta": map[string]string{key: v}}), nil
}

// saveImageProperties writes props as the caller, within the metadata_items
// quota (common.check_img_metadata_properties_quota), 403 where the image
// service refuses.
func (s *Service) saveImageProperties(r *http.Request, p ImageProxy, id string, props map[string]string) error {
	limits, err := s.quotaLimits(r.Context(), s.db, auth.FromContext(r.Context()).ProjectID)
	if err != nil {
		return err
	}
	if limit := limits["metadata_items"]; limit >= 0 && len(props) > limit {
		return forbidden("Quota exceeded for metadata_items: Requested %d, but already used 0 of %d metadata_items", len(props), limit)
	}
	_, err = p.SetImageProperties(r.Context(), r.Header.Get("X-Auth-Token"), id, props)
	if httpapi.IsStatus(err, http.StatusForbidden) {
		return forbidden("%s", httpapi.AsError(err).Message)
	}
	return err
}

// imageMetadataBody reads {"metadata": {...}} (or {"meta": {...}}): string values
// of keys of 1 to 255 characters, as upstream's image_metadata schemas.
func imageMetadataBody(r *http.Request, key string) (map[string]string, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, badRequest("Invalid input for field/attribute %s. '%s' is a required property", key, key)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, badRequest("Invalid input for field/attribute %s. Value: %v. %v is not of type 'object'", key, raw, raw)
	}
	out := map[string]string{}
	for k, v := range obj {
		str, ok := v.(string)
		if !ok || len(k) < 1 || len(k) > 255 || len(str) > 255 {
			return nil, badRequest("Invalid input for field/attribute %s. Value: %v.", key, raw)
		}
		out[k] = str
	}
	return out, nil
}

func (s *Service) updateImageMetadata(replace bool) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		set, err := imageMetadataBody(r, "metadata")
		if err != nil {
			return httpapi.Response{}, err
		}
		p, img, err := s.proxiedImage(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		props := set
		if !replace {
			props = img.Properties
			for k, v := range set {
				props[k] = v
			}
		}
		if err := s.saveImageProperties(r, p, img.ID, props); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.OK(map[string]any{"metadata": props}), nil
	}
}

func (s *Service) setImageMeta(r *http.Request) (httpapi.Response, error) {
	meta, err := imageMetadataBody(r, "meta")
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	if len(meta) != 1 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute meta.")
	}
	v, ok := meta[key]
	if !ok {
		return httpapi.Response{}, badRequest("Request body and URI mismatch")
	}
	p, img, err := s.proxiedImage(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	img.Properties[key] = v
	if err := s.saveImageProperties(r, p, img.ID, img.Properties); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"meta": meta}), nil
}

func (s *Service) deleteImageMeta(r *http.Request) (httpapi.Response, error) {
	p, img, err := s.proxiedImage(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	key := r.PathValue("key")
	if _, ok := img.Properties[key]; !ok {
		return httpapi.Response{}, notFound("Invalid metadata key")
	}
	delete(img.Properties, key)
	if err := s.saveImageProperties(r, p, img.ID, img.Properties); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
