package httpapi

import (
	"net/http"
	"strconv"
)

// Page is the limit/marker paging every OpenStack list API accepts.
type Page struct {
	Limit  int    // 0 means no limit requested
	Marker string // id of the last item of the previous page
}

// ParsePage reads limit and marker from the query; maxLimit caps the limit (0: none).
func ParsePage(r *http.Request, maxLimit int) (Page, error) {
	q := r.URL.Query()
	p := Page{Marker: q.Get("marker")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, BadRequest("limit must be a non-negative integer, got %q.", s)
		}
		p.Limit = n
	}
	if maxLimit > 0 && (p.Limit == 0 || p.Limit > maxLimit) {
		p.Limit = maxLimit
	}
	return p, nil
}

// Apply pages a sorted slice in memory: items after the marker, at most Limit of them.
// The second result tells whether more items follow. An unknown marker answers 404 as
// upstream does.
func Apply[T any](p Page, items []T, id func(T) string) ([]T, bool, error) {
	if p.Marker != "" {
		at := -1
		for i, it := range items {
			if id(it) == p.Marker {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, false, NotFound("Marker %s could not be found.", p.Marker)
		}
		items = items[at+1:]
	}
	if p.Limit > 0 && len(items) > p.Limit {
		return items[:p.Limit], true, nil
	}
	return items, false, nil
}
