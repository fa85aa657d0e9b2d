package compute

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// checkFault asserts a Nova fault body of the status with a message containing msg.
func checkFault(t *testing.T, status int, out map[string]any, raw []byte, wantStatus int, msg string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, raw)
	}
	kind := errorKinds[wantStatus]
	f, _ := out[kind].(map[string]any)
	if f == nil || !strings.Contains(fmt.Sprint(f["message"]), msg) || f["code"] != float64(wantStatus) {
		t.Fatalf("body %s, want %s with %q", raw, kind, msg)
	}
}

// boot creates a server as token and runs the conductor and h1's agent until it
// is ACTIVE.
func (e *testEnv) boot(token string, attrs map[string]any) string {
	e.t.Helper()
	id := e.Must(202, "POST", "/v2.1/servers", token, serverBody(attrs))["server"].(map[string]any)["id"].(string)
	e.conduct()
	e.run()
	return id
}

// run converges every host the test registered with the fake driver.
func (e *testEnv) run() {
	e.t.Helper()
	for _, h := range []string{"h1", "h2", "h3"} {
		if e.drivers == nil {
			e.drivers = map[string]*fake.Driver{}
		}
		d := e.drivers[h]
		if d == nil {
			d = fake.New(virt.HostResources{})
			e.drivers[h] = d
		}
		agentFor(e.t, e, h, d)()
	}
}

func TestLimitsAndQuotaSets(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	e.boot(e.DemoToken, nil)
	e.Must(200, "POST", "/v2.1/os-server-groups", e.DemoToken, map[string]any{"server_group": map[string]any{"name": "g", "policies": []any{"affinity"}}})

	abs := e.Must(200, "GET", "/v2.1/limits", e.DemoToken, nil)["limits"].(map[string]any)
	if rate := abs["rate"].([]any); len(rate) != 0 {
		t.Errorf("rate = %v", rate)
	}
	a := abs["absolute"].(map[string]any)
	for k, want := range map[string]float64{"maxTotalInstances": 10, "maxTotalCores": 20, "maxTotalRAMSize": 51200,
		"maxTotalKeypairs": 100, "maxServerMeta": 128, "maxServerGroups": 10, "maxServerGroupMembers": 10,
		"totalInstancesUsed": 1, "totalCoresUsed": 1, "totalRAMUsed": 512, "totalServerGroupsUsed": 1} {
		if a[k] != want {
			t.Errorf("limits %s = %v, want %v", k, a[k], want)
		}
	}

	quota := "/v2.1/os-quota-sets/" + e.DemoProject
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		msg                       string
	}{
		{"member reads its quotas", "GET", quota, e.DemoToken, nil, 200, ""},
		{"member reads the defaults", "GET", quota + "/defaults", e.DemoToken, nil, 200, ""},
		{"member reads another project's", "GET", "/v2.1/os-quota-sets/other", e.DemoToken, nil, 403, "Policy doesn't allow os_compute_api:os-quota-sets:show"},
		{"member may not update", "PUT", quota, e.DemoToken, map[string]any{"quota_set": map[string]any{"instances": 5}}, 403, "os-quota-sets:update"},
		{"member may not delete", "DELETE", quota, e.DemoToken, nil, 403, "os-quota-sets:delete"},
		{"no quota_set", "PUT", quota, e.AdminToken, map[string]any{}, 400, "'quota_set' is a required property"},
		{"unknown resource", "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"bogus": 1}}, 400, "('bogus' was unexpected)"},
		{"below -1", "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"cores": -2}}, 400, "less than the minimum of -1"},
		{"not an integer", "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"cores": "many"}}, 400, "does not match"},
		{"below usage", "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": 0}}, 400, "must be greater than or equal to already used and reserved 1"},
		{"malformed", "PUT", quota, e.AdminToken, `{"quota_set":`, 400, "Malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do(tc.method, tc.path, tc.token, tc.body)
			if tc.status == 200 {
				if status != 200 || out["quota_set"].(map[string]any)["instances"] != float64(10) {
					t.Fatalf("%d %s", status, raw)
				}
				return
			}
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}

	// PUT twice is the same; force lets the limit go below usage.
	for range 2 {
		qs := e.Must(200, "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": "3", "cores": 4}})["quota_set"].(map[string]any)
		if qs["instances"] != float64(3) || qs["cores"] != float64(4) || qs["ram"] != float64(51200) || qs["id"] != nil {
			t.Fatalf("after PUT: %v", qs)
		}
	}
	det := e.Must(200, "GET", quota+"/detail", e.DemoToken, nil)["quota_set"].(map[string]any)
	if c := det["cores"].(map[string]any); c["limit"] != float64(4) || c["in_use"] != float64(1) || c["reserved"] != float64(0) {
		t.Errorf("detail cores = %v", c)
	}
	if a := e.Must(200, "GET", "/v2.1/limits", e.DemoToken, nil)["limits"].(map[string]any)["absolute"].(map[string]any); a["maxTotalInstances"] != float64(3) {
		t.Errorf("limits after PUT: %v", a["maxTotalInstances"])
	}
	// The create quota check reads the new limit.
	status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"min_count": 3}))
	checkFault(t, status, out, raw, 403, "Quota exceeded for instances: Requested 3, but already used 1 of 3 instances")
	e.Must(200, "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": 0, "force": true}})
	// An admin reads another project's limits with tenant_id; a member may not.
	status, out, raw = e.Do("GET", "/v2.1/limits?tenant_id=other", e.DemoToken, nil)
	checkFault(t, status, out, raw, 403, "Policy doesn't allow os_compute_api:limits:other_project")
	if a := e.Must(200, "GET", "/v2.1/limits?tenant_id="+e.DemoProject, e.AdminToken, nil)["limits"].(map[string]any)["absolute"].(map[string]any); a["maxTotalInstances"] != float64(0) || a["totalInstancesUsed"] != float64(1) {
		t.Errorf("admin's view of demo's limits: %v", a)
	}
	e.Must(202, "DELETE", quota, e.AdminToken, nil)
	if qs := e.Must(200, "GET", quota, e.DemoToken, nil)["quota_set"].(map[string]any); qs["instances"] != float64(10) || qs["cores"] != float64(20) {
		t.Errorf("after DELETE: %v", qs)
	}
}

// TestPerUserQuotas: ?user_id= shows, sets and deletes a user's limits within
// the project's (nova's settable range: at least what the user uses, at most
// what the project's limit leaves), and server create holds the user to them.
func TestPerUserQuotas(t *testing.T) {
	e := newMVEnv(t)
	e.mustAt(200, "2.1", "PUT", "/v2.1/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": 3}})
	id := e.activeServer("2.1", nil)
	demoUser := e.server(id)["user_id"].(string)
	path := "/v2.1/os-quota-sets/" + e.DemoProject + "?user_id=" + demoUser
	for _, tc := range []struct {
		value   any
		message string
	}{
		{5, "Quota limit 5 for instances must be less than or equal to 3."},
		{-1, "Quota limit -1 for instances must be less than or equal to 3."},
		{0, "Quota limit 0 for instances must be greater than or equal to already used and reserved 1."},
	} {
		out := e.mustAt(400, "2.1", "PUT", path, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": tc.value}})
		if msg := out["badRequest"].(map[string]any)["message"]; msg != tc.message {
			t.Errorf("instances %v: %q, want %q", tc.value, msg, tc.message)
		}
	}
	out := e.mustAt(200, "2.1", "PUT", path, e.AdminToken, map[string]any{"quota_set": map[string]any{"instances": "1"}})["quota_set"].(map[string]any)
	if out["instances"] != 1.0 || out["cores"] != 20.0 {
		t.Errorf("user's limits after update: %v", out)
	}
	detail := e.mustAt(200, "2.1", "GET", "/v2.1/os-quota-sets/"+e.DemoProject+"/detail?user_id="+demoUser, e.AdminToken, nil)["quota_set"].(map[string]any)
	if got := detail["instances"].(map[string]any); got["limit"] != 1.0 || got["in_use"] != 1.0 {
		t.Errorf("user's detail: %v", got)
	}
	if project := e.mustAt(200, "2.1", "GET", "/v2.1/os-quota-sets/"+e.DemoProject, e.AdminToken, nil)["quota_set"].(map[string]any); project["instances"] != 3.0 {
		t.Errorf("project's limit changed: %v", project["instances"])
	}
	// The user is at the limit of its own, though the project has room.
	over := e.mustAt(403, "2.1", "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"networks": []any{map[string]any{"uuid": netUUID}}}))
	if msg := over["forbidden"].(map[string]any)["message"]; !strings.HasPrefix(msg.(string), "Quota exceeded for instances") {
		t.Errorf("over the user's quota: %q", msg)
	}
	e.mustAt(202, "2.1", "DELETE", path, e.AdminToken, nil)
	if got := e.mustAt(200, "2.1", "GET", path, e.AdminToken, nil)["quota_set"].(map[string]any); got["instances"] != 3.0 {
		t.Errorf("after delete, the project's limit: %v", got["instances"])
	}
	e.mustAt(202, "2.1", "POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"networks": []any{map[string]any{"uuid": netUUID}}}))
}
