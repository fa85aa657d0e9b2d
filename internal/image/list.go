package image

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

var sortKeys = []string{"name", "status", "container_format", "disk_format", "size", "id", "created_at",
	"updated_at", "visibility", "owner", "min_disk", "min_ram", "virtual_size"}

// listParams are the query keys that are not property filters.
var listParams = []string{"created_at", "updated_at", "limit", "marker", "sort_key", "sort_dir", "sort", "name", "visibility", "status", "owner",
	"tag", "disk_format", "container_format", "member_status", "size_min", "size_max", "protected", "os_hidden", "id"}

type sortSpec struct {
	key  string
	desc bool
}

func parseSort(q url.Values) ([]sortSpec, error) {
	var specs []sortSpec
	if q.Has("sort") {
		if q.Has("sort_key") || q.Has("sort_dir") {
			return nil, httpapi.BadRequest("The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'.")
		}
		for _, part := range strings.Split(q.Get("sort"), ",") {
			key, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if dir == "" {
				dir = "desc"
			}
			if dir != "asc" && dir != "desc" {
				return nil, httpapi.BadRequest("Invalid sort direction: %s", dir)
			}
			specs = append(specs, sortSpec{key, dir == "desc"})
		}
	} else {
		keys, dirs := q["sort_key"], q["sort_dir"]
		if len(dirs) > 1 && len(dirs) != len(keys) {
			return nil, httpapi.BadRequest("Number of sort dirs does not match the number of sort keys.")
		}
		for i, k := range keys {
			dir := "desc"
			if len(dirs) == 1 {
				dir = dirs[0]
			} else if len(dirs) > 1 {
				dir = dirs[i]
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
	for _, sp := range specs {
		if !contains(sortKeys, sp.key) {
			return nil, httpapi.BadRequest("Invalid sort key: %s. It should be one of the following: %s.",
				sp.key, strings.Join(sortKeys, ", "))
		}
	}
	if len(specs) == 0 {
		specs = []sortSpec{{"created_at", true}}
	}
	// id last, so the order (and the marker) is total, as upstream
	if !slices.ContainsFunc(specs, func(sp sortSpec) bool { return sp.key == "id" }) {
		specs = append(specs, sortSpec{"id", specs[len(specs)-1].desc})
	}
	return specs, nil
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
	page, err := httpapi.ParsePage(r, 1000)
	if err != nil {
		return httpapi.Response{}, err
	}
	if !q.Has("limit") {
		page.Limit = 25
	}
	c := s.caller(r)
	visibility := q.Get("visibility")
	if visibility != "" && visibility != "all" && !contains(visibilities, visibility) {
		return httpapi.Response{}, httpapi.BadRequest("Invalid visibility value: %s", visibility)
	}
	memberStatus := q.Get("member_status")
	if memberStatus == "" {
		memberStatus = "accepted"
	}
	if !contains([]string{"accepted", "pending", "rejected", "all"}, memberStatus) {
		return httpapi.Response{}, httpapi.BadRequest("Invalid status value: %s", memberStatus)
	}
	var sizeMin, sizeMax int64 = -1, -1
	for name, dst := range map[string]*int64{"size_min": &sizeMin, "size_max": &sizeMax} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return httpapi.Response{}, httpapi.BadRequest("Invalid value for %s: %s", name, v)
			}
			*dst = n
		}
	}
	for _, name := range []string{"protected", "os_hidden"} {
		if v := q.Get(name); v != "" && v != "true" && v != "false" {
			return httpapi.Response{}, httpapi.BadRequest("Invalid value for %s: %s", name, v)
		}
	}
	dates, err := parseDateFilters(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	memberships, err := s.memberships(r, c.project)
	if err != nil {
		return httpapi.Response{}, err
	}
	all, err := db.QueryAll(r.Context(), s.db, scanImage, `SELECT `+imageColumns+` FROM images`)
	if err != nil {
		return httpapi.Response{}, err
	}
	all = slices.DeleteFunc(all, func(im *imageRow) bool {
		return !s.listed(c, im, visibility, memberStatus, memberships) || !matches(q, im, sizeMin, sizeMax) || !dates.match(im)
	})
	slices.SortFunc(all, func(a, b *imageRow) int {
		for _, sp := range specs {
			if n := compareBy(a, b, sp.key); n != 0 {
				if sp.desc {
					return -n
				}
				return n
			}
		}
		return 0
	})
	items, more, err := httpapi.Apply(page, all, func(im *imageRow) string { return im.ID })
	if err != nil {
		return httpapi.Response{}, err
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

func matches(q url.Values, im *imageRow, sizeMin, sizeMax int64) bool {
	eq := func(key, have string) bool { return !q.Has(key) || q.Get(key) == have }
	if !eq("name", im.Name.String) || !eq("status", im.Status) || !eq("owner", im.Owner) ||
		!eq("disk_format", im.DiskFormat.String) || !eq("container_format", im.ContainerFmt.String) ||
		!eq("protected", strconv.FormatBool(im.Protected)) || !eq("id", im.ID) {
		return false
	}
	if q.Get("os_hidden") != "true" && im.Hidden || q.Get("os_hidden") == "true" && !im.Hidden {
		return false
	}
	for _, t := range q["tag"] {
		if !slices.Contains(im.Tags, t) {
			return false
		}
	}
	if sizeMin >= 0 && (!im.Size.Valid || im.Size.Int64 < sizeMin) || sizeMax >= 0 && (!im.Size.Valid || im.Size.Int64 > sizeMax) {
		return false
	}
	for k, v := range q {
		if contains(listParams, k) {
			continue
		}
		if im.Properties[k] != v[0] {
			return false
		}
	}
	return true
}

// dateFilter is upstream's created_at / updated_at filter: "gte:2024-01-01T00:00:00Z".
type dateFilter struct {
	field string // created_at or updated_at
	op    string // gt, gte, lt, lte, eq, neq
	at    time.Time
}

type dateFilters []dateFilter

func parseDateFilters(q url.Values) (dateFilters, error) {
	var out dateFilters
	for _, field := range []string{"created_at", "updated_at"} {
		for _, v := range q[field] {
			op, ts, ok := strings.Cut(v, ":")
			if !ok || !slices.Contains([]string{"gt", "gte", "lt", "lte", "eq", "neq"}, op) {
				op, ts = "eq", v
			}
			at, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				return nil, httpapi.BadRequest("Invalid time format for %s: %s", field, v)
			}
			out = append(out, dateFilter{field, op, at})
		}
	}
	return out, nil
}

func (fs dateFilters) match(im *imageRow) bool {
	for _, f := range fs {
		raw := im.CreatedAt
		if f.field == "updated_at" {
			raw = im.UpdatedAt
		}
		have, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return false
		}
		c := have.Compare(f.at)
		ok := map[string]bool{"gt": c > 0, "gte": c >= 0, "lt": c < 0, "lte": c <= 0, "eq": c == 0, "neq": c != 0}[f.op]
		if !ok {
			return false
		}
	}
	return true
}
