package compute

import (
	"context"
	"strconv"
	"testing"
)

// TestControlServices: the conductor's host lists nova-scheduler and
// nova-conductor in the internal zone beside the compute hosts, with integer ids
// no compute service shares; only nova-compute services take 2.53's PUT; the
// internal zone shows only in the zone detail; a deleted control service comes
// back with its next heartbeat.
func TestControlServices(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Host = "ctl" })
	e.host("h1", 8, 8192, 100)
	ctx := context.Background()
	if err := e.Compute.reportControlServices(ctx); err != nil {
		t.Fatal(err)
	}
	e.host("h2", 8, 8192, 100)

	list := func(query string) map[string]map[string]any {
		t.Helper()
		out := map[string]map[string]any{}
		for _, v := range e.mustAt(200, "2.1", "GET", "/v2.1/os-services"+query, e.AdminToken, nil)["services"].([]any) {
			sv := v.(map[string]any)
			out[sv["host"].(string)+"/"+sv["binary"].(string)] = sv
		}
		return out
	}
	all := list("")
	ids := map[float64]string{}
	for key, sv := range all {
		if other, dup := ids[sv["id"].(float64)]; dup {
			t.Errorf("%s and %s share id %v", key, other, sv["id"])
		}
		ids[sv["id"].(float64)] = key
	}
	for _, key := range []string{"ctl/nova-scheduler", "ctl/nova-conductor"} {
		sv := all[key]
		if sv == nil || sv["zone"] != "internal" || sv["state"] != "up" || sv["status"] != "enabled" {
			t.Errorf("%s = %v", key, sv)
		}
	}
	if len(all) != 4 {
		t.Errorf("services = %v, want h1, h2 and the two control services", all)
	}
	if got := list("?binary=nova-scheduler"); len(got) != 1 || got["ctl/nova-scheduler"] == nil {
		t.Errorf("binary=nova-scheduler: %v", got)
	}

	// The 2.1 actions take any service; 2.53's PUT only nova-compute ones.
	e.mustAt(200, "2.1", "PUT", "/v2.1/os-services/disable", e.AdminToken, map[string]any{"host": "ctl", "binary": "nova-conductor"})
	if sv := list("?binary=nova-conductor")["ctl/nova-conductor"]; sv["status"] != "disabled" {
		t.Errorf("disabled conductor = %v", sv)
	}
	var schedulerUUID string
	for _, v := range e.mustAt(200, "2.53", "GET", "/v2.1/os-services?binary=nova-scheduler", e.AdminToken, nil)["services"].([]any) {
		schedulerUUID = v.(map[string]any)["id"].(string)
	}
	status, out, raw, _ := e.send("2.53", "PUT", "/v2.1/os-services/"+schedulerUUID, e.AdminToken, map[string]any{"status": "disabled"})
	checkFault(t, status, out, raw, 400, "Updating a nova-scheduler service is not supported.")

	// The internal zone is in the detail only.
	for _, z := range e.Must(200, "GET", "/v2.1/os-availability-zone", e.AdminToken, nil)["availabilityZoneInfo"].([]any) {
		if z.(map[string]any)["zoneName"] == "internal" {
			t.Errorf("os-availability-zone lists the internal zone: %v", z)
		}
	}
	var internal map[string]any
	for _, z := range e.Must(200, "GET", "/v2.1/os-availability-zone/detail", e.AdminToken, nil)["availabilityZoneInfo"].([]any) {
		if z.(map[string]any)["zoneName"] == "internal" {
			internal = z.(map[string]any)
		}
	}
	hosts, _ := internal["hosts"].(map[string]any)
	ctl, _ := hosts["ctl"].(map[string]any)
	if sched, _ := ctl["nova-scheduler"].(map[string]any); sched["available"] != true || sched["active"] != true {
		t.Errorf("internal zone = %v", internal)
	}
	if cond, _ := ctl["nova-conductor"].(map[string]any); cond["active"] != false {
		t.Errorf("internal zone's disabled conductor = %v", internal)
	}

	// DELETE by integer id; the next heartbeat registers it again.
	e.mustAt(204, "2.1", "DELETE", "/v2.1/os-services/"+itoa(all["ctl/nova-scheduler"]["id"]), e.AdminToken, nil)
	if got := list("?binary=nova-scheduler"); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
	if err := e.Compute.reportControlServices(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list("?binary=nova-scheduler"); len(got) != 1 {
		t.Errorf("after the next heartbeat: %v", got)
	}
}

func itoa(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}
