package compute

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestListServersPaging: limit and marker page through the same servers in the
// same order as one unpaged listing, whether the database pages (no filter) or
// the filters do (name); an unknown marker is upstream's 404.
func TestListServersPaging(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"instances": -1, "cores": -1, "ram": -1} })
	const n = 7
	for i := range n {
		e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"name": fmt.Sprintf("pg%d", i)}))
	}
	ids := func(doc map[string]any) []string {
		var out []string
		for _, s := range doc["servers"].([]any) {
			out = append(out, s.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, base := range []string{"/v2.1/servers", "/v2.1/servers/detail", "/v2.1/servers/detail?name=pg"} {
		all := ids(e.Must(200, "GET", base, e.DemoToken, nil))
		if len(all) != n || len(slices.Compact(slices.Sorted(slices.Values(all)))) != n {
			t.Fatalf("GET %s: %d servers (%v), want %d distinct", base, len(all), all, n)
		}
		var paged []string
		path := base + sep(base) + "limit=3"
		for pages := 0; path != ""; pages++ {
			if pages > n {
				t.Fatalf("GET %s: the next links loop", base)
			}
			doc := e.Must(200, "GET", path, e.DemoToken, nil)
			paged, path = append(paged, ids(doc)...), ""
			if links, _ := doc["servers_links"].([]any); len(links) > 0 {
				u, err := url.Parse(links[0].(map[string]any)["href"].(string))
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				path = base + sep(base) + "limit=" + q.Get("limit") + "&marker=" + q.Get("marker")
			}
		}
		if !slices.Equal(paged, all) {
			t.Errorf("GET %s paged by 3: %v, want %v", base, paged, all)
		}
		if status, _, raw := e.Do("GET", base+sep(base)+"marker=no-such-server", e.DemoToken, nil); status != 404 {
			t.Errorf("GET %s with an unknown marker: %d %s, want 404", base, status, raw)
		}
	}
}

func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}
