package extraspecs

// aggregateSpecs are upstream's aggregate_instance_extra_specs.py, for the
// AggregateInstanceExtraSpecsFilter. The value is free: it may be an operator
// expression ("s== 2.1.0", "<in> gcc") or a plain value.
func aggregateSpecs() []spec {
	return []spec{text("aggregate_instance_extra_specs:{key}").with("key", `.+`)}
}

// hostCapabilities are ComputeNode's and HostState's scalar fields, which the
// ComputeCapabilitiesFilter compares (vcpus_used is in both upstream lists).
var hostCapabilities = []string{
	"id", "uuid", "service_id", "host", "vcpus", "memory_mb", "local_gb",
	"vcpus_used", "memory_mb_used", "local_gb_used",
	"hypervisor_type", "hypervisor_version", "hypervisor_hostname",
	"free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
	"disk_available_least", "host_ip", "mapped",
	"cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio",
	"total_usable_ram_mb", "total_usable_disk_gb", "disk_mb_used",
	"free_disk_mb", "vcpus_total", "vcpus_used", "num_instances",
	"num_io_ops", "failed_builds", "aggregates", "cell_uuid", "updated",
}

// nestedHostCapabilities are the structured ones, reached with ":key" steps
// such as capabilities:cpu_info:arch.
var nestedHostCapabilities = []string{
	"cpu_info", "metrics", "stats", "numa_topology", "supported_hv_specs",
	"pci_device_pools",
	"nodename", "pci_stats", "supported_instances", "limits", "instances",
}

// capabilitySpecs are upstream's capabilities.py; like the aggregate ones,
// their values are filter expressions of any form.
func capabilitySpecs() []spec {
	var out []spec
	for _, c := range hostCapabilities {
		out = append(out, text("capabilities:"+c))
	}
	for _, c := range nestedHostCapabilities {
		out = append(out, text("capabilities:"+c+"{filter}").with("filter", `(:\w+)*`))
	}
	return out
}
