package qemu

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// TestEndMirrors: the switch-over completes the ready mirrors gracefully
// (block-job-cancel without force, which leaves the target an exact copy)
// and dismisses them; a mirror that ended with an error fails it, so the
// device state never goes with a disk short of writes. An abort cancels
// with force, ignores the jobs' errors and removes the nbd nodes.
func TestEndMirrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		force     bool
		jobError  string
		wantError bool
	}{
		{"switch-over", false, "", false},
		{"a mirror failed", false, "Input/output error", true},
		{"abort", true, "Operation cancelled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			cancelled := false
			var commands []string
			reply := func(req map[string]any) []string {
				mu.Lock()
				defer mu.Unlock()
				id, _ := json.Marshal(req["id"])
				ok := `{"return": {}, "id": ` + string(id) + `}`
				cmd, _ := req["execute"].(string)
				args, _ := req["arguments"].(map[string]any)
				if cmd != "qmp_capabilities" && cmd != "query-jobs" {
					data, _ := json.Marshal(args)
					commands = append(commands, cmd+" "+string(data))
				}
				switch cmd {
				case "query-jobs":
					job := map[string]any{"id": "mig-drive-virtio-disk0", "type": "mirror", "status": "ready",
						"current-progress": 100, "total-progress": 100}
					if cancelled {
						job["status"] = "concluded"
						if tc.jobError != "" {
							job["error"] = tc.jobError
						}
					}
					other := map[string]any{"id": "backup-x", "type": "backup", "status": "running",
						"current-progress": 1, "total-progress": 2}
					data, _ := json.Marshal([]any{job, other})
					return []string{`{"return": ` + string(data) + `, "id": ` + string(id) + `}`}
				case "block-job-cancel":
					cancelled = true
				case "blockdev-del":
					return []string{`{"error": {"class": "GenericError", "desc": "Failed to find node with node-name='mig-nbd-0'"}, "id": ` + string(id) + `}`}
				}
				return []string{ok}
			}
			f := newFakeQMP(t, greeting, reply)
			go func() { // the commands are recorded in reply; the fake's channel is only drained
				for range f.requests {
				}
			}()
			copied, err := endMirrors(context.Background(), onSocket(f.path), 1, tc.force)
			if (err != nil) != tc.wantError {
				t.Fatalf("endMirrors = %d, %v; want an error: %v", copied, err, tc.wantError)
			}
			mu.Lock()
			defer mu.Unlock()
			want := []string{`block-job-cancel {"device":"mig-drive-virtio-disk0","force":` + map[bool]string{true: "true", false: "false"}[tc.force] + `}`}
			if !tc.wantError {
				want = append(want, `job-dismiss {"id":"mig-drive-virtio-disk0"}`)
				if tc.force {
					want = append(want, `blockdev-del {"node-name":"mig-nbd-0"}`)
				}
				if copied != 100 {
					t.Errorf("copied %d bytes, want 100", copied)
				}
			}
			if strings.Join(commands, "\n") != strings.Join(want, "\n") {
				t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(commands, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
