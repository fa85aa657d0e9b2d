package compute

import (
	"encoding/json"
	"testing"
)

// TestHypervisors: the 2.1 shapes (integer ids), search and servers by host
// name pattern, statistics over every node, admin only; DELETE os-services.
func TestHypervisors(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	e.host("h2", 4, 4096, 50)
	for _, tc := range []struct {
		name, path, token string
		status            int
		msg               string
	}{
		{"member lists", "/v2.1/os-hypervisors", e.DemoToken, 403, "Policy doesn't allow os_compute_api:os-hypervisors:list"},
		{"member reads statistics", "/v2.1/os-hypervisors/statistics", e.DemoToken, 403, "os-hypervisors:statistics"},
		{"unknown id", "/v2.1/os-hypervisors/99", e.AdminToken, 404, "Hypervisor with ID '99' could not be found."},
		{"uuid id at 2.1", "/v2.1/os-hypervisors/0b6fd2b4-5a2e-4bcb-9a7b-0c35f1b7d7a5", e.AdminToken, 404, "could not be found"},
		{"search without match", "/v2.1/os-hypervisors/zz/search", e.AdminToken, 404, "No hypervisor matching 'zz' could be found."},
		{"servers without match", "/v2.1/os-hypervisors/zz/servers", e.AdminToken, 404, "No hypervisor matching 'zz' could be found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("GET", tc.path, tc.token, nil)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	list := e.Must(200, "GET", "/v2.1/os-hypervisors", e.AdminToken, nil)["hypervisors"].([]any)
	if v, _ := json.Marshal(list); string(v) != `[{"hypervisor_hostname":"h1","id":1,"state":"up","status":"enabled"},{"hypervisor_hostname":"h2","id":2,"state":"up","status":"enabled"}]` {
		t.Errorf("list = %s", v)
	}
	// A server forced onto h1 (az:host is an admin's).
	srv := e.boot(e.AdminToken, map[string]any{"availability_zone": "nova:h1"})
	h := e.Must(200, "GET", "/v2.1/os-hypervisors/1", e.AdminToken, nil)["hypervisor"].(map[string]any)
	for k, want := range map[string]any{"vcpus": 8.0, "vcpus_used": 1.0, "memory_mb": 8192.0, "memory_mb_used": 512.0,
		"free_ram_mb": 7680.0, "local_gb": 100.0, "local_gb_used": 1.0, "running_vms": 1.0, "hypervisor_type": "QEMU",
		"hypervisor_version": 7002000.0, "current_workload": 0.0} {
		if h[k] != want {
			t.Errorf("hypervisor %s = %v, want %v", k, h[k], want)
		}
	}
	if svc := h["service"].(map[string]any); svc["host"] != "h1" || svc["id"] != 1.0 {
		t.Errorf("service = %v", svc)
	}
	detail := e.Must(200, "GET", "/v2.1/os-hypervisors/detail", e.AdminToken, nil)["hypervisors"].([]any)
	if len(detail) != 2 || detail[1].(map[string]any)["vcpus"] != 4.0 {
		t.Errorf("detail = %v", detail)
	}
	st := e.Must(200, "GET", "/v2.1/os-hypervisors/statistics", e.AdminToken, nil)["hypervisor_statistics"].(map[string]any)
	if st["count"] != 2.0 || st["vcpus"] != 12.0 || st["running_vms"] != 1.0 || st["memory_mb_used"] != 512.0 {
		t.Errorf("statistics = %v", st)
	}
	found := e.Must(200, "GET", "/v2.1/os-hypervisors/h/search", e.AdminToken, nil)["hypervisors"].([]any)
	if len(found) != 2 {
		t.Errorf("search h = %v", found)
	}
	servers := e.Must(200, "GET", "/v2.1/os-hypervisors/h/servers", e.AdminToken, nil)["hypervisors"].([]any)
	if v, _ := json.Marshal(servers[0].(map[string]any)["servers"]); string(v) != `[{"name":"instance-00000001","uuid":"`+srv+`"}]` {
		t.Errorf("servers of h1 = %s", v)
	}
	if _, ok := servers[1].(map[string]any)["servers"]; ok {
		t.Errorf("h2 runs nothing but has servers: %v", servers[1])
	}

	// DELETE os-services: not while it hosts instances; then it goes.
	for _, tc := range []struct {
		name, path, token string
		status            int
		msg               string
	}{
		{"member", "/v2.1/os-services/2", e.DemoToken, 403, "os-services:delete"},
		{"unknown", "/v2.1/os-services/99", e.AdminToken, 404, "Service 99 could not be found."},
		{"not an integer", "/v2.1/os-services/abc", e.AdminToken, 400, "Invalid uuid abc"},
		{"hosting instances", "/v2.1/os-services/1", e.AdminToken, 409, "Unable to delete compute service that is hosting instances."},
	} {
		t.Run("delete service "+tc.name, func(t *testing.T) {
			status, out, raw := e.Do("DELETE", tc.path, tc.token, nil)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	e.Must(204, "DELETE", "/v2.1/os-services/2", e.AdminToken, nil)
	if l := e.Must(200, "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any); len(l) != 1 {
		t.Errorf("services after delete: %v", l)
	}
	e.Must(404, "GET", "/v2.1/os-hypervisors/2", e.AdminToken, nil)
}
