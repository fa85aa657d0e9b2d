package network

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// SegmentConfig is ML2's type driver configuration.
type SegmentConfig struct {
	// TenantNetworkTypes are tried in order for networks created without provider
	// attributes (upstream tenant_network_types); default vxlan, then local.
	TenantNetworkTypes []string
	// FlatNetworks are the physical networks flat networks may use ("*": any).
	FlatNetworks []string
	// VLANRanges are "physnet:min:max" pools for tenant VLAN networks (upstream
	// network_vlan_ranges; a bare "physnet" allows admins any ID on it).
	VLANRanges []string
	// VXLANRanges are "min:max" VNI pools for tenant VXLAN networks (vni_ranges).
	VXLANRanges []string
}

// DefaultSegmentConfig mirrors the reference configuration.
func DefaultSegmentConfig() SegmentConfig {
	return SegmentConfig{
		TenantNetworkTypes: []string{"vxlan", "local"},
		FlatNetworks:       []string{"*"},
		VLANRanges:         []string{"physnet1:3001:4000"},
		VXLANRanges:        []string{"1001:2000"},
	}
}

// vxlanOverhead is what VXLAN encapsulation over IPv4 takes from the MTU.
const vxlanOverhead = 50

type idRange struct {
	physnet  string
	min, max int
}

// typeDrivers validate provider attributes and allocate segments.
type typeDrivers struct {
	cfg   SegmentConfig
	vlan  []idRange
	vxlan []idRange
}

// segment is a network's provider attributes.
type segment struct {
	Type            string
	PhysicalNetwork string
	SegmentationID  int
}

func newTypeDrivers(cfg SegmentConfig) (*typeDrivers, error) {
	def := DefaultSegmentConfig()
	if cfg.TenantNetworkTypes == nil {
		cfg.TenantNetworkTypes = def.TenantNetworkTypes
	}
	if cfg.FlatNetworks == nil {
		cfg.FlatNetworks = def.FlatNetworks
	}
	if cfg.VLANRanges == nil {
		cfg.VLANRanges = def.VLANRanges
	}
	if cfg.VXLANRanges == nil {
		cfg.VXLANRanges = def.VXLANRanges
	}
	t := &typeDrivers{cfg: cfg}
	for _, s := range cfg.VLANRanges {
		parts := strings.Split(s, ":")
		switch len(parts) {
		case 1:
			t.vlan = append(t.vlan, idRange{physnet: parts[0]})
		case 3:
			r, err := parseRange(parts[1], parts[2], 1, 4094)
			if err != nil {
				return nil, fmt.Errorf("network_vlan_ranges %q: %w", s, err)
			}
			r.physnet = parts[0]
			t.vlan = append(t.vlan, r)
		default:
			return nil, fmt.Errorf("network_vlan_ranges %q: want physnet or physnet:min:max", s)
		}
	}
	for _, s := range cfg.VXLANRanges {
		lo, hi, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("vni_ranges %q: want min:max", s)
		}
		r, err := parseRange(lo, hi, 1, 1<<24-1)
		if err != nil {
			return nil, fmt.Errorf("vni_ranges %q: %w", s, err)
		}
		t.vxlan = append(t.vxlan, r)
	}
	for _, typ := range cfg.TenantNetworkTypes {
		if !slices.Contains([]string{"local", "flat", "vlan", "vxlan"}, typ) {
			return nil, fmt.Errorf("tenant_network_types: unknown type %q", typ)
		}
	}
	return t, nil
}

func parseRange(lo, hi string, min, max int) (idRange, error) {
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < min || b > max || a > b {
		return idRange{}, fmt.Errorf("range %s:%s is not within %d..%d", lo, hi, min, max)
	}
	return idRange{min: a, max: b}, nil
}

// allocate reserves a segment for network netID: the one asked for (admins with
// provider attributes) or one of the tenant network types' pools, in order.
func (t *typeDrivers) allocate(ctx context.Context, tx *db.Tx, netID string, want *segment) (segment, error) {
	if want != nil {
		if err := t.validate(want); err != nil {
			return segment{}, err
		}
		return t.reserve(ctx, tx, netID, *want)
	}
	for _, typ := range t.cfg.TenantNetworkTypes {
		seg, ok, err := t.allocateTenant(ctx, tx, netID, typ)
		if err != nil {
			return segment{}, err
		}
		if ok {
			return seg, nil
		}
	}
	return segment{}, neutronError(http.StatusServiceUnavailable, "NoNetworkAvailable",
		"Unable to create the network. No tenant network is available for allocation.")
}

// validate checks explicit provider attributes as upstream's type drivers do.
func (t *typeDrivers) validate(s *segment) error {
	switch s.Type {
	case "local":
		if s.PhysicalNetwork != "" || s.SegmentationID != 0 {
			return invalidInput("provider:physical_network and provider:segmentation_id are not allowed for local provider network")
		}
	case "flat":
		if s.PhysicalNetwork == "" {
			return invalidInput("provider:physical_network required for flat provider network")
		}
		if s.SegmentationID != 0 {
			return invalidInput("provider:segmentation_id prohibited for flat provider network")
		}
		if !slices.Contains(t.cfg.FlatNetworks, "*") && !slices.Contains(t.cfg.FlatNetworks, s.PhysicalNetwork) {
			return invalidInput("physical_network '%s' unknown for flat provider network", s.PhysicalNetwork)
		}
	case "vlan":
		if s.PhysicalNetwork == "" {
			if len(t.vlan) == 0 {
				return invalidInput("provider:physical_network required for VLAN provider network")
			}
			s.PhysicalNetwork = t.vlan[0].physnet
		}
		if !slices.ContainsFunc(t.vlan, func(r idRange) bool { return r.physnet == s.PhysicalNetwork }) {
			return invalidInput("physical_network '%s' unknown for VLAN provider network", s.PhysicalNetwork)
		}
		if s.SegmentationID != 0 && (s.SegmentationID < 1 || s.SegmentationID > 4094) {
			return invalidInput("provider:segmentation_id out of range (1 through 4094)")
		}
	case "vxlan":
		if s.PhysicalNetwork != "" {
			return invalidInput("provider:physical_network specified for vxlan network")
		}
		if s.SegmentationID < 0 || s.SegmentationID > 1<<24-1 {
			return invalidInput("provider:segmentation_id out of range (1 through 16777215)")
		}
	case "":
		return invalidInput("provider:network_type required")
	default:
		return invalidInput("network_type value '%s' not supported", s.Type)
	}
	return nil
}

// reserve records an explicit segment; a segment in use is upstream's 409.
func (t *typeDrivers) reserve(ctx context.Context, tx *db.Tx, netID string, s segment) (segment, error) {
	if s.Type == "local" {
		return s, nil
	}
	if (s.Type == "vlan" || s.Type == "vxlan") && s.SegmentationID == 0 {
		seg, ok, err := t.allocateFrom(ctx, tx, netID, s.Type, s.PhysicalNetwork)
		if err != nil {
			return segment{}, err
		}
		if !ok {
			return segment{}, neutronError(http.StatusServiceUnavailable, "NoNetworkAvailable",
				"Unable to create the network. No tenant network is available for allocation.")
		}
		return seg, nil
	}
	reserved, err := reserveSegment(ctx, tx, netID, s)
	switch {
	case err != nil:
		return segment{}, err
	case reserved:
		return s, nil
	case s.Type == "flat":
		return segment{}, conflict("FlatNetworkInUse", "Unable to create the flat network. Physical network %s is in use.", s.PhysicalNetwork)
	case s.Type == "vlan":
		return segment{}, conflict("VlanIdInUse", "Unable to create the network. The VLAN %d on physical network %s is in use.",
			s.SegmentationID, s.PhysicalNetwork)
	}
	return segment{}, conflict("TunnelIdInUse", "Unable to create the network. The tunnel ID %d is in use.", s.SegmentationID)
}

// reserveSegment records segment s for network netID, false when another network
// has it. The primary key of segment_allocations holds one network per segment
// under any interleaving: a concurrent reservation is a serialization failure
// (PostgreSQL) that db.InTx runs again.
func reserveSegment(ctx context.Context, tx *db.Tx, netID string, s segment) (bool, error) {
	return insertedOne(tx.ExecContext(ctx, `INSERT INTO segment_allocations (network_type, physical_network, segmentation_id, network_id)
		VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, s.Type, s.PhysicalNetwork, s.SegmentationID, netID))
}

func (t *typeDrivers) allocateTenant(ctx context.Context, tx *db.Tx, netID, typ string) (segment, bool, error) {
	switch typ {
	case "local":
		return segment{Type: "local"}, true, nil
	case "vlan", "vxlan":
		return t.allocateFrom(ctx, tx, netID, typ, "")
	}
	return segment{}, false, nil // flat networks are never allocated to tenants
}

// allocateFrom takes the lowest free ID of the type's pools (of one physnet for VLAN
// when given), reading the IDs in use in the caller's transaction.
func (t *typeDrivers) allocateFrom(ctx context.Context, tx *db.Tx, netID, typ, physnet string) (segment, bool, error) {
	ranges := t.vxlan
	if typ == "vlan" {
		ranges = t.vlan
	}
	for _, r := range ranges {
		if r.max == 0 || (physnet != "" && r.physnet != physnet) {
			continue
		}
		used, err := db.QueryStrings(ctx, tx, `SELECT CAST(segmentation_id AS TEXT) FROM segment_allocations
			WHERE network_type = ? AND physical_network = ? AND segmentation_id BETWEEN ? AND ?`, typ, r.physnet, r.min, r.max)
		if err != nil {
			return segment{}, false, err
		}
		taken := map[int]bool{}
		for _, u := range used {
			n, _ := strconv.Atoi(u)
			taken[n] = true
		}
		for id := r.min; id <= r.max; id++ {
			if taken[id] {
				continue
			}
			seg := segment{Type: typ, PhysicalNetwork: r.physnet, SegmentationID: id}
			reserved, err := reserveSegment(ctx, tx, netID, seg)
			if err != nil {
				return segment{}, false, err
			}
			if reserved {
				return seg, true, nil
			}
		}
	}
	return segment{}, false, nil
}

// mtu is a new network's MTU for its type.
func (s *Service) mtu(typ string) int {
	if typ == "vxlan" {
		return s.opts.GlobalMTU - vxlanOverhead
	}
	return s.opts.GlobalMTU
}
