package e2e

import (
	"testing"
	"time"
)

// TestComputeCrashWhileBooting: kill -9 of the whole all-in-one while servers
// are being scheduled, networked and spawned; after the restart every one of
// them ends ACTIVE or ERROR (none stays in BUILD) and each has exactly its one
// port: the conductor and the agents resume from the database.
func TestComputeCrashWhileBooting(t *testing.T) {
	t.Parallel()
	// Spawns long enough that none ends before the crash on a loaded machine.
	c := fakeComputeCloud(t, "crash-img", "NIMBUS_COMPUTE_FAKE_HOSTS=2", "NIMBUS_COMPUTE_FAKE_SPAWN_TIME=30s")
	const count = 20
	OS(t, c, adminCloud, "quota", "set", "--instances", "20", "--cores", "20", "demo")
	OS(t, c, demoCloud, "server", "create", "--image", "crash-img", "--flavor", "m1.nano", "--network", "private",
		"--min", "20", "--max", "20", "crash")
	var before []row
	OSJSON(t, c, demoCloud, &before, "server", "list")
	for _, s := range before {
		if str(s, "Status") != "BUILD" {
			t.Fatalf("server %s is %s before the crash: the test wants every build in flight", str(s, "Name"), str(s, "Status"))
		}
	}
	c.Kill()
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	var servers []row
	deadline := time.Now().Add(3 * time.Minute)
	for {
		OSJSON(t, c, demoCloud, &servers, "server", "list")
		building := 0
		for _, s := range servers {
			if st := str(s, "Status"); st != "ACTIVE" && st != "ERROR" {
				building++
			}
		}
		if len(servers) == count && building == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %d servers, %d not ACTIVE or ERROR: %v", len(servers), building, servers)
		}
		time.Sleep(time.Second)
	}
	for _, s := range servers {
		var ports []row
		OSJSON(t, c, adminCloud, &ports, "port", "list", "--device-id", str(s, "ID"))
		want := 1
		if str(s, "Status") == "ERROR" {
			want = len(ports) // a failed build may or may not have got its port
		}
		if len(ports) != want || len(ports) > 1 {
			t.Errorf("server %s (%s) has %d ports", str(s, "Name"), str(s, "Status"), len(ports))
		}
	}
}
