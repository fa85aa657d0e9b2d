package ring

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Ring is a rebalanced builder's table as the servers read it: which devices
// hold each partition.
type Ring struct {
	partShift        uint
	replica2part2dev [][]uint16
	devices          []*Device // by id; nil for removed ids
	hashPrefix       string
	hashSuffix       string
}

// ringFile is the serialized ring (gzipped JSON, as upstream's ring.gz holds a
// gzipped header of JSON then the table).
type ringFile struct {
	PartShift        uint       `json:"part_shift"`
	ReplicaCount     int        `json:"replica_count"`
	Devices          []*Device  `json:"devs"`
	Replica2Part2Dev [][]uint16 `json:"replica2part2dev_id"`
}

// ErrNotBalanced is returned when a builder has unassigned partitions.
var ErrNotBalanced = errors.New("the ring has unassigned partitions: rebalance first")

// WriteRing writes b's table to path as a ring file.
func (b *Builder) WriteRing(path string) error {
	f := ringFile{PartShift: uint(32 - b.PartPower), ReplicaCount: b.Replicas, Devices: b.Devices}
	for _, row := range b.Replica2Part2Dev {
		out := make([]uint16, len(row))
		for p, id := range row {
			if id < 0 || id > 0xffff {
				return ErrNotBalanced
			}
			out[p] = uint16(id)
		}
		f.Replica2Part2Dev = append(f.Replica2Part2Dev, out)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(f); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeAtomic(path, buf.Bytes())
}

// Load reads a ring file; names hash with the cluster's path prefix and suffix
// (upstream's swift_hash_path_prefix/suffix, the same on every node).
func Load(path, hashPrefix, hashSuffix string) (*Ring, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f ringFile
	if err := json.NewDecoder(io.LimitReader(zr, 1<<30)).Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.PartShift > 32 || f.ReplicaCount < 1 || len(f.Replica2Part2Dev) != f.ReplicaCount {
		return nil, fmt.Errorf("%s: not a ring", path)
	}
	parts := 1 << (32 - f.PartShift)
	for _, row := range f.Replica2Part2Dev {
		if len(row) != parts {
			return nil, fmt.Errorf("%s: not a ring", path)
		}
		for _, id := range row {
			if int(id) >= len(f.Devices) || f.Devices[id] == nil {
				return nil, fmt.Errorf("%s: partition on unknown device %d", path, id)
			}
		}
	}
	return &Ring{partShift: f.PartShift, replica2part2dev: f.Replica2Part2Dev, devices: f.Devices,
		hashPrefix: hashPrefix, hashSuffix: hashSuffix}, nil
}

// HashPath is upstream's hash_path: the MD5 of the cluster prefix, "/" and the
// path's parts joined by "/", and the cluster suffix. It names an object's
// directory on disk and, through its first four bytes, its partition.
func HashPath(prefix, suffix string, account string, more ...string) [16]byte {
	var sb strings.Builder
	sb.WriteString(prefix)
	sb.WriteString("/")
	sb.WriteString(account)
	for _, m := range more {
		sb.WriteString("/")
		sb.WriteString(m)
	}
	sb.WriteString(suffix)
	return md5.Sum([]byte(sb.String()))
}

// Hash is HashPath with the ring's cluster prefix and suffix.
func (r *Ring) Hash(account string, more ...string) [16]byte {
	return HashPath(r.hashPrefix, r.hashSuffix, account, more...)
}

// Partition is the partition of account[/container[/object]].
func (r *Ring) Partition(account string, more ...string) int {
	h := r.Hash(account, more...)
	return int(binary.BigEndian.Uint32(h[:4]) >> r.partShift)
}

// PartitionCount is the number of partitions.
func (r *Ring) PartitionCount() int { return len(r.replica2part2dev[0]) }

// ReplicaCount is the number of replicas of each partition.
func (r *Ring) ReplicaCount() int { return len(r.replica2part2dev) }

// Devices lists the ring's devices (removed ids skipped).
func (r *Ring) Devices() []*Device {
	var out []*Device
	for _, d := range r.devices {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// Nodes are the primary devices of part, one per replica, in replica order.
func (r *Ring) Nodes(part int) []*Device {
	out := make([]*Device, 0, len(r.replica2part2dev))
	for _, row := range r.replica2part2dev {
		out = append(out, r.devices[row[part]])
	}
	return out
}

// Handoffs are the devices that stand in for part's primaries when they fail,
// in the order to try them: as upstream's get_more_nodes, devices in regions and
// then zones the primaries do not use come first, so a handoff adds dispersion;
// the walk over the other partitions' assignments from a point derived from
// part keeps the order stable for one partition and different across them.
func (r *Ring) Handoffs(part int) []*Device {
	used := map[int]bool{}
	usedZone := map[zoneKey]bool{}
	usedRegion := map[int]bool{}
	for _, d := range r.Nodes(part) {
		used[d.ID] = true
		usedZone[zoneKey{d.Region, d.Zone}] = true
		usedRegion[d.Region] = true
	}
	parts := r.PartitionCount()
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(part))
	sum := md5.Sum(h[:])
	start := int(binary.BigEndian.Uint32(sum[:4]) >> r.partShift)
	inc := parts/65536 + 1
	var candidates []*Device
	seen := map[int]bool{}
	devCount := len(r.Devices())
	for i := 0; i < parts && len(seen)+len(used) < devCount; i += inc {
		p := (start + i) % parts
		for _, row := range r.replica2part2dev {
			id := int(row[p])
			if !used[id] && !seen[id] {
				seen[id] = true
				candidates = append(candidates, r.devices[id])
			}
		}
	}
	for _, d := range r.devices { // devices holding no partition come last
		if d != nil && !used[d.ID] && !seen[d.ID] {
			seen[d.ID] = true
			candidates = append(candidates, d)
		}
	}
	var out []*Device
	tiers := []func(d *Device) bool{
		func(d *Device) bool { return !usedRegion[d.Region] },
		func(d *Device) bool { return !usedZone[zoneKey{d.Region, d.Zone}] },
		func(*Device) bool { return true },
	}
	taken := map[int]bool{}
	for _, ok := range tiers {
		for _, d := range candidates {
			if !taken[d.ID] && ok(d) {
				taken[d.ID] = true
				out = append(out, d)
			}
		}
	}
	return out
}
