package compute

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listQueryParams are upstream's index_query properties (the list's filters,
// sort and paging keys); from 2.75 any other is 400.
var listQueryParams = []string{"user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id",
	"ramdisk_id", "hostname", "key_name", "power_state", "vm_state", "task_state", "host", "node", "flavor",
	"reservation_id", "launched_at", "terminated_at", "availability_zone", "name", "display_name", "description",
	"display_description", "locked_by", "uuid", "root_device_name", "config_drive", "access_ip_v4", "access_ip_v6",
	"auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants", "soft_deleted", "deleted", "status",
	"changes-since", "ip", "ip6", "created_at", "block_device_mapping", "services", "metadata", "system_metadata",
	"info_cache", "security_groups", "pci_devices", "limit", "marker",
	"tags", "tags-any", "not-tags", "not-tags-any", // 2.26
	"changes-before", // 2.66
	"locked",         // 2.73
}

// serverStatuses are the statuses a 2.38 status filter may name (upstream's
// _server_status); before 2.38 another status only matches nothing.
var serverStatuses = []string{"ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING", "PASSWORD", "PAUSED",
	"REBOOT", "REBUILD", "RESCUE", "RESIZE", "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF",
	"SOFT_DELETED", "SUSPENDED", "UNKNOWN", "VERIFY_RESIZE"}

// listFilters are a list's filters beyond 2.1's: SQL conditions and the
// predicates applied in memory.
type listFilters struct {
	where []string
	args  []any
	preds []func(*instance) bool
}

// listFiltersOf reads the filters later microversions added, and those upstream
// lets admins (and, from 2.83, everyone) use.
func listFiltersOf(r *http.Request, q url.Values, admin bool) (listFilters, error) {
	var f listFilters
	if since(r, 75) {
		var unknown []string
		for k := range q {
			if !slices.Contains(listQueryParams, k) {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return f, badRequest("Invalid input for query parameters %s. Additional properties are not allowed ('%s' was unexpected)",
				strings.Join(unknown, ", "), strings.Join(unknown, "', '"))
		}
	}
	if st := q.Get("status"); st != "" && since(r, 38) && !slices.Contains(serverStatuses, strings.ToUpper(st)) {
		return f, badRequest("Invalid status value")
	}
	if since(r, 26) {
		if tf := parseTagFilter(q); len(tf.all)+len(tf.anyOf)+len(tf.notAll)+len(tf.notAny) > 0 {
			f.preds = append(f.preds, func(in *instance) bool { return tf.match(in.Tags) })
		}
	}
	if v := q.Get("changes-before"); v != "" && since(r, 66) {
		before, err := parseChangesTime("changes-before", v)
		if err != nil {
			return f, err
		}
		if s := q.Get("changes-since"); s != "" {
			if after, err := parseChangesTime("changes-since", s); err == nil && after > before {
				return f, badRequest("The value of changes-since must be less than or equal to changes-before.")
			}
		}
		f.where, f.args = append(f.where, "updated_at <= ?"), append(f.args, before)
	}
	if v, ok := q["locked"]; ok && since(r, 73) {
		switch strings.ToLower(firstOr(v, "")) {
		case "true", "1", "yes", "on", "t", "y":
			f.preds = append(f.preds, func(in *instance) bool { return in.Locked })
		case "false", "0", "no", "off", "f", "n":
			f.preds = append(f.preds, func(in *instance) bool { return !in.Locked })
		default:
			return f, badRequest("Unrecognized value '%s', acceptable values are: true, false", firstOr(v, ""))
		}
	}
	// Upstream drops these for non-admins before 2.83 (hostname before 2.90).
	userFilters := since(r, 83)
	for _, e := range []struct {
		key   string
		regex bool // upstream's regex filters; the others match exactly
		open  bool // allowed to non-admins
		value func(*instance) string
	}{
		{"availability_zone", true, userFilters, func(in *instance) string { return in.AZ }},
		{"key_name", true, userFilters, func(in *instance) string { return in.KeyName }},
		{"vm_state", false, userFilters, func(in *instance) string { return in.VMState }},
		{"task_state", false, userFilters, func(in *instance) string { return in.TaskState }},
		{"power_state", true, userFilters, func(in *instance) string { return strconv.Itoa(in.PowerState) }},
		{"user_id", false, userFilters, func(in *instance) string { return in.UserID }},
		{"created_at", true, userFilters, func(in *instance) string { return in.CreatedAt }},
		{"launched_at", true, userFilters, func(in *instance) string { return in.LaunchedAt }},
		{"terminated_at", true, userFilters, func(in *instance) string { return in.TerminatedAt }},
		{"config_drive", true, userFilters, func(in *instance) string {
			if in.Request.ConfigDrive {
				return "True"
			}
			return ""
		}},
		{"hostname", true, since(r, 90), func(in *instance) string { return in.Hostname }},
		{"reservation_id", true, true, func(in *instance) string { return in.Request.ReservationID }},
		{"uuid", false, false, func(in *instance) string { return in.UUID }},
	} {
		v := q.Get(e.key)
		if v == "" || !admin && !e.open {
			continue
		}
		value := e.value
		if !e.regex {
			f.preds = append(f.preds, func(in *instance) bool { return value(in) == v })
			continue
		}
		re, err := regexp.Compile(v)
		if err != nil {
			return f, badRequest("Invalid regular expression for %s: %s", e.key, v)
		}
		f.preds = append(f.preds, func(in *instance) bool { return re.MatchString(value(in)) })
	}
	return f, nil
}

// parseChangesTime reads an ISO 8601 time as the list's stored stamps compare.
func parseChangesTime(field, v string) (string, error) {
	t, err := changesTime(field, v)
	if err != nil {
		return "", err
	}
	return stamp(t), nil
}

// changesTime parses a changes-since / changes-before value.
func changesTime(field, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("Invalid input for query parameters %s. Value: %s. '%s' is not a 'date-time'", field, v, v)
}
