package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestObjectStoreBench runs a short `nimbus bench objectstore` against the shared
// cloud, logging in through its clouds.yaml as the demo user: every phase must
// succeed and report, and the bench's containers must be gone afterwards. No
// figure is asserted: docs/PERFORMANCE.md has them.
func TestObjectStoreBench(t *testing.T) {
	t.Parallel()
	c := shared
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nimbusBin, "bench", "objectstore", "--clouds-yaml", c.CloudsYAML(), "--cloud", "nimbus-demo",
		"--duration", "1s", "--warmup", "0s", "--max-requests", "40", "--large-size", "3000000", "--large-rounds", "1",
		"--listing-objects", "25", "--listing-rounds", "1", "--dd-dir", t.TempDir(), "--json")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nimbus bench objectstore: %v\n%s", err, stderr.String())
	}
	var rep struct {
		SmallPut struct{ Requests, Errors int64 } `json:"small_put"`
		SmallGet struct{ Requests, Errors int64 } `json:"small_get"`
		PutMBps  float64                          `json:"large_put_mb_per_s"`
		GetMBps  float64                          `json:"large_get_mb_per_s"`
		Listing  int                              `json:"listing_objects"`
		Pages    int                              `json:"listing_pages"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	if rep.SmallPut.Requests == 0 || rep.SmallPut.Errors != 0 || rep.SmallGet.Requests == 0 || rep.SmallGet.Errors != 0 ||
		rep.PutMBps <= 0 || rep.GetMBps <= 0 || rep.Listing != 25 || rep.Pages != 2 {
		t.Fatalf("report: %+v\n%s", rep, out)
	}
	var containers []struct{ Name string }
	OSJSON(t, c, "nimbus-demo", &containers, "container", "list", "--prefix", "nimbus-bench-")
	if len(containers) != 0 {
		t.Fatalf("the bench left %v", containers)
	}
}
