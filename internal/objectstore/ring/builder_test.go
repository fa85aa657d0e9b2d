package ring

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// layout builds a ring of zones × devsPerZone devices of weight 100.
func layout(t *testing.T, power, replicas, zones, devsPerZone int) *Builder {
	t.Helper()
	b, err := NewBuilder(power, replicas)
	if err != nil {
		t.Fatal(err)
	}
	for z := 1; z <= zones; z++ {
		for d := range devsPerZone {
			if _, err := b.AddDevice(Device{Region: 1, Zone: z, IP: "127.0.0.1", Port: 6200 + z, Name: fmt.Sprintf("d%d", d), Weight: 100}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	return b
}

func snapshot(b *Builder) [][]int {
	out := make([][]int, len(b.Replica2Part2Dev))
	for r, row := range b.Replica2Part2Dev {
		out[r] = append([]int(nil), row...)
	}
	return out
}

func movedParts(b *Builder, before [][]int) int { return b.movedSince(before) }

// checkDispersion fails when two replicas of a partition share a zone (with at
// least replicas zones) or a device.
func checkDispersion(t *testing.T, b *Builder) {
	t.Helper()
	zones := map[zoneKey]bool{}
	for _, d := range b.activeDevices() {
		zones[zoneKey{d.Region, d.Zone}] = true
	}
	for p := range b.Parts() {
		seenZone, seenDev := map[zoneKey]bool{}, map[int]bool{}
		for r := range b.Replicas {
			id := b.Replica2Part2Dev[r][p]
			if id < 0 {
				t.Fatalf("partition %d replica %d unassigned", p, r)
			}
			d := b.Devices[id]
			z := zoneKey{d.Region, d.Zone}
			if seenDev[id] {
				t.Fatalf("partition %d: two replicas on device %d", p, id)
			}
			if len(zones) >= b.Replicas && seenZone[z] {
				t.Fatalf("partition %d: two replicas in zone %v", p, z)
			}
			seenZone[z], seenDev[id] = true, true
		}
	}
}

// checkBalance fails when a device holds more than one partition-replica off
// its share (one over is tolerated, see Rebalance) of the weight (zones being capped at one replica per partition).
func checkBalance(t *testing.T, b *Builder, want map[int]float64) {
	t.Helper()
	got := map[int]int{}
	for _, row := range b.Replica2Part2Dev {
		for _, id := range row {
			got[id]++
		}
	}
	for id, w := range want {
		if math.Abs(float64(got[id])-w) > 2 {
			t.Errorf("device %d holds %d partition-replicas, want %.1f", id, got[id], w)
		}
	}
}

func TestRebalanceDispersesAndBalances(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		power, replicas, zones, devs int
	}{
		{"3 zones 1 device 3 replicas", 8, 3, 3, 1},
		{"3 zones 2 devices 3 replicas", 10, 3, 3, 2},
		{"4 zones 3 devices 3 replicas", 10, 3, 4, 3},
		{"5 zones 2 devices 2 replicas", 9, 2, 5, 2},
		{"1 zone 4 devices 3 replicas", 8, 3, 1, 4},
		{"2 zones 2 devices 3 replicas", 8, 3, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := layout(t, tc.power, tc.replicas, tc.zones, tc.devs)
			checkDispersion(t, b)
			share := float64(b.Parts()*tc.replicas) / float64(tc.zones*tc.devs)
			want := map[int]float64{}
			for _, d := range b.activeDevices() {
				want[d.ID] = share
			}
			checkBalance(t, b, want)
			if moved, err := b.Rebalance(); err != nil || moved != 0 {
				t.Fatalf("a second rebalance moved %d (err %v), want 0", moved, err)
			}
		})
	}
}

// TestRebalanceMovesOnlyWhatWeightsRequire is the acceptance 6: after a
// device is added, the fraction of partition-replicas that moved is the one its
// weight requires (no more than a partition-replica of rounding per device), and
// replicas of a partition still never share a zone.
func TestRebalanceMovesOnlyWhatWeightsRequire(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  Device
		// required is the fraction of all partition-replicas that must move.
		required float64
	}{
		// a fourth zone of the same weight takes a quarter of everything
		{"new zone", Device{Region: 1, Zone: 4, IP: "127.0.0.1", Port: 6204, Name: "d0", Weight: 200}, 1.0 / 4},
		// zone 1 is already at one replica of every partition: its third device
		// takes a third of zone 1's share, a ninth of everything, from its
		// zone-mates only
		{"device in a full zone", Device{Region: 1, Zone: 1, IP: "127.0.0.1", Port: 6201, Name: "d9", Weight: 100}, 1.0 / 9},
		// with four zones of 200, a device of 100 in zone 4 raises zone 4 to
		// 300 of 900: a third of the ring, still within its one-per-partition
		// cap, so zone 4 gains 3/9-1/4 of everything
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := layout(t, 10, 3, 3, 2)
			before := snapshot(b)
			id, err := b.AddDevice(tc.add)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Rebalance(); err != nil {
				t.Fatal(err)
			}
			checkDispersion(t, b)
			total := float64(b.Parts() * b.Replicas)
			moved := float64(movedParts(b, before)) / total
			slack := float64(len(b.activeDevices())) / total
			if moved > tc.required+slack || moved < tc.required-slack {
				t.Fatalf("moved %.4f of the partition-replicas, the weights require %.4f", moved, tc.required)
			}
			got := 0
			for _, row := range b.Replica2Part2Dev {
				for _, d := range row {
					if d == id {
						got++
					}
				}
			}
			// each other device may keep one partition-replica over its share
			if math.Abs(float64(got)-tc.required*total) > slack*total {
				t.Fatalf("the new device holds %d, want %.0f", got, tc.required*total)
			}
		})
	}
}

func TestRemoveAndReweight(t *testing.T) {
	b := layout(t, 8, 3, 4, 2)
	before := snapshot(b)
	if err := b.RemoveDevice(0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	checkDispersion(t, b)
	for _, row := range b.Replica2Part2Dev {
		for _, id := range row {
			if id == 0 {
				t.Fatal("a removed device still holds partitions")
			}
		}
	}
	total := float64(b.Parts() * b.Replicas)
	// device 0 held 1/8 of everything; zone 1's other device takes part of it
	if moved := float64(movedParts(b, before)) / total; moved > 1.0/8+8/total {
		t.Fatalf("removing a device moved %.4f, want about %.4f", moved, 1.0/8)
	}

	if err := b.SetWeight(1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	// zone 1 is empty now: three zones left for three replicas
	checkDispersion(t, b)
	if err := b.SetWeight(99, 1); err == nil {
		t.Fatal("SetWeight of an unknown device succeeded")
	}
	if err := b.SetWeight(2, -1); err == nil {
		t.Fatal("a negative weight was accepted")
	}
}

func TestBuilderRejects(t *testing.T) {
	if _, err := NewBuilder(21, 3); err == nil {
		t.Error("part power 21 accepted")
	}
	if _, err := NewBuilder(8, 0); err == nil {
		t.Error("0 replicas accepted")
	}
	b, _ := NewBuilder(4, 3)
	if _, err := b.Rebalance(); err == nil {
		t.Error("rebalance without devices succeeded")
	}
	d := Device{Zone: 1, IP: "10.0.0.1", Port: 6200, Name: "sda", Weight: 1}
	if _, err := b.AddDevice(d); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddDevice(d); err == nil {
		t.Error("the same device added twice")
	}
	if _, err := b.Rebalance(); err == nil {
		t.Error("three replicas on one device")
	}
}

func TestRingFileAndLookups(t *testing.T) {
	b := layout(t, 8, 3, 4, 2)
	dir := t.TempDir()
	if err := b.Save(filepath.Join(dir, "object.builder")); err != nil {
		t.Fatal(err)
	}
	b2, err := LoadBuilder(filepath.Join(dir, "object.builder"))
	if err != nil || len(b2.Devices) != 8 || b2.Replica2Part2Dev[2][7] != b.Replica2Part2Dev[2][7] {
		t.Fatalf("builder round trip: %v", err)
	}
	path := filepath.Join(dir, "object.ring.gz")
	if err := b.WriteRing(path); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path, "", "changeme")
	if err != nil {
		t.Fatal(err)
	}
	if r.PartitionCount() != 256 || r.ReplicaCount() != 3 {
		t.Fatalf("ring has %d partitions of %d replicas", r.PartitionCount(), r.ReplicaCount())
	}
	part := r.Partition("AUTH_test", "c", "o")
	if part != r.Partition("AUTH_test", "c", "o") || part < 0 || part >= 256 {
		t.Fatalf("partition %d", part)
	}
	// upstream: md5("/a/c/o" + suffix), first four bytes big-endian >> (32 - power)
	h := HashPath("", "changeme", "a", "c", "o")
	if want := int(uint32(h[0])<<24|uint32(h[1])<<16|uint32(h[2])<<8|uint32(h[3])) >> 24; r.Partition("a", "c", "o") != want {
		t.Fatalf("partition %d, want %d", r.Partition("a", "c", "o"), want)
	}
	nodes := r.Nodes(part)
	handoffs := r.Handoffs(part)
	if len(nodes) != 3 || len(handoffs) != 5 {
		t.Fatalf("%d nodes, %d handoffs; want 3 and 5", len(nodes), len(handoffs))
	}
	primaryZones := map[int]bool{}
	for _, n := range nodes {
		primaryZones[n.Zone] = true
	}
	// the zone no primary uses comes first among the handoffs
	if primaryZones[handoffs[0].Zone] {
		t.Fatalf("first handoff in zone %d, which a primary uses", handoffs[0].Zone)
	}
	if _, err := Load(filepath.Join(dir, "object.builder"), "", ""); err == nil {
		t.Fatal("a builder file loaded as a ring")
	}
}

func TestParseDevice(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Device
		ok   bool
	}{
		{"r1z2-127.0.0.1:6200/sdb1", Device{Region: 1, Zone: 2, IP: "127.0.0.1", Port: 6200, Name: "sdb1", Weight: 100}, true},
		{"r2z1-[::1]:6201/d0_ssd", Device{Region: 2, Zone: 1, IP: "::1", Port: 6201, Name: "d0", Meta: "ssd", Weight: 100}, true},
		{"z1-127.0.0.1:6200/sdb1", Device{}, false},
		{"r1z1-host:6200/sdb1", Device{}, false},
		{"r1z1-127.0.0.1:70000/sdb1", Device{}, false},
		{"r1z1-127.0.0.1:6200/", Device{}, false},
	} {
		got, err := ParseDevice(tc.spec, 100)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseDevice(%q) = %+v, %v", tc.spec, got, err)
		}
	}
}
