package volume

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestAvailabilityZonesServicesAndPools(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()

	zones := e.Must(http.StatusOK, "GET", "/v3/os-availability-zone", e.DemoToken, nil)["availabilityZoneInfo"].([]any)
	if len(zones) != 1 || zones[0].(map[string]any)["zoneName"] != "nova" ||
		zones[0].(map[string]any)["zoneState"].(map[string]any)["available"] != true {
		t.Fatalf("zones %v", zones)
	}

	e.Must(http.StatusForbidden, "GET", "/v3/os-services", e.DemoToken, nil)
	list := func(version, query string) []map[string]any {
		out := e.MustV(http.StatusOK, version, "GET", "/v3/os-services"+query, e.AdminToken, nil)
		var got []map[string]any
		for _, s := range out["services"].([]any) {
			got = append(got, s.(map[string]any))
		}
		return got
	}
	var seen []string
	for _, s := range list("", "") {
		seen = append(seen, s["binary"].(string)+" "+s["host"].(string))
		if s["state"] != "up" || s["status"] != "enabled" || s["zone"] != "nova" {
			t.Errorf("service %v", s)
		}
	}
	for _, want := range []string{"cinder-backup node1", "cinder-volume node1@alpha", "cinder-volume node1@beta"} {
		if !slices.Contains(seen, want) {
			t.Errorf("services %v lack %s", seen, want)
		}
	}
	if got := list("", "?binary=cinder-scheduler"); len(got) != 1 {
		t.Fatalf("scheduler %v", got)
	}
	vols := list("3.49", "?host=node1@alpha")
	if len(vols) != 1 || vols[0]["backend_state"] != "up" || vols[0]["cluster"] != nil || vols[0]["frozen"] != false {
		t.Fatalf("3.49 volume service %v", vols)
	}

	// disable one backend: the service says so and the scheduler passes it by
	e.Must(http.StatusNotFound, "PUT", "/v3/os-services/disable", e.AdminToken, map[string]any{"host": "nohost", "binary": "cinder-volume"})
	e.Must(http.StatusForbidden, "PUT", "/v3/os-services/disable", e.DemoToken, map[string]any{"host": "node1@alpha", "binary": "cinder-volume"})
	out := e.Must(http.StatusOK, "PUT", "/v3/os-services/disable-log-reason", e.AdminToken,
		map[string]any{"host": "node1@alpha", "binary": "cinder-volume", "disabled_reason": "maintenance"})
	if out["status"] != "disabled" || out["disabled"] != true || out["disabled_reason"] != "maintenance" {
		t.Fatalf("disable answer %v", out)
	}
	if s := list("", "?host=node1@alpha")[0]; s["status"] != "disabled" || s["disabled_reason"] != "maintenance" {
		t.Fatalf("disabled service %v", s)
	}
	pools := e.Must(http.StatusOK, "GET", "/v3/scheduler-stats/get_pools", e.AdminToken, nil)["pools"].([]any)
	if len(pools) != 1 || pools[0].(map[string]any)["name"] != "node1@beta#beta" {
		t.Fatalf("pools with alpha disabled %v", pools)
	}
	e.Must(http.StatusOK, "PUT", "/v3/os-services/enable", e.AdminToken, map[string]any{"host": "node1@alpha", "binary": "cinder-volume"})

	e.Must(http.StatusForbidden, "GET", "/v3/scheduler-stats/get_pools", e.DemoToken, nil)
	detail := e.Must(http.StatusOK, "GET", "/v3/scheduler-stats/get_pools?detail=true", e.AdminToken, nil)["pools"].([]any)
	if len(detail) != 2 {
		t.Fatalf("pools %v", detail)
	}
	caps := detail[0].(map[string]any)["capabilities"].(map[string]any)
	for _, k := range []string{"volume_backend_name", "total_capacity_gb", "free_capacity_gb", "allocated_capacity_gb",
		"storage_protocol", "pool_name", "thin_provisioning_support"} {
		if _, ok := caps[k]; !ok {
			t.Errorf("pool capabilities lack %s: %v", k, caps)
		}
	}
	named := e.MustV(http.StatusOK, "3.28", "GET", "/v3/scheduler-stats/get_pools?name=node1@beta%23beta", e.AdminToken, nil)["pools"].([]any)
	if len(named) != 1 {
		t.Fatalf("name filter %v", named)
	}

	// a backend that stops heartbeating is down
	e.Service.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	for _, s := range list("", "?binary=cinder-volume") {
		if s["state"] != "down" {
			t.Errorf("stale service %v", s)
		}
	}
}
