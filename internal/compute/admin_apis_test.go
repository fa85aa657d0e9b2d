package compute

import (
	"context"
	"strings"
	"testing"
)

// TestResetState: an admin's os-resetState sets vm_state active or error and
// clears the task (recorded as resetState); other values are Nova's 400, a
// member is refused.
func TestResetState(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	act := "/v2.1/servers/" + id + "/action"
	e.mustAt(403, "2.1", "POST", act, e.DemoToken, map[string]any{"os-resetState": map[string]any{"state": "error"}})
	out := e.mustAt(400, "2.1", "POST", act, e.AdminToken, map[string]any{"os-resetState": map[string]any{"state": "stopped"}})
	if msg := out["badRequest"].(map[string]any)["message"]; msg != "Invalid input for field/attribute state. Value: stopped. 'stopped' is not one of ['active', 'error']" {
		t.Errorf("bad state: %q", msg)
	}
	e.mustAt(202, "2.1", "POST", act, e.AdminToken, map[string]any{"os-resetState": map[string]any{"state": "error"}})
	if v := e.server(id); v["status"] != "ERROR" || v["OS-EXT-STS:task_state"] != nil {
		t.Errorf("after reset to error: %v %v", v["status"], v["OS-EXT-STS:task_state"])
	}
	e.mustAt(202, "2.1", "POST", act, e.AdminToken, map[string]any{"os-resetState": map[string]any{"state": "active"}})
	if v := e.server(id); v["status"] != "ACTIVE" {
		t.Errorf("after reset to active: %v", v["status"])
	}
	actions := e.mustAt(200, "2.1", "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.AdminToken, nil)["instanceActions"].([]any)
	if len(actions) == 0 || actions[0].(map[string]any)["action"] != "resetState" {
		t.Errorf("actions: %v", actions)
	}
}

// TestServerPassword: what the guest posts to the metadata service shows in
// os-server-password ("" before), and a member clears it.
func TestServerPassword(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	path := "/v2.1/servers/" + id + "/os-server-password"
	if out := e.mustAt(200, "2.1", "GET", path, e.DemoToken, nil); out["password"] != "" {
		t.Errorf("before a post: %v", out)
	}
	if err := e.Compute.SetPassword(context.Background(), id, "c2VjcmV0"); err != nil {
		t.Fatal(err)
	}
	if m, err := e.Compute.Instance(context.Background(), id); err != nil || m.Password != "c2VjcmV0" {
		t.Errorf("metadata's password: %v %v", m, err)
	}
	if out := e.mustAt(200, "2.1", "GET", path, e.DemoToken, nil); out["password"] != "c2VjcmV0" {
		t.Errorf("after a post: %v", out)
	}
	e.mustAt(204, "2.1", "DELETE", path, e.DemoToken, nil)
	if out := e.mustAt(200, "2.1", "GET", path, e.DemoToken, nil); out["password"] != "" {
		t.Errorf("after clear: %v", out)
	}
	other, _ := e.identity.NewProjectUser("other")
	e.mustAt(404, "2.1", "GET", path, other, nil)
}

// TestServerExternalEvents: per-event codes (200 on a host, 404 unknown, 400 a
// required tag missing), 207 when any failed; Nova's schema per microversion;
// admin (or service) only.
func TestServerExternalEvents(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	const path = "/v2.1/os-server-external-events"
	ev := func(name, uuid string) map[string]any { return map[string]any{"name": name, "server_uuid": uuid} }
	out := e.mustAt(200, "2.1", "POST", path, e.AdminToken, map[string]any{"events": []any{ev("network-vif-plugged", id)}})
	got := out["events"].([]any)[0].(map[string]any)
	if got["code"] != 200.0 || got["status"] != "completed" || got["name"] != "network-vif-plugged" {
		t.Errorf("plugged: %v", got)
	}
	missing := "3f1c2b8e-1111-4a3b-9c3d-000000000001"
	out = e.mustAt(207, "2.76", "POST", path, e.AdminToken, map[string]any{"events": []any{
		ev("network-changed", id), ev("network-vif-deleted", missing), ev("power-update", id)}})
	codes := []any{}
	for _, x := range out["events"].([]any) {
		codes = append(codes, x.(map[string]any)["code"])
	}
	if len(codes) != 3 || codes[0] != 200.0 || codes[1] != 404.0 || codes[2] != 400.0 {
		t.Errorf("mixed codes: %v", codes)
	}
	e.mustAt(403, "2.1", "POST", path, e.DemoToken, map[string]any{"events": []any{ev("network-changed", id)}})
	for _, tc := range []struct {
		version string
		body    any
		message string
	}{
		{"2.1", map[string]any{"events": []any{ev("power-update", id)}}, "Invalid input for field/attribute name. Value: power-update. 'power-update' is not one of ['network-changed', 'network-vif-plugged', 'network-vif-unplugged', 'network-vif-deleted']"},
		{"2.1", map[string]any{"events": []any{}}, "Invalid input for field/attribute events. Value: []. [] should be non-empty"},
		{"2.1", map[string]any{"events": []any{ev("network-changed", "not-a-uuid")}}, "Invalid input for field/attribute server_uuid. Value: not-a-uuid. 'not-a-uuid' is not a 'uuid'"},
		{"2.1", map[string]any{}, "'events' is a required property"},
	} {
		// Validation comes before policy, as Nova's: a member gets the 400 too.
		out := e.mustAt(400, tc.version, "POST", path, e.DemoToken, tc.body)
		if msg := out["badRequest"].(map[string]any)["message"]; msg != tc.message {
			t.Errorf("%v: %q, want %q", tc.body, msg, tc.message)
		}
	}
}

// TestUsageAuditLog: no audit runs, so every compute host is "not run" for the
// last completed month; a bad date is Nova's 400.
func TestUsageAuditLog(t *testing.T) {
	e := newMVEnv(t)
	out := e.mustAt(200, "2.1", "GET", "/v2.1/os-instance-usage-audit-log", e.AdminToken, nil)["instance_usage_audit_logs"].(map[string]any)
	if out["num_hosts"] != 1.0 || out["overall_status"] != "0 of 1 hosts done. 0 errors." {
		t.Errorf("index: %v", out)
	}
	out = e.mustAt(200, "2.1", "GET", "/v2.1/os-instance-usage-audit-log/2012-06-12%2010:00:00", e.AdminToken, nil)["instance_usage_audit_log"].(map[string]any)
	if out["period_beginning"] != "2012-05-01 00:00:00" || out["period_ending"] != "2012-06-01 00:00:00" {
		t.Errorf("show: %v", out)
	}
	bad := e.mustAt(400, "2.1", "GET", "/v2.1/os-instance-usage-audit-log/yesterday", e.AdminToken, nil)
	if msg := bad["badRequest"].(map[string]any)["message"]; msg != "Invalid timestamp for date yesterday" {
		t.Errorf("bad date: %q", msg)
	}
	e.mustAt(403, "2.1", "GET", "/v2.1/os-instance-usage-audit-log", e.DemoToken, nil)
}

// TestOSHosts: the deprecated os-hosts to 2.42 (404 from 2.43): the hosts of
// the services, a compute host's resources, and 501 for what the driver does
// not do.
func TestOSHosts(t *testing.T) {
	e := newMVEnv(t)
	e.activeServer("2.1", nil)
	hosts := e.mustAt(200, "2.42", "GET", "/v2.1/os-hosts", e.AdminToken, nil)["hosts"].([]any)
	found := false
	for _, h := range hosts {
		h := h.(map[string]any)
		if h["host_name"] == "h1" && h["service"] == "compute" && h["zone"] == "nova" {
			found = true
		}
	}
	if !found {
		t.Errorf("hosts: %v", hosts)
	}
	res := e.mustAt(200, "2.1", "GET", "/v2.1/os-hosts/h1", e.AdminToken, nil)["host"].([]any)
	projects := []string{}
	for _, r := range res {
		projects = append(projects, r.(map[string]any)["resource"].(map[string]any)["project"].(string))
	}
	if strings.Join(projects, ",") != "(total),(used_now),(used_max),"+e.DemoProject {
		t.Errorf("show: %v", projects)
	}
	e.mustAt(404, "2.1", "GET", "/v2.1/os-hosts/nowhere", e.AdminToken, nil)
	e.mustAt(501, "2.1", "PUT", "/v2.1/os-hosts/h1", e.AdminToken, map[string]any{"status": "disable"})
	e.mustAt(501, "2.1", "GET", "/v2.1/os-hosts/h1/reboot", e.AdminToken, nil)
	out := e.mustAt(400, "2.1", "PUT", "/v2.1/os-hosts/h1", e.AdminToken, map[string]any{"status": "off"})
	if msg := out["badRequest"].(map[string]any)["message"]; !strings.HasPrefix(msg.(string), "Invalid input for field/attribute status. Value: off.") {
		t.Errorf("bad status: %q", msg)
	}
	e.mustAt(404, "2.43", "GET", "/v2.1/os-hosts", e.AdminToken, nil)
	e.mustAt(404, "2.43", "GET", "/v2.1/os-hosts/h1", e.AdminToken, nil)
	e.mustAt(403, "2.1", "GET", "/v2.1/os-hosts", e.DemoToken, nil)
}

// TestDiskConfig: OS-DCF:diskConfig as create, rebuild and resize set it (AUTO
// or MANUAL, MANUAL when not asked), shown in the views; other values are the
// schema's 400.
func TestDiskConfig(t *testing.T) {
	e := newMVEnv(t)
	bad := e.mustAt(400, "2.1", "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"OS-DCF:diskConfig": "auto"}))
	if msg := bad["badRequest"].(map[string]any)["message"]; msg != "Invalid input for field/attribute OS-DCF:diskConfig. Value: auto. 'auto' is not one of ['AUTO', 'MANUAL']" {
		t.Errorf("bad diskConfig: %q", msg)
	}
	id := e.activeServer("2.1", map[string]any{"OS-DCF:diskConfig": "AUTO"})
	if v := e.server(id); v["OS-DCF:diskConfig"] != "AUTO" {
		t.Errorf("created AUTO: %v", v["OS-DCF:diskConfig"])
	}
	act := "/v2.1/servers/" + id + "/action"
	out := e.mustAt(202, "2.1", "POST", act, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "OS-DCF:diskConfig": "MANUAL"}})
	if got := out["server"].(map[string]any)["OS-DCF:diskConfig"]; got != "MANUAL" {
		t.Errorf("rebuild's answer: %v", got)
	}
	e.conduct()
	e.agent()
	e.mustAt(202, "2.1", "POST", act, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "2", "OS-DCF:diskConfig": "AUTO"}})
	if v := e.server(id); v["OS-DCF:diskConfig"] != "AUTO" {
		t.Errorf("resized AUTO: %v", v["OS-DCF:diskConfig"])
	}
	plain := e.activeServer("2.1", nil)
	if v := e.server(plain); v["OS-DCF:diskConfig"] != "MANUAL" {
		t.Errorf("not asked: %v", v["OS-DCF:diskConfig"])
	}
}
