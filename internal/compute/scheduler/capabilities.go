package scheduler

import "strconv"

// capability looks an extra spec path up on the host the way upstream walks
// HostState: a host attribute first (hypervisor_type, vcpus_total, ...),
// cpu_info:<key> in CPUInfo, then the stats in Capabilities.
func capability(cfg *Config, h *HostState, c capabilityReq) (string, bool) {
	path := c.path
	if len(path) == 1 {
		if v, ok := hostAttribute(cfg, h, path[0]); ok {
			return v, true
		}
	}
	if len(path) == 2 && path[0] == "cpu_info" {
		v, ok := h.CPUInfo[path[1]]
		return v, ok
	}
	v, ok := h.Capabilities[c.key]
	return v, ok
}

// hostAttribute is the HostState attributes of upstream's that a flavor may
// name, formatted as Python's str() would.
func hostAttribute(cfg *Config, h *HostState, name string) (string, bool) {
	itoa := strconv.Itoa
	switch name {
	case "host", "hypervisor_hostname", "nodename":
		return h.Name, true
	case "hypervisor_type":
		return h.HypervisorType, h.HypervisorType != ""
	case "hypervisor_version":
		return itoa(h.HypervisorVersion), true
	case "vcpus_total":
		return itoa(h.VCPUs), true
	case "vcpus_used":
		return itoa(h.VCPUsUsed), true
	case "total_usable_ram_mb":
		return itoa(h.MemoryMB), true
	case "free_ram_mb":
		return itoa(h.FreeRAMMB(*cfg)), true
	case "total_usable_disk_gb":
		return itoa(h.DiskGB), true
	case "free_disk_mb":
		return itoa(h.FreeDiskMB(*cfg)), true
	case "num_instances":
		return itoa(h.NumInstances), true
	}
	return "", false
}
