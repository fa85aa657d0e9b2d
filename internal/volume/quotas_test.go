package volume

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
)

func TestVolumeQuotaSetsAndLimits(t *testing.T) {
	e := newTestEnv(t, nil)
	set := e.Must(http.StatusOK, "GET", "/v3/os-quota-sets/"+e.DemoProject, e.DemoToken, nil)["quota_set"].(map[string]any)
	if set["volumes"] != float64(10) || set["gigabytes"] != float64(1000) || set["volumes___DEFAULT__"] != float64(-1) || set["id"] != e.DemoProject {
		t.Fatalf("defaults %v", set)
	}
	// a member may not change quotas
	status, body, _, _ := e.Do("PUT", "/v3/os-quota-sets/"+e.DemoProject, e.DemoToken, map[string]any{"quota_set": map[string]any{"volumes": 1}}, nil)
	if kind, _ := fault(body); status != 403 || kind != "forbidden" {
		t.Fatalf("member update: %d %v", status, body)
	}
	status, body, _, _ = e.Do("PUT", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"bogus": 1}}, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid input received: Bad key(s) in quota set: bogus" {
		t.Fatalf("bad key: %d %q", status, msg)
	}
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"volumes": 2, "gigabytes": "3"}})
	e.createVolume(e.DemoToken, map[string]any{"size": 2})
	status, body, _, _ = e.Do("POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 2}}, nil)
	if kind, msg := fault(body); status != 413 || kind != "overLimit" ||
		msg != "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 3G and 2G has been consumed." {
		t.Fatalf("over gigabytes: %d %s %q", status, kind, msg)
	}
	e.createVolume(e.DemoToken, map[string]any{"size": 1})
	status, body, _, _ = e.Do("POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1}}, nil)
	if _, msg := fault(body); status != 413 || msg != "Maximum number of volumes allowed (2) exceeded for quota 'volumes'." {
		t.Fatalf("over volumes: %d %q", status, msg)
	}
	usage := e.Must(http.StatusOK, "GET", "/v3/os-quota-sets/"+e.DemoProject+"?usage=true", e.DemoToken, nil)["quota_set"].(map[string]any)
	if v := usage["volumes"].(map[string]any); v["in_use"] != float64(2) || v["limit"] != float64(2) {
		t.Fatalf("usage %v", v)
	}
	status, body, _, _ = e.Do("PUT", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"volumes": 1}}, nil)
	if _, msg := fault(body); status != 400 || msg != "Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the requested limit is 1." {
		t.Fatalf("below usage: %d %q", status, msg)
	}
	abs := e.Must(http.StatusOK, "GET", "/v3/limits", e.DemoToken, nil)["limits"].(map[string]any)["absolute"].(map[string]any)
	if abs["maxTotalVolumes"] != float64(2) || abs["totalVolumesUsed"] != float64(2) || abs["totalGigabytesUsed"] != float64(3) {
		t.Fatalf("limits %v", abs)
	}
	// a per-type limit
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"volumes": 10, "gigabytes": 100, "volumes___DEFAULT__": 2}})
	status, body, _, _ = e.Do("POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1}}, nil)
	if _, msg := fault(body); status != 413 || msg != "Maximum number of volumes allowed (2) exceeded for quota 'volumes___DEFAULT__'." {
		t.Fatalf("per-type: %d %q", status, msg)
	}
	e.Must(http.StatusOK, "DELETE", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, nil)
	d := e.Must(http.StatusOK, "GET", "/v3/os-quota-sets/"+e.DemoProject+"/defaults", e.DemoToken, nil)["quota_set"].(map[string]any)
	if d["volumes"] != float64(10) {
		t.Fatalf("defaults %v", d)
	}
}

// TestVolumeQuotaConcurrentCreates fires more creates at once than the
// quota allows, through two service instances on one database (two API
// processes): exactly the limit succeed, the rest answer 413, never 500.
// On PostgreSQL (NIMBUS_TEST_DATABASE_URL) the serializable transactions
// retry; on SQLite the one writer orders them.
func TestVolumeQuotaConcurrentCreates(t *testing.T) {
	e := newTestEnv(t, nil)
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"volumes": 5}})
	second, err := New(t.Context(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	rr := &conctest.RoundRobin{Handlers: []http.Handler{e.handler, second.Handler()}}
	ts := httptest.NewServer(rr)
	t.Cleanup(ts.Close)
	const n = 12
	statuses := make([]int, n)
	errs := conctest.Burst(n, func(i int) error {
		req, _ := http.NewRequest("POST", ts.URL+"/v3/volumes", jsonBody(map[string]any{"volume": map[string]any{"size": 1, "name": fmt.Sprint(i)}}))
		req.Header.Set("X-Auth-Token", e.DemoToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		statuses[i] = resp.StatusCode
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusRequestEntityTooLarge {
			return errors.New(resp.Status)
		}
		return nil
	})
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %d: %v", i, err)
		}
		if statuses[i] == http.StatusAccepted {
			created++
		}
	}
	if created != 5 {
		t.Fatalf("%d creates succeeded, want exactly the quota of 5 (%v)", created, statuses)
	}
	var rows int
	if err := e.DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM volumes WHERE project_id = ?`, e.DemoProject).Scan(&rows); err != nil || rows != 5 {
		t.Fatalf("%d volume rows (%v)", rows, err)
	}
}
