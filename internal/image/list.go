package image

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// sortKeys are upstream's _available_sort_keys (glance/api/v2/images.py).
var sortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at"}

type sortSpec struct {
	key  string
	desc bool
}

func parseSort(q url.Values) ([]sortSpec, error) {
	var specs []sortSpec
	// the direction of the keys added last: the one direction given, else desc
	tailDesc := true
	if q.Has("sort") {
		if q.Has("sort_key") || q.Has("sort_dir") {
			return nil, httpapi.BadRequest("Old and new sorting syntax cannot be combined")
		}
		for _, part := range strings.Split(strings.TrimSpace(q.Get("sort")), ",") {
			key, dir, _ := strings.Cut(part, ":")
			key, dir = strings.TrimSpace(key), strings.TrimSpace(dir)
			if dir == "" {
				dir = "desc"
			}
			if !contains(sortKeys, key) {
				return nil, invalidSortKey(key)
			}
			if dir != "asc" && dir != "desc" {
				return nil, httpapi.BadRequest("Invalid sort direction: %s", dir)
			}
			specs = append(specs, sortSpec{key, dir == "desc"})
		}
		if len(specs) == 1 {
			tailDesc = specs[0].desc
		}
	} else {
		keys, dirs := q["sort_key"], q["sort_dir"]
		if len(dirs) == 1 {
			tailDesc = strings.TrimSpace(dirs[0]) == "desc"
		}
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return nil, httpapi.BadRequest("Number of sort dirs does not match the number of sort keys")
		}
		for _, k := range keys {
			if !contains(sortKeys, strings.TrimSpace(k)) {
				return nil, invalidSortKey(strings.TrimSpace(k))
			}
		}
		for _, d := range dirs {
			if d = strings.TrimSpace(d); d != "asc" && d != "desc" {
				return nil, httpapi.BadRequest("Invalid sort direction: %s", d)
			}
		}
		for i, k := range keys {
			k = strings.TrimSpace(k)
			dir := "desc"
			if len(dirs) == 1 {
				dir = strings.TrimSpace(dirs[0])
			} else if len(dirs) > 1 {
				dir = strings.TrimSpace(dirs[i])
			}
			if dir != "asc" && dir != "desc" {
				return nil, httpapi.BadRequest("Invalid sort direction: %s", dir)
			}
			specs = append(specs, sortSpec{k, dir == "desc"})
		}
		if len(keys) == 0 && len(dirs) == 1 {
			if dirs[0] != "asc" && dirs[0] != "desc" {
				return nil, httpapi.BadRequest("Invalid sort direction: %s", dirs[0])
			}
			specs = append(specs, sortSpec{"created_at", dirs[0] == "desc"})
		}
	}
	if len(specs) == 0 {
		specs = []sortSpec{{"created_at", true}}
	}
	// created_at and id last, in the first direction given, so the order (and
	// the marker) is total, as upstream's _image_get_all
	for _, key := range []string{"created_at", "id"} {
		if !slices.ContainsFunc(specs, func(sp sortSpec) bool { return sp.key == key }) {
			specs = append(specs, sortSpec{key, tailDesc})
		}
	}
	return specs, nil
}

func invalidSortKey(key string) error {
	return httpapi.BadRequest("Invalid sort key: %s. It must be one of the following: %s.", key, strings.Join(sortKeys, ", "))
}

func compareBy(a, b *imageRow, key string) int {
	switch key {
	case "name":
		return cmp.Compare(a.Name.String, b.Name.String)
	case "status":
		return cmp.Compare(a.Status, b.Status)
	case "container_format":
		return cmp.Compare(a.ContainerFmt.String, b.ContainerFmt.String)
	case "disk_format":
		return cmp.Compare(a.DiskFormat.String, b.DiskFormat.String)
	case "size":
		return cmp.Compare(a.Size.Int64, b.Size.Int64)
	case "virtual_size":
		return cmp.Compare(a.VirtualSize.Int64, b.VirtualSize.Int64)
	case "created_at":
		return cmp.Compare(a.CreatedAt, b.CreatedAt)
	case "updated_at":
		return cmp.Compare(a.UpdatedAt, b.UpdatedAt)
	case "visibility":
		return cmp.Compare(a.Visibility, b.Visibility)
	case "owner":
		return cmp.Compare(a.Owner, b.Owner)
	case "min_disk":
		return cmp.Compare(a.MinDisk, b.MinDisk)
	case "min_ram":
		return cmp.Compare(a.MinRAM, b.MinRAM)
	}
	return cmp.Compare(a.ID, b.ID)
}

func (s *Service) listImages(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	specs, err := parseSort(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	c := s.caller(r)
	f, err := parseImageFilters(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	limit, _ := listLimit(q) // checked with the filters
	// the marker is any image the caller sees, listed or not: the page starts
	// after its place in the order (upstream's keyset pagination); an unknown
	// one is upstream's 400
	var marker *imageRow
	if id := q.Get("marker"); q.Has("marker") {
		if marker, err = s.getImage(r.Context(), s.db, id); err == nil && !s.visible(r.Context(), c, marker) {
			err = notFound(id)
		}
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return httpapi.Response{}, httpapi.BadRequest("No image found with ID %s", id)
		}
		if err != nil {
			return httpapi.Response{}, err
		}
	}
	visibility, memberStatus := f.visibility, f.memberStatus
	memberships, err := s.memberships(r, c.project)
	if err != nil {
		return httpapi.Response{}, err
	}
	all, err := db.QueryAll(r.Context(), s.db, scanImage, `SELECT `+imageColumns+` FROM images`)
	if err != nil {
		return httpapi.Response{}, err
	}
	all = slices.DeleteFunc(all, func(im *imageRow) bool {
		return !s.listed(c, im, visibility, memberStatus, memberships) || !f.match(im)
	})
	order := func(a, b *imageRow) int {
		for _, sp := range specs {
			if n := compareBy(a, b, sp.key); n != 0 {
				if sp.desc {
					return -n
				}
				return n
			}
		}
		return 0
	}
	slices.SortFunc(all, order)
	if marker != nil {
		all = slices.DeleteFunc(all, func(im *imageRow) bool { return order(im, marker) <= 0 })
	}
	items, more := all, false
	if len(items) > limit {
		items, more = items[:limit], true
	}
	out := make([]map[string]any, len(items))
	for i, im := range items {
		out[i] = imageJSON(im)
	}
	first := url.Values{}
	for k, v := range q {
		if k != "marker" {
			first[k] = v
		}
	}
	body := map[string]any{"images": out, "schema": "/v2/schemas/images", "first": withQuery("/v2/images", first)}
	if more && len(items) > 0 {
		next := url.Values{}
		for k, v := range first {
			next[k] = v
		}
		next.Set("marker", items[len(items)-1].ID)
		body["next"] = withQuery("/v2/images", next)
	}
	return httpapi.OK(body), nil
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// memberships maps image id to the project's member status.
func (s *Service) memberships(r *http.Request, project string) (map[string]string, error) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT image_id, status FROM image_members WHERE member_id = ?`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}

// listed applies upstream's list visibility: the caller's own images, public ones,
// shared ones it accepted (or the member_status asked), and community images only
// when asked for by visibility=community.
func (s *Service) listed(c caller, im *imageRow, visibility, memberStatus string, members map[string]string) bool {
	if visibility != "" && visibility != "all" && im.Visibility != visibility {
		return false
	}
	own := c.owns(im)
	switch im.Visibility {
	case "public":
		return true
	case "community":
		return own || visibility == "community" || visibility == "all"
	case "shared":
		if st, ok := members[im.ID]; ok && !own {
			return memberStatus == "all" || st == memberStatus
		}
	}
	return own || c.admin
}
