package compute

import (
	"slices"
	"strings"
	"testing"
)

// TestExtensions: the deprecated extension list, sorted by alias, each shown by
// its alias; an unknown alias is 404; a token is still needed.
func TestExtensions(t *testing.T) {
	e := newTestEnv(t, nil)
	list := e.Must(200, "GET", "/v2.1/extensions", e.DemoToken, nil)["extensions"].([]any)
	var aliases []string
	names := map[string]string{}
	for _, v := range list {
		x := v.(map[string]any)
		aliases = append(aliases, x["alias"].(string))
		names[x["alias"].(string)] = x["name"].(string)
	}
	if !slices.IsSortedFunc(aliases, func(a, b string) int { return strings.Compare(a, b) }) {
		t.Errorf("aliases not sorted: %v", aliases)
	}
	if names["OS-SCH-HNT"] != "SchedulerHints" || names["os-admin-actions"] != "AdminActions" {
		t.Errorf("extensions = %v", names)
	}
	if x := e.Must(200, "GET", "/v2.1/extensions/os-admin-actions", e.DemoToken, nil)["extension"].(map[string]any); x["name"] != "AdminActions" {
		t.Errorf("os-admin-actions = %v", x)
	}
	status, out, raw := e.Do("GET", "/v2.1/extensions/os-nothing", e.DemoToken, nil)
	checkFault(t, status, out, raw, 404, "The resource could not be found.")
	if status, _, _ := e.Do("GET", "/v2.1/extensions", "", nil); status != 401 {
		t.Errorf("without a token: %d", status)
	}
}
