package scheduler

import "strings"

// filterFunc reports whether one host passes one filter for the request.
type filterFunc func(r *request, h *HostState) bool

// filters is every filter Config.EnabledFilters may name.
var filters = map[string]filterFunc{
	RetryFilter:                   retryPasses,
	AvailabilityZoneFilter:        azPasses,
	RamFilter:                     func(r *request, h *HostState) bool { return ramFits(r.cfg, h, &r.spec.Flavor, false) },
	AggregateRamFilter:            func(r *request, h *HostState) bool { return ramFits(r.cfg, h, &r.spec.Flavor, true) },
	DiskFilter:                    func(r *request, h *HostState) bool { return diskFits(r.cfg, h, &r.spec.Flavor, false) },
	AggregateDiskFilter:           func(r *request, h *HostState) bool { return diskFits(r.cfg, h, &r.spec.Flavor, true) },
	CoreFilter:                    func(r *request, h *HostState) bool { return coreFits(r.cfg, h, &r.spec.Flavor, false) },
	AggregateCoreFilter:           func(r *request, h *HostState) bool { return coreFits(r.cfg, h, &r.spec.Flavor, true) },
	ComputeFilter:                 computePasses,
	ComputeCapabilitiesFilter:     capabilitiesPass,
	ImagePropertiesFilter:         imagePasses,
	ServerGroupAntiAffinityFilter: antiAffinityPasses,
	ServerGroupAffinityFilter:     affinityPasses,
}

// request is a RequestSpec with what every host is checked against worked
// out once (upstream's run_filter_once_per_request, done as parsing instead).
type request struct {
	cfg  *Config
	spec *RequestSpec
	// uuid is the instance being placed, or "".
	uuid  string
	retry map[string]bool
	caps  []capabilityReq
	image imageReq
	group *groupReq
}

func newRequest(cfg *Config, spec *RequestSpec, instance int, hosts []*HostState) *request {
	r := &request{cfg: cfg, spec: spec, retry: set(spec.RetryHosts)}
	if instance < len(spec.InstanceUUIDs) {
		r.uuid = spec.InstanceUUIDs[instance]
	}
	r.caps = parseCapabilities(spec.Flavor.ExtraSpecs)
	r.image = parseImage(spec.Image)
	r.group = newGroupReq(spec.ServerGroup, hosts)
	return r
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// retryPasses is RetryFilter: a re-schedule skips the hosts that already
// failed this instance.
func retryPasses(r *request, h *HostState) bool {
	return !r.retry[h.Name]
}

// computePasses is ComputeFilter: the host's nova-compute is enabled and up.
func computePasses(_ *request, h *HostState) bool {
	return h.Enabled && h.Up
}

// hostZones is the host's availability zones: the aggregates' if any sets
// one (a host may sit in several aggregates naming the same zone), else its
// own field, else the default zone.
func hostZones(cfg *Config, h *HostState) []string {
	var zones []string
	for _, a := range h.Aggregates {
		if a.AZ != "" {
			zones = append(zones, a.AZ)
		}
		if z, ok := a.Metadata[metaAZ]; ok && z != a.AZ {
			zones = append(zones, z)
		}
	}
	if len(zones) > 0 {
		return zones
	}
	if h.AvailabilityZone != "" {
		return []string{h.AvailabilityZone}
	}
	return []string{cfg.DefaultAvailabilityZone}
}

// azPasses is AvailabilityZoneFilter: no requested zone passes every host.
func azPasses(r *request, h *HostState) bool {
	want := r.spec.AvailabilityZone
	if want == "" {
		return true
	}
	for _, z := range hostZones(r.cfg, h) {
		if z == want {
			return true
		}
	}
	return false
}

// HostAvailabilityZone is the zone the AvailabilityZoneFilter sees the host
// in (the first, when aggregates give it several), for the API's
// OS-EXT-AZ:availability_zone.
func HostAvailabilityZone(cfg Config, h HostState) string {
	return hostZones(&cfg, &h)[0]
}

// capabilityReq is one extra spec the ComputeCapabilitiesFilter checks.
type capabilityReq struct {
	path []string
	// key is path joined again, the Capabilities map key.
	key string
	req extraSpec
}

// parseCapabilities keeps unscoped keys and those in the "capabilities:"
// scope; keys of any other scope (hw:, quota:, trait:...) belong to other
// components and are ignored, as upstream.
func parseCapabilities(specs map[string]string) []capabilityReq {
	var out []capabilityReq
	for k, v := range specs {
		path := strings.Split(k, ":")
		if len(path) > 1 {
			if path[0] != "capabilities" {
				continue
			}
			path = path[1:]
		}
		out = append(out, capabilityReq{path: path, key: strings.Join(path, ":"), req: parseExtraSpec(v)})
	}
	return out
}

// capabilitiesPass is ComputeCapabilitiesFilter. A key the host does not
// have fails the host, as upstream: an unscoped extra spec nobody reports
// (a common mistake) makes the flavor unschedulable.
func capabilitiesPass(r *request, h *HostState) bool {
	for _, c := range r.caps {
		v, ok := capability(r.cfg, h, c)
		if !ok || !c.req.match(v) {
			return false
		}
	}
	return true
}
