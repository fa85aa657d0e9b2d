// Package ring is Swift's consistent-hashing ring: a builder that places the
// replicas of 2^power partitions on devices by weight, keeping the replicas of a
// partition in different regions and zones while there are enough of them and
// moving as few partitions as a change of devices requires (swift-ring-builder);
// and the ring itself, the serialized table every proxy and storage server reads
// to find a name's partition, its primary nodes and its handoffs.
package ring

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Device is one disk of a storage node, as swift-ring-builder's dev dicts.
type Device struct {
	ID     int     `json:"id"`
	Region int     `json:"region"`
	Zone   int     `json:"zone"`
	IP     string  `json:"ip"`
	Port   int     `json:"port"`
	Name   string  `json:"device"`
	Weight float64 `json:"weight"`
	Meta   string  `json:"meta,omitempty"`
}

// Builder holds a ring's desired layout; Rebalance turns it into assignments.
type Builder struct {
	PartPower int `json:"part_power"`
	Replicas  int `json:"replicas"`
	// Devices is indexed by id; a removed device leaves nil so ids never change
	// meaning (upstream keeps None in its devs list likewise).
	Devices []*Device `json:"devs"`
	// Replica2Part2Dev[r][p] is the device id holding replica r of partition p,
	// -1 while unassigned.
	Replica2Part2Dev [][]int `json:"replica2part2dev_id"`
	// Version counts the rebalances that changed something.
	Version int `json:"version"`
}

// MaxPartPower bounds the table's size (2^20 partitions × replicas entries).
const MaxPartPower = 20

// NewBuilder starts an empty ring of 2^partPower partitions with replicas replicas.
func NewBuilder(partPower, replicas int) (*Builder, error) {
	if partPower < 0 || partPower > MaxPartPower {
		return nil, fmt.Errorf("part power %d out of range 0..%d", partPower, MaxPartPower)
	}
	if replicas < 1 {
		return nil, fmt.Errorf("replicas must be at least 1, not %d", replicas)
	}
	b := &Builder{PartPower: partPower, Replicas: replicas}
	b.Replica2Part2Dev = make([][]int, replicas)
	for r := range b.Replica2Part2Dev {
		b.Replica2Part2Dev[r] = slices.Repeat([]int{-1}, b.Parts())
	}
	return b, nil
}

// Parts is the number of partitions.
func (b *Builder) Parts() int { return 1 << b.PartPower }

// AddDevice adds d with the next free id (d.ID is ignored) and returns the id.
func (b *Builder) AddDevice(d Device) (int, error) {
	if d.Name == "" || d.IP == "" || d.Port <= 0 {
		return 0, errors.New("a device needs an ip, a port and a device name")
	}
	if d.Weight < 0 || math.IsNaN(d.Weight) || math.IsInf(d.Weight, 0) {
		return 0, fmt.Errorf("invalid weight %v", d.Weight)
	}
	for _, o := range b.Devices {
		if o != nil && o.IP == d.IP && o.Port == d.Port && o.Name == d.Name {
			return 0, fmt.Errorf("device %s:%d/%s already exists (id %d)", d.IP, d.Port, d.Name, o.ID)
		}
	}
	d.ID = len(b.Devices)
	b.Devices = append(b.Devices, &d)
	return d.ID, nil
}

// Device returns the device of id, or an error when there is none.
func (b *Builder) Device(id int) (*Device, error) {
	if id < 0 || id >= len(b.Devices) || b.Devices[id] == nil {
		return nil, fmt.Errorf("no device with id %d", id)
	}
	return b.Devices[id], nil
}

// RemoveDevice removes the device; its partitions move at the next rebalance.
func (b *Builder) RemoveDevice(id int) error {
	if _, err := b.Device(id); err != nil {
		return err
	}
	b.Devices[id] = nil
	return nil
}

// SetWeight changes a device's weight; partitions move at the next rebalance.
func (b *Builder) SetWeight(id int, weight float64) error {
	d, err := b.Device(id)
	if err != nil {
		return err
	}
	if weight < 0 || math.IsNaN(weight) || math.IsInf(weight, 0) {
		return fmt.Errorf("invalid weight %v", weight)
	}
	d.Weight = weight
	return nil
}

type zoneKey struct{ region, zone int }

// Rebalance reassigns partitions so each device holds its weight's share, with
// the replicas of a partition spread over regions and zones, and returns how many
// partition-replicas moved. Only what must move moves: replicas on removed or
// zero-weight devices, replicas sharing a zone with another of their partition
// while a free zone exists, and a device's excess over its share.
func (b *Builder) Rebalance() (int, error) {
	before := make([][]int, len(b.Replica2Part2Dev))
	for r, row := range b.Replica2Part2Dev {
		before[r] = slices.Clone(row)
	}
	// A pass fills holes greedily and may leave a device a little over its
	// share when the last holes only fit there; a second pass evens that out.
	for range 4 {
		n, err := b.rebalancePass()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
	}
	moved := b.movedSince(before)
	if moved > 0 {
		b.Version++
	}
	return moved, nil
}

// movedSince counts the partition-replicas whose device is not one the
// partition had in before (replica order does not matter).
func (b *Builder) movedSince(before [][]int) int {
	moved := 0
	for p := range b.Parts() {
		was := map[int]int{}
		for r := range before {
			was[before[r][p]]++
		}
		for r := range b.Replica2Part2Dev {
			if id := b.Replica2Part2Dev[r][p]; was[id] > 0 {
				was[id]--
			} else {
				moved++
			}
		}
	}
	return moved
}

func (b *Builder) rebalancePass() (int, error) {
	active := b.activeDevices()
	if len(active) == 0 {
		return 0, errors.New("no device with a positive weight: add devices before rebalancing")
	}
	zones := map[zoneKey]bool{}
	for _, d := range active {
		zones[zoneKey{d.Region, d.Zone}] = true
	}
	// With fewer zones than replicas some partitions must share a zone; the
	// builder then only keeps replicas on distinct devices.
	disperse := len(zones) >= b.Replicas
	target := b.targets(active, disperse)
	assigned := map[int]int{}
	parts := b.Parts()

	moved := 0
	unassign := func(r, p int) {
		assigned[b.Replica2Part2Dev[r][p]]--
		b.Replica2Part2Dev[r][p] = -1
		moved++
	}
	// Replicas whose device left or lost its weight, and those on a device or in
	// a zone another replica of the partition already uses.
	for p := range parts {
		seenDev := map[int]bool{}
		seenZone := map[zoneKey]bool{}
		for r := range b.Replicas {
			id := b.Replica2Part2Dev[r][p]
			if id < 0 {
				continue
			}
			if id >= len(b.Devices) || b.Devices[id] == nil || b.Devices[id].Weight <= 0 {
				b.Replica2Part2Dev[r][p] = -1
				moved++
				continue
			}
			d := b.Devices[id]
			z := zoneKey{d.Region, d.Zone}
			if seenDev[id] || (disperse && seenZone[z]) {
				b.Replica2Part2Dev[r][p] = -1
				moved++
				continue
			}
			seenDev[id], seenZone[z] = true, true
			assigned[id]++
		}
	}
	// A device holding more than its share gives the excess back, taking first
	// partitions none of whose other replicas moved, so a partition keeps a
	// majority of its replicas in place.
	// One over the share is tolerated: the greedy fill can end a partition-replica
	// over where the last holes only fit one device, and moving it would only
	// push another one over.
	for _, d := range active {
		excess := assigned[d.ID] - target[d.ID] - 1
		for pass := 0; pass < 2 && excess > 0; pass++ {
			for p := 0; p < parts && excess > 0; p++ {
				for r := range b.Replicas {
					if b.Replica2Part2Dev[r][p] != d.ID {
						continue
					}
					if pass == 0 && b.partHasHole(p) {
						break
					}
					unassign(r, p)
					excess--
					break
				}
			}
		}
	}
	// Fill every hole with the device furthest below its share in a region and
	// zone the partition does not use yet.
	for p := range parts {
		for r := range b.Replicas {
			if b.Replica2Part2Dev[r][p] >= 0 {
				continue
			}
			id := b.pickDevice(p, active, target, assigned, disperse)
			if id < 0 {
				return moved, fmt.Errorf("partition %d: no device can take replica %d (fewer devices than replicas?)", p, r)
			}
			b.Replica2Part2Dev[r][p] = id
			assigned[id]++
		}
	}
	return moved, nil
}

func (b *Builder) partHasHole(p int) bool {
	for r := range b.Replicas {
		if b.Replica2Part2Dev[r][p] < 0 {
			return true
		}
	}
	return false
}

func (b *Builder) activeDevices() []*Device {
	var out []*Device
	for _, d := range b.Devices {
		if d != nil && d.Weight > 0 {
			out = append(out, d)
		}
	}
	return out
}

// targets is each device's share of the partition-replicas, in whole units
// summing to parts×replicas. While zones are dispersed a zone holds at most one
// replica of each partition, so a zone heavier than 1/replicas of the ring is
// capped at one per partition and the rest spread over the others by weight.
func (b *Builder) targets(active []*Device, disperse bool) map[int]int {
	parts := float64(b.Parts())
	slots := parts * float64(b.Replicas)
	zoneWeight := map[zoneKey]float64{}
	for _, d := range active {
		zoneWeight[zoneKey{d.Region, d.Zone}] += d.Weight
	}
	zoneShare := map[zoneKey]float64{}
	if disperse {
		capped := map[zoneKey]bool{}
		for {
			remaining, free := slots, 0.0
			for z, w := range zoneWeight {
				if capped[z] {
					remaining -= parts
				} else {
					free += w
				}
			}
			changed := false
			for z, w := range zoneWeight {
				if capped[z] {
					zoneShare[z] = parts
					continue
				}
				zoneShare[z] = remaining * w / free
				if zoneShare[z] > parts {
					capped[z] = true
					changed = true
				}
			}
			if !changed {
				break
			}
		}
	} else {
		total := 0.0
		for _, w := range zoneWeight {
			total += w
		}
		for z, w := range zoneWeight {
			zoneShare[z] = slots * w / total
		}
	}
	exact := map[int]float64{}
	for _, d := range active {
		z := zoneKey{d.Region, d.Zone}
		exact[d.ID] = zoneShare[z] * d.Weight / zoneWeight[z]
	}
	// Largest remainder rounding, ties by id so the result is deterministic.
	out := map[int]int{}
	sum := 0
	ids := make([]int, 0, len(active))
	for _, d := range active {
		out[d.ID] = int(math.Floor(exact[d.ID]))
		sum += out[d.ID]
		ids = append(ids, d.ID)
	}
	sort.Slice(ids, func(i, j int) bool {
		fi := exact[ids[i]] - math.Floor(exact[ids[i]])
		fj := exact[ids[j]] - math.Floor(exact[ids[j]])
		if fi != fj {
			return fi > fj
		}
		return ids[i] < ids[j]
	})
	for i := 0; sum < int(slots) && i < len(ids); i++ {
		out[ids[i]]++
		sum++
	}
	return out
}

// pickDevice chooses where replica r of partition p goes: first a device in a
// region the partition does not use, then in a zone it does not use, then any
// device it does not use; among those, the one furthest below its share.
func (b *Builder) pickDevice(p int, active []*Device, target, assigned map[int]int, disperse bool) int {
	usedDev := map[int]bool{}
	usedZone := map[zoneKey]bool{}
	usedRegion := map[int]bool{}
	for r := range b.Replicas {
		if id := b.Replica2Part2Dev[r][p]; id >= 0 {
			d := b.Devices[id]
			usedDev[id], usedZone[zoneKey{d.Region, d.Zone}], usedRegion[d.Region] = true, true, true
		}
	}
	tiers := []func(d *Device) bool{
		func(d *Device) bool { return !usedRegion[d.Region] },
		func(d *Device) bool { return !usedZone[zoneKey{d.Region, d.Zone}] },
	}
	if !disperse {
		tiers = nil
	}
	tiers = append(tiers, func(d *Device) bool { return !usedDev[d.ID] })
	for _, ok := range tiers {
		best, bestWant := -1, math.Inf(-1)
		for _, d := range active {
			if !ok(d) || usedDev[d.ID] {
				continue
			}
			// Want relative to the share, so small devices are not starved by
			// big ones with the same absolute deficit.
			want := float64(target[d.ID]-assigned[d.ID]) / math.Max(float64(target[d.ID]), 1)
			if want > bestWant {
				best, bestWant = d.ID, want
			}
		}
		// A tier whose devices are all full only wins over the next tier when
		// dispersion demands it (a free region or zone beats balance).
		if best >= 0 {
			return best
		}
	}
	return -1
}

// Save writes the builder to path atomically.
func (b *Builder) Save(path string) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// LoadBuilder reads a builder Save wrote.
func LoadBuilder(path string) (*Builder, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b Builder
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if b.PartPower < 0 || b.PartPower > MaxPartPower || b.Replicas < 1 || len(b.Replica2Part2Dev) != b.Replicas {
		return nil, fmt.Errorf("%s: not a ring builder", path)
	}
	for _, row := range b.Replica2Part2Dev {
		if len(row) != b.Parts() {
			return nil, fmt.Errorf("%s: not a ring builder", path)
		}
	}
	for i, d := range b.Devices {
		if d != nil && d.ID != i {
			return nil, fmt.Errorf("%s: device %d has id %d", path, i, d.ID)
		}
	}
	return &b, nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// SetAddress moves a device to another ip and port (swift-ring-builder
// set_info): no partition moves, the data stays on the disk it is on.
func (b *Builder) SetAddress(id int, ip string, port int) error {
	d, err := b.Device(id)
	if err != nil {
		return err
	}
	if ip == "" || port <= 0 || port > 65535 {
		return fmt.Errorf("invalid address %s:%d", ip, port)
	}
	d.IP, d.Port = ip, port
	return nil
}
