package volume

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// maxLimit is upstream's osapi_max_limit.
const maxLimit = 1000

// userVolumeFilters are the filters a non-admin may use
// (etc/cinder/resource_filters.json "volume"); others are dropped silently,
// as remove_invalid_filter_options does. Admins may filter on any column.
var userVolumeFilters = []string{"name", "status", "metadata", "bootable", "migration_status", "availability_zone",
	"group_id", "size", "created_at", "updated_at", "consumes_quota"}

// listParams are a list request's paging, sorting and filters.
type listParams struct {
	marker    string
	limit     int
	limited   bool
	offset    int
	sortKeys  []string
	sortDirs  []string
	filters   map[string]string
	allTenant bool
	withCount bool
}

// parseListParams reads common.get_pagination_params and get_sort_params
// with upstream's messages.
func parseListParams(r *http.Request) (listParams, error) {
	q := r.URL.Query()
	p := listParams{filters: map[string]string{}, limit: maxLimit}
	for k, vs := range q {
		if len(vs) > 0 {
			p.filters[k] = vs[len(vs)-1]
		}
	}
	if v, ok := p.filters["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, badRequest("limit param must be an integer")
		}
		if n < 0 {
			return p, badRequest("limit param must be positive")
		}
		p.limit, p.limited = min(n, maxLimit), true
	}
	if v, ok := p.filters["offset"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("offset param must be an integer")
		}
		p.offset = n
	}
	p.marker = p.filters["marker"]
	if v, ok := p.filters["sort"]; ok {
		if hasKey(toAny(p.filters), "sort_key", "sort_dir") {
			return p, badRequest("The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.")
		}
		for _, part := range strings.Split(v, ",") {
			key, dir, _ := strings.Cut(strings.TrimSpace(part), ":")
			if dir == "" {
				dir = "desc"
			}
			p.sortKeys, p.sortDirs = append(p.sortKeys, strings.TrimSpace(key)), append(p.sortDirs, strings.TrimSpace(dir))
		}
	} else {
		if k, ok := p.filters["sort_key"]; ok {
			p.sortKeys = []string{k}
			d := p.filters["sort_dir"]
			if d == "" {
				d = "desc"
			}
			p.sortDirs = []string{d}
		}
	}
	for _, d := range p.sortDirs {
		if d != "asc" && d != "desc" {
			return p, badRequest("Invalid input received: Unknown sort direction, must be 'desc' or 'asc'")
		}
	}
	if len(p.sortKeys) == 0 {
		p.sortKeys, p.sortDirs = []string{"created_at"}, []string{"desc"}
	}
	p.allTenant = boolParam(p.filters["all_tenants"])
	if since(r, 45) {
		p.withCount = boolParam(p.filters["with_count"])
	}
	for _, k := range []string{"limit", "offset", "marker", "sort", "sort_key", "sort_dir", "all_tenants", "with_count"} {
		delete(p.filters, k)
	}
	return p, nil
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// volumeSortValue is a volume's value for a sort key; ok false for an unknown key.
func volumeSortValue(v *volume, key string) (string, bool) {
	switch key {
	case "id":
		return v.ID, true
	case "name", "display_name":
		return deref(v.Name), true
	case "status":
		return v.Status, true
	case "size":
		return leftPad(v.Size), true
	case "availability_zone":
		return v.AvailabilityZone, true
	case "created_at":
		return v.CreatedAt, true
	case "updated_at":
		return v.UpdatedAt, true
	case "bootable":
		return pyBool(v.Bootable), true
	case "project_id":
		return v.ProjectID, true
	case "user_id":
		return v.UserID, true
	case "volume_type_id":
		return v.VolumeTypeID, true
	case "host":
		return v.Host, true
	case "description", "display_description":
		return deref(v.Description), true
	}
	return "", false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func leftPad(n int) string { return strings.Repeat("0", 12-len(strconv.Itoa(n))) + strconv.Itoa(n) }

// volumeMatches applies one filter as upstream's db query does: metadata a
// dict that must all match, names and other columns exact.
func volumeMatches(v *volume, key, want string) (bool, error) {
	switch key {
	case "name", "display_name":
		return deref(v.Name) == want, nil
	case "status":
		return v.Status == want, nil
	case "availability_zone":
		return v.AvailabilityZone == want, nil
	case "size":
		return strconv.Itoa(v.Size) == want, nil
	case "bootable":
		b, ok := boolFromString(want)
		if !ok {
			return false, badRequest("Invalid input received: 'bootable' filter value %s is not a boolean.", want)
		}
		return v.Bootable == b, nil
	case "migration_status":
		return deref(v.MigrationStatus) == want, nil
	case "consumes_quota", "use_quota":
		b, _ := boolFromString(want)
		return v.UseQuota == b, nil
	case "metadata":
		md, err := parsePyDict(want)
		if err != nil {
			return false, badRequest("Invalid input received: metadata filter %s is not a dictionary.", want)
		}
		for k, val := range md {
			if v.Metadata[k] != val {
				return false, nil
			}
		}
		return true, nil
	case "project_id":
		return v.ProjectID == want, nil
	case "user_id":
		return v.UserID == want, nil
	case "host":
		return v.Host == want, nil
	case "volume_type", "volume_type_id":
		return v.VolumeTypeID == want || v.Type != nil && v.Type.Name == want, nil
	case "id":
		return v.ID == want, nil
	case "group_id":
		return false, nil
	case "created_at", "updated_at":
		return true, nil // time comparison filters are not kept
	}
	// an admin's filter on a key volumes do not have matches nothing
	return false, nil
}

// parsePyDict reads the metadata filter as cinderclient sends it, Python's
// str() of a dict ({'k': 'v'}), or JSON.
func parsePyDict(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return nil, strconv.ErrSyntax
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	for body != "" {
		k, rest, err := pyString(body)
		if err != nil {
			return nil, err
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return nil, strconv.ErrSyntax
		}
		v, rest, err := pyString(strings.TrimSpace(rest[1:]))
		if err != nil {
			return nil, err
		}
		out[k] = v
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		} else if rest != "" {
			return nil, strconv.ErrSyntax
		}
		body = rest
	}
	return out, nil
}

// pyString reads one quoted string literal ('...' or "...") at s's start.
func pyString(s string) (string, string, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", "", strconv.ErrSyntax
	}
	quote := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == quote:
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", strconv.ErrSyntax
}

// listVolumeRows loads the volumes a list shows, filtered, sorted and paged.
func (s *Service) listVolumeRows(r *http.Request) ([]*volume, int, listParams, error) {
	ctx := r.Context()
	p, err := parseListParams(r)
	if err != nil {
		return nil, 0, p, err
	}
	admin := isAdmin(r)
	query := `SELECT ` + volumeColumns + ` FROM volumes`
	var args []any
	if !admin || !p.allTenant {
		query += ` WHERE project_id = ?`
		args = append(args, callerProject(r))
	}
	if !admin {
		for k := range p.filters {
			if !contains(userVolumeFilters, k) {
				delete(p.filters, k)
			}
		}
	}
	if !since(r, 2) {
		delete(p.filters, "bootable") // 3.2 VOLUME_LIST_BOOTABLE
	}
	if !since(r, 10) {
		delete(p.filters, "group_id")
	}
	if !since(r, 60) {
		delete(p.filters, "created_at")
		delete(p.filters, "updated_at")
	}
	if !since(r, 65) {
		delete(p.filters, "consumes_quota")
	}
	rows, err := db.QueryAll(ctx, s.db, scanVolume, query, args...)
	if err != nil {
		return nil, 0, p, err
	}
	var out []*volume
	for _, v := range rows {
		if err := loadDetails(ctx, s.db, v); err != nil {
			return nil, 0, p, err
		}
		keep := true
		for k, want := range p.filters {
			ok, err := volumeMatches(v, k, want)
			if err != nil {
				return nil, 0, p, err
			}
			keep = keep && ok
		}
		if keep {
			out = append(out, v)
		}
	}
	for _, k := range p.sortKeys {
		if _, ok := volumeSortValue(&volume{}, k); !ok {
			return nil, 0, p, badRequest("Invalid input received: Invalid sort key")
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		for n, k := range p.sortKeys {
			a, _ := volumeSortValue(out[i], k)
			b, _ := volumeSortValue(out[j], k)
			if a == b {
				continue
			}
			if p.sortDirs[n] == "asc" {
				return a < b
			}
			return a > b
		}
		return out[i].ID > out[j].ID
	})
	total := len(out)
	if p.marker != "" {
		at := -1
		for i, v := range out {
			if v.ID == p.marker {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, 0, p, notFound("Marker %s could not be found.", p.marker)
		}
		out = out[at+1:]
	}
	if p.offset > 0 {
		out = out[min(p.offset, len(out)):]
	}
	if len(out) > p.limit {
		out = out[:p.limit]
	}
	return out, total, p, nil
}

// nextLink is common.ViewBuilder._get_collection_links: a next link when the
// page is as long as the limit asked (or the maximum).
func (s *Service) nextLink(r *http.Request, collection string, count int, p listParams, lastID string) []httpapi.Link {
	if count == 0 || count < p.limit {
		return nil
	}
	params := url.Values{}
	for k, vs := range r.URL.Query() {
		params[k] = vs
	}
	params.Set("marker", lastID)
	v, _ := s.linkPrefix(r)
	return []httpapi.Link{{Rel: "next", Href: v + "/" + collection + "?" + params.Encode()}}
}

func (s *Service) listVolumes(r *http.Request) (httpapi.Response, error) {
	return s.listVolumesView(r, false)
}

func (s *Service) listVolumesDetail(r *http.Request) (httpapi.Response, error) {
	return s.listVolumesView(r, true)
}

func (s *Service) listVolumesView(r *http.Request, detail bool) (httpapi.Response, error) {
	if err := s.enforce(r, policyVolumeGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	vols, total, p, err := s.listVolumeRows(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(vols))
	for _, v := range vols {
		if detail {
			views = append(views, s.volumeDetail(r, v))
		} else {
			views = append(views, s.volumeSummary(r, v))
		}
	}
	out := map[string]any{"volumes": views}
	collection := "volumes"
	if detail {
		collection = "volumes/detail"
	}
	if len(vols) > 0 {
		if links := s.nextLink(r, collection, len(vols), p, vols[len(vols)-1].ID); links != nil {
			out["volumes_links"] = links
		}
	}
	if p.withCount {
		out["count"] = total
	}
	return httpapi.OK(out), nil
}

// volumesSummary is GET /volumes/summary (3.12; metadata from 3.36).
func (s *Service) volumesSummary(r *http.Request) (httpapi.Response, error) {
	if !since(r, 12) {
		return httpapi.Response{}, versionNotFound(r)
	}
	if err := s.enforce(r, policyVolumeGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	q.Del("limit")
	q.Del("marker")
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	vols, _, _, err := s.listVolumeRows(r2)
	if err != nil {
		return httpapi.Response{}, err
	}
	size := 0
	meta := map[string][]string{}
	for _, v := range vols {
		size += v.Size
		for k, val := range v.Metadata {
			if !contains(meta[k], val) {
				meta[k] = append(meta[k], val)
			}
		}
	}
	summary := map[string]any{"total_count": len(vols), "total_size": size}
	if since(r, 36) {
		summary["metadata"] = meta
	}
	return httpapi.OK(map[string]any{"volume-summary": summary}), nil
}
