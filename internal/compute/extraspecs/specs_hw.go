package extraspecs

// cpuSet is upstream's pattern for a guest CPU list such as "0-3,^2". The
// realtime mask spells its leading '^' as a group, and the error message shows
// the pattern, so both spellings are kept.
const (
	cpuSet         = `\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*`
	realtimeCPUSet = `(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*`
)

// hwSpecs are upstream's hw.py, the libvirt driver's guest shape, in its order.
func hwSpecs() []spec {
	return []spec{
		boolean("hw:cpu_realtime"),
		format("hw:cpu_realtime_mask", realtimeCPUSet),
		boolean("hw:hide_hypervisor_id"),

		oneOf("hw:cpu_policy", "dedicated", "shared", "mixed"),
		oneOf("hw:cpu_thread_policy", "prefer", "isolate", "require"),
		oneOf("hw:emulator_threads_policy", "isolate", "share"),
		format("hw:cpu_dedicated_mask", cpuSet),

		format("hw:mem_page_size", `(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)`),
		boolean("hw:locked_memory"),

		atLeast("hw:numa_nodes", 1),
		format("hw:numa_cpus.{num}", cpuSet).with("num", `\d+`),
		atLeast("hw:numa_mem.{num}", 1).with("num", `\d+`),
		oneOf("hw:pci_numa_affinity_policy", "required", "preferred", "legacy", "socket"),

		atLeast("hw:cpu_sockets", 1),
		atLeast("hw:cpu_cores", 1),
		atLeast("hw:cpu_threads", 1),
		atLeast("hw:cpu_max_sockets", 1),
		atLeast("hw:cpu_max_cores", 1),
		atLeast("hw:cpu_max_threads", 1),

		boolean("hw:boot_menu"),
		boolean("hw:vif_multiqueue_enabled"),
		boolean("hw:mem_encryption"),
		oneOf("hw:mem_encryption_model", "amd-sev", "amd-sev-es", "amd-sev-snp"),
		format("hw:pmem", `([a-zA-Z0-9_]+(,)?)+`),
		boolean("hw:pmu"),
		atLeast("hw:serial_port_count", 0),
		oneOf("hw:tpm_model", "tpm-tis", "tpm-crb"),
		oneOf("hw:tpm_version", "1.2", "2.0"),
		oneOf("hw:tpm_secret_security", "user", "host", "deployment"),
		oneOf("hw:watchdog_action", "none", "pause", "poweroff", "reset", "disabled"),
		oneOf("hw:viommu_model", "intel", "smmuv3", "virtio", "auto"),
		boolean("hw:virtio_packed_ring"),
		// The enums below are nova.objects.fields' SoundModelType,
		// USBControllerModelType and BlockDeviceEncryptionFormatType.
		oneOf("hw:sound_model", "sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"),
		oneOf("hw:usb_model", "none", "nec-xhci", "qemu-xhci"),
		between("hw:redirected_usb_ports", 0, 15),

		boolean("hw:ephemeral_encryption"),
		oneOf("hw:ephemeral_encryption_format", "plain", "luks", "luksv2"),
	}
}

// hwRNGSpecs are upstream's hw_rng.py.
func hwRNGSpecs() []spec {
	return []spec{
		boolean("hw_rng:allowed"),
		atLeast("hw_rng:rate_bytes", 0),
		atLeast("hw_rng:rate_period", 0),
	}
}

// hwVideoSpecs are upstream's hw_video.py.
func hwVideoSpecs() []spec {
	return []spec{atLeast("hw_video:ram_max_mb", 0)}
}
