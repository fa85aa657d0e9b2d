package image

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// imageFilters are a list's filters as upstream reads them: the deserializer's
// (glance/api/v2/images.py RequestDeserializer.index), the controller's
// (os_hidden, protected) and the database's (glance/db/sqlalchemy/api.py
// _make_conditions_from_filters): ranges (<column>_min, <column>_max),
// created_at/updated_at with comparison operators, name/id/status/formats with
// "in:" lists, every other image column by equality and anything else as a
// property.
type imageFilters struct {
	visibility, memberStatus string
	hidden                   bool
	conds                    []func(*imageRow) bool
}

// query keys that are not filters
var listControlKeys = []string{"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "visibility", "tag", "os_hidden"}

// rangeColumns are the image columns a _min/_max filter applies to.
var rangeColumns = map[string]func(*imageRow) (int64, bool){
	"size":         func(im *imageRow) (int64, bool) { return im.Size.Int64, im.Size.Valid },
	"virtual_size": func(im *imageRow) (int64, bool) { return im.VirtualSize.Int64, im.VirtualSize.Valid },
	"min_disk":     func(im *imageRow) (int64, bool) { return im.MinDisk, true },
	"min_ram":      func(im *imageRow) (int64, bool) { return im.MinRAM, true },
}

// columns are the other image columns an equality filter compares, as the
// database would (a column that is NULL matches nothing).
var columns = map[string]func(*imageRow) (string, bool){
	"name":             func(im *imageRow) (string, bool) { return im.Name.String, im.Name.Valid },
	"id":               func(im *imageRow) (string, bool) { return im.ID, true },
	"status":           func(im *imageRow) (string, bool) { return im.Status, true },
	"container_format": func(im *imageRow) (string, bool) { return im.ContainerFmt.String, im.ContainerFmt.Valid },
	"disk_format":      func(im *imageRow) (string, bool) { return im.DiskFormat.String, im.DiskFormat.Valid },
	"owner":            func(im *imageRow) (string, bool) { return im.Owner, im.Owner != "" },
	"checksum":         func(im *imageRow) (string, bool) { return im.Checksum.String, im.Checksum.Valid },
	"os_hash_algo":     func(im *imageRow) (string, bool) { return im.HashAlgo.String, im.HashAlgo.Valid },
	"os_hash_value":    func(im *imageRow) (string, bool) { return im.HashValue.String, im.HashValue.Valid },
	"size":             func(im *imageRow) (string, bool) { return strconv.FormatInt(im.Size.Int64, 10), im.Size.Valid },
	"virtual_size": func(im *imageRow) (string, bool) {
		return strconv.FormatInt(im.VirtualSize.Int64, 10), im.VirtualSize.Valid
	},
	"min_disk": func(im *imageRow) (string, bool) { return strconv.FormatInt(im.MinDisk, 10), true },
	"min_ram":  func(im *imageRow) (string, bool) { return strconv.FormatInt(im.MinRAM, 10), true },
}

// listLimit is upstream's limit: an integer, not negative, at most api_limit_max
// (1000), limit_param_default (25) when absent.
func listLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 25, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(q.Get("limit")))
	if err != nil {
		return 0, httpapi.BadRequest("limit param must be an integer")
	}
	if n < 0 {
		return 0, httpapi.BadRequest("limit param must be positive")
	}
	return min(n, 1000), nil
}

func parseImageFilters(q url.Values) (*imageFilters, error) {
	f := &imageFilters{visibility: q.Get("visibility"), memberStatus: "accepted"}
	if f.visibility != "" && f.visibility != "all" && !contains(visibilities, f.visibility) {
		return nil, httpapi.BadRequest("Invalid visibility value: %s", f.visibility)
	}
	if q.Get("changes-since") != "" {
		return nil, httpapi.BadRequest(`The "changes-since" filter is no longer available on v2.`)
	}
	if q.Has("member_status") {
		f.memberStatus = q.Get("member_status")
	}
	if !contains([]string{"accepted", "pending", "rejected", "all"}, f.memberStatus) {
		return nil, httpapi.BadRequest("Invalid status: %s", f.memberStatus)
	}
	if _, err := listLimit(q); err != nil {
		return nil, err
	}
	if _, err := parseSort(q); err != nil {
		return nil, err
	}
	// the controller's: os_hidden case-insensitively (the SDK sends "True"),
	// protected exactly
	hidden := "false"
	if q.Has("os_hidden") {
		hidden = strings.ToLower(q.Get("os_hidden"))
	}
	if hidden != "true" && hidden != "false" {
		return nil, httpapi.BadRequest("Invalid value '%s' for 'os_hidden' filter. Valid values are 'true' or 'false'.", hidden)
	}
	f.hidden = hidden == "true"
	if q.Has("protected") {
		protected := q.Get("protected")
		if protected != "true" && protected != "false" {
			return nil, httpapi.BadRequest("Invalid value '%s' for 'protected' filter. Valid values are 'true' or 'false'.", protected)
		}
		want := protected == "true"
		f.conds = append(f.conds, func(im *imageRow) bool { return im.Protected == want })
	}
	if tags := q["tag"]; len(tags) > 0 {
		f.conds = append(f.conds, func(im *imageRow) bool {
			for _, t := range tags {
				if !slices.Contains(im.Tags, strings.TrimSpace(t)) {
					return false
				}
			}
			return true
		})
	}
	for key, values := range q {
		if contains(listControlKeys, key) || key == "protected" || key == "changes-since" {
			continue
		}
		value := values[len(values)-1] // webob's MultiDict answers the last
		cond, err := filterCondition(key, value)
		if err != nil {
			return nil, err
		}
		f.conds = append(f.conds, cond)
	}
	return f, nil
}

// filterCondition is the database's condition for one filter.
func filterCondition(key, value string) (func(*imageRow) bool, error) {
	if column, ok := strings.CutSuffix(key, "_min"); ok && rangeColumns[column] != nil {
		return rangeCondition(column, value, func(have, want int64) bool { return have >= want })
	}
	if column, ok := strings.CutSuffix(key, "_max"); ok && rangeColumns[column] != nil {
		return rangeCondition(column, value, func(have, want int64) bool { return have <= want })
	}
	switch key {
	case "created_at", "updated_at":
		return timeCondition(key, value)
	case "name", "id", "status", "container_format", "disk_format":
		op, operand := splitFilterOp(value)
		get := columns[key]
		switch op {
		case "in":
			set, err := splitQuoted(operand)
			if err != nil {
				return nil, err
			}
			return func(im *imageRow) bool { v, ok := get(im); return ok && slices.Contains(set, v) }, nil
		case "eq":
			return func(im *imageRow) bool { v, ok := get(im); return ok && v == operand }, nil
		}
		return nil, httpapi.BadRequest("Unable to filter by unknown operator '%s'.", op)
	}
	if get, ok := columns[key]; ok {
		return func(im *imageRow) bool { v, ok := get(im); return ok && v == value }, nil
	}
	return func(im *imageRow) bool { v, ok := im.Properties[key]; return ok && v == value }, nil
}

func rangeCondition(column, value string, cmp func(have, want int64) bool) (func(*imageRow) bool, error) {
	want, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return nil, httpapi.BadRequest("Unable to filter on a range with a non-numeric value.")
	}
	get := rangeColumns[column]
	return func(im *imageRow) bool { have, ok := get(im); return ok && cmp(have, want) }, nil
}

// splitFilterOp is upstream's utils.split_filter_op: "op:value", or "eq" when
// there is no colon or the whole expression is an ISO 8601 time.
func splitFilterOp(expr string) (op, value string) {
	left, right, found := strings.Cut(expr, ":")
	if !found {
		return "eq", expr
	}
	if _, err := parseISOTime(expr); err == nil {
		return "eq", expr
	}
	return left, right
}

func timeCondition(key, value string) (func(*imageRow) bool, error) {
	op, operand := splitFilterOp(value)
	at, err := parseISOTime(operand)
	if err != nil {
		return nil, httpapi.BadRequest(`Bad "%s" query filter format. Use ISO 8601 DateTime notation.`, key)
	}
	test := map[string]func(int) bool{
		"gt": func(c int) bool { return c > 0 }, "gte": func(c int) bool { return c >= 0 },
		"lt": func(c int) bool { return c < 0 }, "lte": func(c int) bool { return c <= 0 },
		"eq": func(c int) bool { return c == 0 }, "neq": func(c int) bool { return c != 0 },
	}[op]
	if test == nil {
		return nil, httpapi.BadRequest("Unable to filter on a unknown operator.")
	}
	return func(im *imageRow) bool {
		raw := im.CreatedAt
		if key == "updated_at" {
			raw = im.UpdatedAt
		}
		have, err := time.Parse(time.RFC3339, raw)
		return err == nil && test(have.Compare(at))
	}, nil
}

// parseISOTime reads the ISO 8601 times oslo_utils.timeutils.parse_isotime
// (iso8601.parse_date) accepts: a date, or a date and time with optional
// fractions and zone (UTC when none).
func parseISOTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
		"20060102T150405Z07:00", "20060102T150405", "2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, httpapi.BadRequest("Unable to parse date string %q", s)
}

// quotedValue is one element of an "in:" list: "a \"quoted\", value" or a bare one.
var quotedValue = regexp.MustCompile(`"([^"\\]*(?:\\.[^"\\]*)*)",?|([^,]+),?|,`)

// splitQuoted is upstream's split_filter_value_for_quotes: values split on
// commas, double quotes keeping commas inside; unbalanced quotes are a 400.
func splitQuoted(value string) ([]string, error) {
	open := false
	for i := 0; i < len(value); i++ {
		if value[i] != '"' || i > 0 && value[i-1] == '\\' {
			continue
		}
		if !open && i > 0 && value[i-1] != ',' {
			return nil, httpapi.BadRequest("Invalid filter value %s. There is no comma before opening quotation mark.", value)
		}
		if open && i+1 != len(value) && value[i+1] != ',' {
			return nil, httpapi.BadRequest("Invalid filter value %s. There is no comma after closing quotation mark.", value)
		}
		open = !open
	}
	if open {
		return nil, httpapi.BadRequest("Invalid filter value %s. The quote is not closed.", value)
	}
	var out []string
	for _, m := range quotedValue.FindAllStringSubmatch(value, -1) {
		out = append(out, m[1]+m[2])
	}
	return out, nil
}

// match applies the filters; hidden images are listed only when asked for, as
// upstream (os_hidden defaults to false).
func (f *imageFilters) match(im *imageRow) bool {
	if im.Hidden != f.hidden {
		return false
	}
	for _, c := range f.conds {
		if !c(im) {
			return false
		}
	}
	return true
}
