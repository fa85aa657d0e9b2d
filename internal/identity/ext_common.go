package identity

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Helpers shared by the extension APIs (ext_*.go).

// extInt reads an integer attribute in [lo, hi]; JSON numbers arrive as float64.
// With nullable, null is accepted and reported as (nil, true).
func extInt(f *fields, name string, lo, hi int64, nullable bool) (v *int64, present bool) {
	raw, ok := f.m[name]
	if !ok {
		return nil, false
	}
	delete(f.m, name)
	if raw == nil && nullable {
		return nil, true
	}
	n, isNum := raw.(float64)
	if !isNum || n != math.Trunc(n) {
		want := "an integer"
		if nullable {
			want = "an integer or null"
		}
		f.fail(name, want)
		return nil, true
	}
	if n < float64(lo) || n > float64(hi) {
		f.fail(name, fmt.Sprintf("an integer between %d and %d", lo, hi))
		return nil, true
	}
	i := int64(n)
	return &i, true
}

// extRequire fails f with upstream's message when a required attribute is absent.
func extRequire(f *fields, names ...string) {
	for _, n := range names {
		if _, ok := f.m[n]; !ok && f.err == nil {
			f.err = httpapi.BadRequest("'%s' is a required property", n)
		}
	}
}

// extRejectUnknown enforces additionalProperties: false on what f has not consumed.
func extRejectUnknown(f *fields) {
	if f.err != nil {
		return
	}
	for k := range f.m {
		f.err = httpapi.BadRequest("Additional properties are not allowed ('%s' was unexpected)", k)
		return
	}
}

// extComparators are Keystone's list-filter suffixes (attr__contains=...).
var extComparators = []string{"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"}

// extMatchQuery applies Keystone's list filters for attrs: an exact attr=value, and
// the inexact attr__contains / __startswith / __endswith (i-prefixed: any case).
// Other query parameters are ignored, as upstream does.
func extMatchQuery(q url.Values, attrs []string, value func(attr string) string) bool {
	for _, attr := range attrs {
		if q.Has(attr) && value(attr) != q.Get(attr) {
			return false
		}
		for _, op := range extComparators {
			key := attr + "__" + op
			if !q.Has(key) {
				continue
			}
			have, want := value(attr), q.Get(key)
			if strings.HasPrefix(op, "i") {
				have, want = strings.ToLower(have), strings.ToLower(want)
			}
			var ok bool
			switch strings.TrimPrefix(op, "i") {
			case "contains":
				ok = strings.Contains(have, want)
			case "startswith":
				ok = strings.HasPrefix(have, want)
			case "endswith":
				ok = strings.HasSuffix(have, want)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// extNullString renders an optional string as JSON null when empty.
func extNullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// extPrefixColumns qualifies a column list ("id, name") with a table alias ("p.").
func extPrefixColumns(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// extDeleteByID serves the DELETE of the row of table whose id is the path
// parameter param: 204, or 404 naming kind when there is none.
func (s *Service) extDeleteByID(r *http.Request, table, param, kind string) (httpapi.Response, error) {
	id := pathParam(r, param)
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, notFound(kind, id)
	}
	s.changed()
	return httpapi.NoContent(), nil
}
