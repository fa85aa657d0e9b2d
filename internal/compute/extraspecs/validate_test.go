package extraspecs

import (
	"strings"
	"testing"
	"unicode"
)

// TestValidate: upstream's answers (nova.api.validation.extra_specs.validators
// .validate, checked against it) for each kind of name and value.
func TestValidate(t *testing.T) {
	const unknown = "Validation failed; extra spec '%s' does not appear to be a valid extra spec."
	for _, tc := range []struct {
		name, value string
		want        string // "" passes; %s is the name
	}{
		// exact names
		{"hw:cpu_policy", "dedicated", ""},
		{"hw:cpu_policy", "mixed", ""},
		{"hw:cpu_policy", "bogus", "Validation failed; 'bogus' is not one of: dedicated, shared, mixed."},
		{"hw:cpu_policy", "Shared", "Validation failed; 'Shared' is not one of: dedicated, shared, mixed."},
		{"hw:tpm_version", "2.0", ""},
		{"group_policy", "isolate", ""},
		{"group_policy", "any", "Validation failed; 'any' is not one of: isolate, none."},
		{"accel:device_profile", "anything at all", ""},

		// parameterised names; upstream's '.' in a name matches any character
		{"hw:numa_cpus.0", "0-3,^2", ""},
		{"hw:numa_cpus.12", "0,1", ""},
		{"hw:numa_cpusX1", "0", ""},
		{"hw:numa_cpus.0", "0-", `Validation failed; '0-' is not of the format '\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*'.`},
		{"hw:numa_cpus.", "0", unknown},
		{"hw:numa_mem.1", "1024", ""},
		{"hw:numa_mem.1", "0", "Validation failed; '0' is less than the min value of '1'."},
		{"resources:VCPU", "2", ""},
		{"resources1:VCPU", "2", ""},
		{"resources_ssd-2:DISK_GB", "-1", ""},
		{"resources:VCPU", "two", "Validation failed; 'two' is not a valid integer value."},
		{"resources:CUSTOM_GOLD", "1", ""},
		{"resources:CUSTOM_gold", "1", unknown},
		{"resources:NOT_A_CLASS", "1", unknown},
		{"resources" + strings.Repeat("g", 65) + ":VCPU", "1", ""}, // not the resources namespace
		{"trait:HW_CPU_X86_AVX2", "required", ""},
		{"trait1:COMPUTE_STATUS_DISABLED", "forbidden", ""},
		{"trait:CUSTOM_X", "required", ""},
		{"trait:CUSTOM_X", "preferred", "Validation failed; 'preferred' is not one of: required, forbidden."},
		{"trait:HW_NOT_A_TRAIT", "required", unknown},
		{"capabilities:cpu_info", "<in> x86", ""},
		{"capabilities:cpu_info:arch", "x86_64", ""},
		{"capabilities:cpu_info:", "x", unknown},
		{"capabilities:host_ip", "s== 10.0.0.1", ""},
		{"aggregate_instance_extra_specs:ssd", "true", ""},
		{"aggregate_instance_extra_specs:", "true", unknown},

		// integers as Python's int() reads them, and their bounds
		{"hw:redirected_usb_ports", "15", ""},
		{"hw:redirected_usb_ports", "16", "Validation failed; '16' is greater than the max value of '15'."},
		{"hw:redirected_usb_ports", "-1", "Validation failed; '-1' is less than the min value of '0'."},
		{"hw:redirected_usb_ports", " +16 ", "Validation failed; '16' is greater than the max value of '15'."},
		{"hw:redirected_usb_ports", "1_0", ""},
		{"hw:redirected_usb_ports", "١٢", ""}, // Arabic-Indic 12
		{"hw:redirected_usb_ports", "١٦", "Validation failed; '16' is greater than the max value of '15'."},
		{"hw:redirected_usb_ports", "1__0", "Validation failed; '1__0' is not a valid integer value."},
		{"hw:redirected_usb_ports", "1.0", "Validation failed; '1.0' is not a valid integer value."},
		{"hw:redirected_usb_ports", "", "Validation failed; '' is not a valid integer value."},
		{"hw:numa_nodes", "99999999999999999999999", ""},
		{"quota:cpu_quota", "-99999999999999999999999", ""},
		{"hw:serial_port_count", "-0", ""},

		// booleans as oslo's bool_from_string(strict=True) reads them
		{"hw:cpu_realtime", "true", ""},
		{"hw:cpu_realtime", " YES ", ""},
		{"hw:cpu_realtime", "0", ""},
		{"hw:cpu_realtime", "Off", ""},
		{"hide_hypervisor_id", "\x1ct\x1f", ""},
		{"hw:cpu_realtime", "2", "Validation failed; '2' is not a valid boolean-like value."},
		{"hw:cpu_realtime", "truthy", "Validation failed; 'truthy' is not a valid boolean-like value."},

		// patterns, with Python's Unicode \d and \s
		{"hw:mem_page_size", "2MB", ""},
		{"hw:mem_page_size", "large", ""},
		{"hw:mem_page_size", "huge", `Validation failed; 'huge' is not of the format '(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)'.`},
		{"hw:cpu_realtime_mask", "^0-1", ""},
		{"hw:pmem", "GOLD,SILVER", ""},
		{"pci_passthrough:alias", "a1:2, b:3", ""},
		{"pci_passthrough:alias", "a1:2,\vb:3", ""},
		{"pci_passthrough:alias", "a1:٢", ""},
		{"pci_passthrough:alias", "a1", `Validation failed; 'a1' is not of the format '[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*'.`},

		// unknown names inside and outside the registry's namespaces
		{"hw:no_such", "x", unknown},
		{"hw_rng:no_such", "x", unknown},
		{"quota:no_such", "x", unknown},
		{"hw:cpu_policy:extra", "dedicated", unknown},
		{"foo:bar", "x", ""},
		{"HW:cpu_policy", "bogus", ""},
		{"hw_foo:cpu_policy", "bogus", ""},
		{"no_namespace", "x", ""},

		// a registered name sent as it is spelled in the registry
		{"hw:numa_cpus.{num}", "0", "Validation failed; expected a name of format 'hw:numa_cpus.{num}' but got 'hw:numa_cpus.{num}'."},
	} {
		want := tc.want
		if strings.Contains(want, "%s") {
			want = strings.Replace(want, "%s", tc.name, 1)
		}
		got := ""
		if err := Validate(tc.name, tc.value); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("Validate(%q, %q) = %q, want %q", tc.name, tc.value, got, want)
		}
	}
}

// TestRegistryShape: every upstream module is registered, once per name, and
// the namespaces are upstream's (the resources and trait ones with their
// request group).
func TestRegistryShape(t *testing.T) {
	if got, want := len(specs.ordered), 525; got != want {
		t.Errorf("%d validators, want upstream's %d", got, want)
	}
	var ns []string
	for _, re := range specs.namespaces {
		ns = append(ns, re.String())
	}
	want := []string{"accel", "aggregate_instance_extra_specs", "capabilities", "hw", "hw_rng", "hw_video", "os",
		"pci_passthrough", "quota", "resources(?P<group>([a-zA-Z0-9_-]{1,64})?)", "trait(?P<group>([a-zA-Z0-9_-]{1,64})?)", "vmware"}
	if len(ns) != len(want) {
		t.Fatalf("namespaces %v", ns)
	}
	for i := range want {
		if ns[i] != "^(?:"+want[i]+")$" {
			t.Errorf("namespace %d = %s, want %s", i, ns[i], want[i])
		}
	}
}

func TestToRE2(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`\d+`, `[\p{Nd}]+`},
		{`[^:]+:\d`, `[^:]+:[\p{Nd}]`},
		{`(:\w+)*`, `(:[\p{L}\p{N}_]+)*`},
		{`[\d,]`, `[\p{Nd},]`},
		{`\s*`, `[\t-\r\x1c-\x20\x85\p{Z}]*`},
		{`\S`, `[^\t-\r\x1c-\x20\x85\p{Z}]`},
		{`\^?\.`, `\^?\.`},
		{`[]\d]`, `[]\p{Nd}]`},
	} {
		if got := toRE2(tc.in); got != tc.want {
			t.Errorf("toRE2(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestDecimalDigit holds decimalDigit's assumption about Go's Unicode table:
// each range of decimal digits is whole runs of ten starting at a zero.
func TestDecimalDigit(t *testing.T) {
	check := func(lo, hi, stride uint32) {
		if stride != 1 || (hi-lo+1)%10 != 0 {
			t.Errorf("Nd range %#x-%#x stride %d is not runs of ten", lo, hi, stride)
		}
	}
	for _, r := range unicode.Nd.R16 {
		check(uint32(r.Lo), uint32(r.Hi), uint32(r.Stride))
	}
	for _, r := range unicode.Nd.R32 {
		check(r.Lo, r.Hi, r.Stride)
	}
	for r, want := range map[rune]byte{'7': 7, '٠': 0, '٩': 9, '߃': 3, '𝟗': 9, '𝟘': 0} {
		if d, ok := decimalDigit(r); !ok || d != want {
			t.Errorf("decimalDigit(%q) = %d, %v; want %d", r, d, ok, want)
		}
	}
	if _, ok := decimalDigit('x'); ok {
		t.Error("x is a digit")
	}
}
