package compute

import (
	"context"
	"testing"
)

// TestClaimPlacedClaimsInstancesOfAnOlderNimbus: instances placed before
// claims were rows (migration 0004 drops the usage counters) are claimed when
// the service starts, their flavor and the old one of an unconfirmed resize,
// once however many processes start; a deleted or unplaced instance claims
// nothing.
func TestClaimPlacedClaimsInstancesOfAnOlderNimbus(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	ctx := context.Background()
	placed := e.boot(e.DemoToken, nil)
	resized := e.boot(e.DemoToken, nil)
	e.Must(202, "POST", "/v2.1/servers/"+resized+"/action", e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "42"}})
	e.conduct()
	e.run()
	if s := e.server(resized); s["status"] != "VERIFY_RESIZE" {
		t.Fatalf("resized server %v", s["status"])
	}
	gone := e.boot(e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.1/servers/"+gone, e.DemoToken, nil)
	e.run()
	e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil)) // never placed
	want := e.hostUsage("h1")
	if want.MemoryMBUsed != 512+512+128 {
		t.Fatalf("usage before: %d MB, want two m1.tiny and an m1.nano", want.MemoryMBUsed)
	}

	// As an older Nimbus left them: placed instances, no claims.
	if _, err := e.Compute.db.ExecContext(ctx, `DELETE FROM instance_claims`); err != nil {
		t.Fatal(err)
	}
	if got := e.hostUsage("h1"); got.MemoryMBUsed != 0 {
		t.Fatalf("usage without claims: %d MB", got.MemoryMBUsed)
	}
	e.secondProcess() // starts, as the first does on its next start
	if err := e.Compute.claimPlaced(ctx); err != nil {
		t.Fatal(err)
	}
	got := e.hostUsage("h1")
	if got.VCPUsUsed != want.VCPUsUsed || got.MemoryMBUsed != want.MemoryMBUsed || got.DiskGBUsed != want.DiskGBUsed {
		t.Errorf("usage after the start: %+v, want %+v", got, want)
	}
	if n := e.count(`SELECT COUNT(*) FROM instance_claims WHERE instance_uuid IN (?, ?)`, placed, resized); n != 3 {
		t.Errorf("%d claims of the placed and the resized server, want 3", n)
	}
}

// TestForcedHostWithoutRoomFaults: a forced host (zone:host, an admin's)
// skips the filters, not the claim: a server forced onto a full host is ERROR
// with "No valid host", not left building while its claims keep failing.
func TestForcedHostWithoutRoomFaults(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 1, 1024, 100) // (1024*1.5 - 512) / 512 = 2 m1.tiny
	e.host("h2", 8, 8192, 100)
	var ids []string
	for range 3 {
		ids = append(ids, e.Must(202, "POST", "/v2.1/servers", e.AdminToken,
			serverBody(map[string]any{"availability_zone": "nova:h1"}))["server"].(map[string]any)["id"].(string))
		e.conduct()
	}
	for i, id := range ids {
		s := e.server(id)
		f, _ := s["fault"].(map[string]any)
		switch {
		case i < 2 && s["OS-EXT-SRV-ATTR:host"] != "h1":
			t.Errorf("server %d on %v, want h1", i, s["OS-EXT-SRV-ATTR:host"])
		case i == 2 && (s["status"] != "ERROR" || f == nil || f["message"] != "No valid host was found. There are not enough hosts available."):
			t.Errorf("server forced onto a full host: %v %v", s["status"], s["fault"])
		}
	}
}
