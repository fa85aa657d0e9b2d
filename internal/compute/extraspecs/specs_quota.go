package extraspecs

// quotaSpecs are upstream's quota.py: the VMware driver's limit, reservation
// and shares per resource, then the libvirt driver's CPU, disk and VIF tuning.
func quotaSpecs() []spec {
	var out []spec
	for _, res := range []string{"cpu", "memory", "disk_io", "vif"} {
		out = append(out,
			atLeast("quota:"+res+"_limit", 0),
			integer("quota:"+res+"_reservation"),
			oneOf("quota:"+res+"_shares_level", "custom", "high", "normal", "low"),
			atLeast("quota:"+res+"_shares_share", 0),
		)
	}
	out = append(out,
		atLeast("quota:cpu_shares", 0),
		atLeast("quota:cpu_period", 0),
		integer("quota:cpu_quota"), // negative means unlimited
	)
	for _, stat := range []string{"read", "write", "total"} {
		for _, metric := range []string{"bytes", "iops"} {
			out = append(out, atLeast("quota:disk_"+stat+"_"+metric+"_sec", 0))
		}
	}
	for _, dir := range []string{"inbound", "outbound"} {
		for _, metric := range []string{"average", "peak", "burst"} {
			out = append(out, atLeast("quota:vif_"+dir+"_"+metric, 0))
		}
	}
	return out
}
