package image

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestListFilters holds the list's filters to upstream's (images.py index and
// the database's _make_conditions_from_filters): ranges on every numeric column,
// operators on times, "in:" lists, equality on every other column, properties,
// os_hidden read case-insensitively (openstack image show sends os_hidden=True),
// and upstream's 400s for values it refuses.
func TestListFilters(t *testing.T) {
	e := newTestEnv(t, nil)
	mk := func(name string, body map[string]any, data string) string {
		body["name"], body["disk_format"], body["container_format"] = name, "raw", "bare"
		id := e.Create(e.DemoToken, body)
		if data != "" {
			e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", e.DemoToken, []byte(data))
		}
		return id
	}
	mk("small", map[string]any{"min_ram": 128, "os_distro": "debian"}, "1234")
	mk("big", map[string]any{"min_ram": 1024, "min_disk": 2, "protected": true}, strings.Repeat("x", 1000))
	hidden := mk("hidden", map[string]any{"os_hidden": true, "os_distro": "debian"}, "")
	mk("a,b", map[string]any{}, "")
	names := func(q string) string {
		t.Helper()
		out := e.Must(http.StatusOK, "GET", "/v2/images?sort=name:asc&"+q, e.DemoToken, nil)
		var n []string
		for _, im := range out["images"].([]any) {
			n = append(n, im.(map[string]any)["name"].(string))
		}
		return strings.Join(n, " ")
	}
	for _, tc := range []struct{ q, want string }{
		{"", "a,b big small"},
		{"size_min=5", "big"},
		{"size_max=5", "small"},
		{"size_min=4&size_max=4", "small"},
		{"size=4", "small"},
		{"min_ram_min=200", "big"},
		{"min_ram_max=200", "a,b small"},
		{"min_disk=2", "big"},
		{"virtual_size_min=1", "big small"},
		{"protected=true", "big"},
		{"protected=false", "a,b small"},
		{"os_hidden=true", "hidden"},
		{"os_hidden=True", "hidden"},
		{"os_hidden=FALSE", "a,b big small"},
		{"os_distro=debian", "small"},
		{"os_distro=debian&os_hidden=true", "hidden"},
		{"name=in:small,big", "big small"},
		{"name=in:" + url.QueryEscape(`"a,b",small`), "a,b small"},
		{"name=eq:big", "big"},
		{"status=in:queued", "a,b"},
		{"disk_format=raw&container_format=bare&status=active", "big small"},
		{"checksum=81dc9bdb52d04dc20036dbd8313ed055", "small"},
		{"created_at=gte:2000-01-01T00:00:00Z", "a,b big small"},
		{"created_at=lt:2000-01-01T00:00:00Z", ""},
		{"updated_at=neq:2000-01-01T00:00:00Z", "a,b big small"},
		{"owner=" + e.DemoProject, "a,b big small"},
		{"member_status=all", "a,b big small"},
		{"id=" + hidden, ""},
		{"id=" + hidden + "&os_hidden=true", "hidden"},
	} {
		if got := names(tc.q); got != tc.want {
			t.Errorf("?%s: %q, want %q", tc.q, got, tc.want)
		}
	}

	for _, tc := range []struct{ q, message string }{
		{"os_hidden=yes", "Invalid value 'yes' for 'os_hidden' filter. Valid values are 'true' or 'false'."},
		{"protected=True", "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'."},
		{"size_min=big", "Unable to filter on a range with a non-numeric value."},
		{"min_ram_max=1.5", "Unable to filter on a range with a non-numeric value."},
		{"created_at=yesterday", `Bad "created_at" query filter format. Use ISO 8601 DateTime notation.`},
		{"updated_at=near:2000-01-01T00:00:00Z", "Unable to filter on a unknown operator."},
		{"name=like:sm", "Unable to filter by unknown operator 'like'."},
		{"name=in:" + url.QueryEscape(`"a`), `Invalid filter value "a. The quote is not closed.`},
		{"name=in:" + url.QueryEscape(`a"b"`), `Invalid filter value a"b". There is no comma before opening quotation mark.`},
		{"visibility=everyone", "Invalid visibility value: everyone"},
		{"member_status=maybe", "Invalid status: maybe"},
		{"changes-since=2000-01-01T00:00:00Z", `The "changes-since" filter is no longer available on v2.`},
		{"limit=x", "limit param must be an integer"},
		{"limit=-1", "limit param must be positive"},
		{"sort_key=owner", "Invalid sort key: owner. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at."},
		{"sort=name:up", "Invalid sort direction: up"},
		{"sort=name&sort_dir=asc", "Old and new sorting syntax cannot be combined"},
		{"sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc", "Number of sort dirs does not match the number of sort keys"},
	} {
		status, out, _, _ := e.Do("GET", "/v2/images?"+tc.q, e.DemoToken, nil, nil)
		if status != http.StatusBadRequest || out["message"] != tc.message {
			t.Errorf("?%s: %d %q, want 400 %q", tc.q, status, out["message"], tc.message)
		}
	}

	// a marker filtered out of the list still places the page, as upstream's
	// keyset pagination does
	out := e.Must(http.StatusOK, "GET", "/v2/images?sort=name:asc&marker="+hidden, e.DemoToken, nil)
	if got := ids(out); len(got) != 1 || slices.Contains(got, hidden) {
		t.Fatalf("after the hidden marker: %v", out["images"])
	}
}
