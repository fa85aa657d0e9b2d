package identity

import (
	"net/url"
	"strings"
)

// textComparators are Keystone's inexact list filters, <attribute>__<comparator>=value
// (gophercloud's Filters, e.g. name__contains).
var textComparators = map[string]func(have, want string) bool{
	"contains":    strings.Contains,
	"startswith":  strings.HasPrefix,
	"endswith":    strings.HasSuffix,
	"icontains":   func(h, w string) bool { return strings.Contains(strings.ToLower(h), strings.ToLower(w)) },
	"istartswith": func(h, w string) bool { return strings.HasPrefix(strings.ToLower(h), strings.ToLower(w)) },
	"iendswith":   func(h, w string) bool { return strings.HasSuffix(strings.ToLower(h), strings.ToLower(w)) },
}

// inexactFiltersMatch applies the query's inexact filters on attrs; filters on other
// attributes, or with unknown comparators, are ignored as upstream ignores them.
func inexactFiltersMatch(q url.Values, attrs map[string]string) bool {
	for key, values := range q {
		attr, comparator, ok := strings.Cut(key, "__")
		if !ok {
			continue
		}
		have, known := attrs[attr]
		match := textComparators[comparator]
		if !known || match == nil {
			continue
		}
		for _, want := range values {
			if !match(have, want) {
				return false
			}
		}
	}
	return true
}
