package extraspecs

// accelSpecs are upstream's accel.py: a Cyborg device profile by name.
func accelSpecs() []spec {
	return []spec{text("accel:device_profile")}
}

// unnamespacedSpecs are upstream's null.py. Other names without a namespace
// pass unchecked, so only these two are ever refused.
func unnamespacedSpecs() []spec {
	return []spec{
		boolean("hide_hypervisor_id"), // deprecated for hw:hide_hypervisor_id
		oneOf("group_policy", "isolate", "none"),
	}
}

// osSpecs are upstream's os.py.
func osSpecs() []spec {
	return []spec{oneOf("os:secure_boot", "disabled", "required")}
}

// pciPassthroughSpecs are upstream's pci_passthrough.py: one or more
// comma-separated "$alias:$count".
func pciPassthroughSpecs() []spec {
	return []spec{format("pci_passthrough:alias", `[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*`)}
}

// vmwareSpecs are upstream's vmware.py.
func vmwareSpecs() []spec {
	return []spec{text("vmware:hw_version"), text("vmware:storage_policy")}
}
