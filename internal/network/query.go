package network

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// object is a resource as the API renders it.
type object = map[string]any

// Query keys that are not attribute filters.
var reservedParams = map[string]bool{
	"fields": true, "limit": true, "marker": true, "sort_key": true, "sort_dir": true, "page_reverse": true,
	"tags": true, "tags-any": true, "not-tags": true, "not-tags-any": true,
}

// listResponse applies what every Neutron list accepts to the visible items: filters
// by any attribute (repeated keys mean any of), tag filters, sort_key/sort_dir,
// limit/marker with a next link, and fields.
func listResponse(r *http.Request, collection string, items []object) (httpapi.Response, error) {
	q := r.URL.Query()
	var kept []object
	for _, it := range items {
		if matchesFilters(it, q) && matchesTags(it, q) {
			kept = append(kept, it)
		}
	}
	if err := sortObjects(kept, q); err != nil {
		return httpapi.Response{}, err
	}
	page, err := httpapi.ParsePage(r, 0)
	if err != nil {
		return httpapi.Response{}, err
	}
	kept, more, err := httpapi.Apply(page, kept, func(o object) string { s, _ := o["id"].(string); return s })
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]any, 0, len(kept))
	for _, it := range kept {
		out = append(out, selectFields(it, q["fields"]))
	}
	body := map[string]any{collection: out}
	if more && len(kept) > 0 {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("marker", fmt.Sprint(kept[len(kept)-1]["id"]))
		next.Set("limit", strconv.Itoa(page.Limit))
		body[collection+"_links"] = []any{map[string]any{"rel": "next", "href": r.URL.Path + "?" + next.Encode()}}
	}
	return httpapi.OK(body), nil
}

// showResponse renders one item with the fields the query asks for.
func showResponse(r *http.Request, member string, it object) httpapi.Response {
	return httpapi.OK(map[string]any{member: selectFields(it, r.URL.Query()["fields"])})
}

func matchesFilters(it object, q url.Values) bool {
	for key, wants := range q {
		if reservedParams[key] {
			continue
		}
		if key == "fixed_ips" {
			if !matchesFixedIPs(it, wants) {
				return false
			}
			continue
		}
		v, ok := it[key]
		if !ok {
			continue // upstream ignores filters on unknown attributes
		}
		if !slices.ContainsFunc(wants, func(w string) bool { return valueMatches(v, w) }) {
			return false
		}
	}
	return true
}

// valueMatches compares a rendered value with a query string as upstream's
// filters do: booleans by their truth, lists by membership, the rest as strings.
func valueMatches(v any, want string) bool {
	switch x := v.(type) {
	case bool:
		b, err := strconv.ParseBool(want)
		return err == nil && b == x
	case []string:
		return slices.Contains(x, want)
	case []any:
		for _, e := range x {
			if fmt.Sprint(e) == want {
				return true
			}
		}
		return false
	case nil:
		return want == "" || want == "None"
	}
	return fmt.Sprint(v) == want
}

// matchesFixedIPs handles ?fixed_ips=ip_address=X and ?fixed_ips=subnet_id=Y.
func matchesFixedIPs(it object, wants []string) bool {
	ips, _ := it["fixed_ips"].([]any)
	for _, w := range wants {
		key, val, ok := strings.Cut(w, "=")
		if !ok {
			continue
		}
		found := false
		for _, ip := range ips {
			m, _ := ip.(map[string]any)
			if fmt.Sprint(m[key]) == val || (key == "ip_address_substr" && strings.Contains(fmt.Sprint(m["ip_address"]), val)) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func matchesTags(it object, q url.Values) bool {
	tags, _ := it["tags"].([]string)
	has := func(t string) bool { return slices.Contains(tags, t) }
	all := func(list []string, f func(string) bool) bool {
		for _, t := range list {
			if !f(t) {
				return false
			}
		}
		return true
	}
	any := func(list []string) bool { return slices.ContainsFunc(list, has) }
	split := func(key string) []string {
		var out []string
		for _, v := range q[key] {
			for _, t := range strings.Split(v, ",") {
				if t != "" {
					out = append(out, t)
				}
			}
		}
		return out
	}
	if t := split("tags"); len(t) > 0 && !all(t, has) {
		return false
	}
	if t := split("tags-any"); len(t) > 0 && !any(t) {
		return false
	}
	if t := split("not-tags"); len(t) > 0 && all(t, has) {
		return false
	}
	if t := split("not-tags-any"); len(t) > 0 && any(t) {
		return false
	}
	return true
}

// sortObjects sorts by sort_key/sort_dir (repeated in pairs), then by id so pages
// are stable; without a sort_key the order is by id, as upstream's paging.
func sortObjects(items []object, q url.Values) error {
	keys, dirs := q["sort_key"], q["sort_dir"]
	if len(dirs) > len(keys) {
		return badRequest("The number of sort_keys and sort_dirs must be same")
	}
	for _, d := range dirs {
		if d != "asc" && d != "desc" {
			return badRequest("Sort direction %s is not valid, use asc or desc", d)
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		for k, key := range keys {
			c := compareValues(items[i][key], items[j][key])
			if k < len(dirs) && dirs[k] == "desc" {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return fmt.Sprint(items[i]["id"]) < fmt.Sprint(items[j]["id"])
	})
	return nil
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case int:
		if y, ok := b.(int); ok {
			return cmp.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp.Compare(strconv.FormatBool(x), strconv.FormatBool(y))
		}
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func selectFields(it object, fields []string) object {
	if len(fields) == 0 {
		return it
	}
	out := object{}
	for _, f := range fields {
		for _, name := range strings.Split(f, ",") {
			if v, ok := it[name]; ok {
				out[name] = v
			}
		}
	}
	return out
}
