package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Resources is the host's capacity, as upstream's get_available_resource: every
// host CPU and all memory (the scheduler's allocation ratios and reserved amounts
// apply on top), and the free space of the instances' filesystem.
func (d *Driver) Resources(ctx context.Context) (virt.HostResources, error) {
	memMB, err := memTotalMB("/proc/meminfo")
	if err != nil {
		return virt.HostResources{}, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.opts.InstancesDir, &st); err != nil {
		return virt.HostResources{}, fmt.Errorf("statfs %s: %w", d.opts.InstancesDir, err)
	}
	version, err := d.hypervisorVersion(ctx)
	if err != nil {
		return virt.HostResources{}, err
	}
	return virt.HostResources{
		VCPUs:             runtime.NumCPU(),
		MemoryMB:          memMB,
		DiskGB:            int(st.Bavail * uint64(st.Bsize) >> 30),
		HypervisorType:    "QEMU",
		HypervisorVersion: version,
		CPUInfo:           cpuInfo(),
	}, nil
}

// memTotalMB is MemTotal of a meminfo file, in MiB.
func memTotalMB(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("meminfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				return 0, fmt.Errorf("meminfo MemTotal %q: %w", fields[1], err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("meminfo: no MemTotal in %s", path)
}

// hypervisorVersion is QEMU's version as libvirt encodes it (7.2.22 → 7002022),
// which os-hypervisors reports. It is asked once (the binary does not change under
// a running agent); a failure is not kept, so the next call asks again.
func (d *Driver) hypervisorVersion(ctx context.Context) (int, error) {
	d.versionMu.Lock()
	defer d.versionMu.Unlock()
	if d.version != 0 {
		return d.version, nil
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, d.opts.Binary, "--version")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s --version: %w", d.opts.Binary, err)
	}
	v, err := parseVersion(out.String())
	if err != nil {
		return 0, err
	}
	d.version = v
	return v, nil
}

var versionRE = regexp.MustCompile(`version (\d+)\.(\d+)(?:\.(\d+))?`)

// parseVersion reads `qemu-system-x86_64 --version` output.
func parseVersion(out string) (int, error) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no version in %q", strings.TrimSpace(out))
	}
	n := 0
	for _, part := range m[1:] {
		v, _ := strconv.Atoi(part) // digits by the pattern; the missing micro is 0
		n = n*1000 + v
	}
	return n, nil
}

// cpuInfo is the host CPU as upstream's cpu_info JSON (arch, vendor, model, topology).
func cpuInfo() string {
	info := struct {
		Arch     string         `json:"arch"`
		Vendor   string         `json:"vendor,omitempty"`
		Model    string         `json:"model,omitempty"`
		Topology map[string]int `json:"topology"`
	}{Arch: "x86_64", Topology: map[string]int{"sockets": 1, "cores": runtime.NumCPU(), "threads": 1}}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			key, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(key) {
			case "vendor_id":
				info.Vendor = strings.TrimSpace(value)
			case "model name":
				info.Model = strings.TrimSpace(value)
			}
			if info.Vendor != "" && info.Model != "" {
				break
			}
		}
	}
	data, _ := json.Marshal(info) // plain strings and ints: cannot fail
	return string(data)
}
