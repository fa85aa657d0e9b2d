package qemu

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc's process times (100
// on every Linux architecture QEMU runs guests on here).
const clockTicks = 100

// Diagnostics are the running guest's figures: QEMU's vCPU threads, block
// statistics and memory over QMP; CPU times, memory held and the taps'
// counters from /proc, read in the QEMU's own network namespace.
func (d *Driver) Diagnostics(ctx context.Context, s virt.Spec) (virt.Diagnostics, error) {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return virt.Diagnostics{}, fmt.Errorf("diagnostics of %s: %w", s.UUID, err)
	}
	if pid == 0 {
		return virt.Diagnostics{}, fmt.Errorf("diagnostics of %s: %w", s.UUID, ErrNotRunning)
	}
	c, err := d.session(ctx, s)
	if err != nil {
		return virt.Diagnostics{}, fmt.Errorf("diagnostics of %s: %w", s.UUID, err)
	}
	defer c.Close()
	out, err := collectDiagnostics(ctx, c, pid)
	if err != nil {
		return virt.Diagnostics{}, fmt.Errorf("diagnostics of %s: %w", s.UUID, err)
	}
	return out, nil
}

func collectDiagnostics(ctx context.Context, c *qmpConn, pid int) (virt.Diagnostics, error) {
	args := processArgs(pid)
	out := virt.Diagnostics{Driver: "qemu", Hypervisor: "qemu", HypervisorOS: "linux"}
	if strings.Contains(argValue(args, "-machine"), "accel=kvm") {
		out.Hypervisor = "kvm"
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := c.execute(ctx, "query-status", nil, &status); err != nil {
		return out, err
	}
	out.State = powerState(status.Status)
	var mem struct {
		Base int64 `json:"base-memory"`
	}
	if err := c.execute(ctx, "query-memory-size-summary", nil, &mem); err != nil {
		return out, err
	}
	out.MemoryMB = int(mem.Base >> 20)
	out.MemoryUsedMB = int(residentKB(pid) >> 10)
	out.UptimeSeconds = processUptime(pid)

	var cpus []struct {
		Index  int `json:"cpu-index"`
		Thread int `json:"thread-id"`
	}
	if err := c.execute(ctx, "query-cpus-fast", nil, &cpus); err != nil {
		return out, err
	}
	for _, cpu := range cpus {
		out.CPUs = append(out.CPUs, virt.CPUStats{ID: cpu.Index,
			TimeNS: threadTicks(pid, cpu.Thread) * (1_000_000_000 / clockTicks)})
	}

	var blocks []struct {
		Device string `json:"device"`
		Stats  struct {
			ReadBytes      int64 `json:"rd_bytes"`
			WriteBytes     int64 `json:"wr_bytes"`
			ReadOps        int64 `json:"rd_operations"`
			WriteOps       int64 `json:"wr_operations"`
			FailedReadOps  int64 `json:"failed_rd_operations"`
			FailedWriteOps int64 `json:"failed_wr_operations"`
		} `json:"stats"`
	}
	if err := c.execute(ctx, "query-blockstats", nil, &blocks); err != nil {
		return out, err
	}
	for _, b := range blocks {
		name := guestDiskName(b.Device)
		if name == "" {
			continue
		}
		if strings.HasPrefix(name, "hd") {
			out.ConfigDrive = true
		}
		out.Disks = append(out.Disks, virt.DiskStats{Name: name, ReadBytes: b.Stats.ReadBytes,
			ReadRequests: b.Stats.ReadOps, WriteBytes: b.Stats.WriteBytes, WriteRequests: b.Stats.WriteOps,
			Errors: b.Stats.FailedReadOps + b.Stats.FailedWriteOps})
	}

	nics, err := guestNICs(ctx, c)
	if err != nil {
		return out, err
	}
	taps := bootTaps(args)
	counters := netDevCounters(pid)
	for _, n := range nics {
		tap := taps[n.Netdev]
		if tap == "" {
			tap = strings.TrimPrefix(n.Netdev, "net-") // hot-plugged: named by its tap
		}
		st := virt.NICStats{Name: tap, MAC: n.MAC}
		if c, ok := counters[tap]; ok {
			// The tap receives what the guest sends.
			st.TxOctets, st.TxPackets, st.TxErrors, st.TxDrop = c[0], c[1], c[2], c[3]
			st.RxOctets, st.RxPackets, st.RxErrors, st.RxDrop = c[8], c[9], c[10], c[11]
		}
		out.NICs = append(out.NICs, st)
	}
	return out, nil
}

// guestDiskName is the guest's name of the drive buildArgs made with id device
// ("" for none of ours).
func guestDiskName(device string) string {
	if n, ok := strings.CutPrefix(device, "drive-virtio-disk"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < 26 {
			return "vd" + string(rune('a'+i))
		}
	}
	if device == "drive-ide0-1-0" {
		return "hdc"
	}
	return ""
}

// bootTaps maps the netdev ids of the NICs on QEMU's command line to their taps.
func bootTaps(args []string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if args[i] != "-netdev" {
			continue
		}
		var id, tap string
		for _, kv := range strings.Split(args[i+1], ",") {
			if v, ok := strings.CutPrefix(kv, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(kv, "ifname="); ok {
				tap = v
			}
		}
		if id != "" {
			out[id] = tap
		}
	}
	return out
}

// netDevCounters are /proc/<pid>/net/dev's sixteen counters per interface of the
// process's network namespace.
func netDevCounters(pid int) map[string][16]int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return nil
	}
	return parseNetDev(string(data))
}

func parseNetDev(text string) map[string][16]int64 {
	out := map[string][16]int64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 16 {
			continue
		}
		var c [16]int64
		for i := range c {
			c[i], _ = strconv.ParseInt(fields[i], 10, 64)
		}
		out[strings.TrimSpace(name)] = c
	}
	return out
}

// threadTicks is the user and system time of thread tid of pid, in clock ticks.
func threadTicks(pid, tid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return 0
	}
	f := statFields(string(data))
	if len(f) < 15 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[13], 10, 64)
	stime, _ := strconv.ParseInt(f[14], 10, 64)
	return utime + stime
}

// statFields are /proc/.../stat's fields; the command name (field 2) may hold
// spaces, so the fields after it are counted from its closing parenthesis.
func statFields(stat string) []string {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 1 || end < open {
		return nil
	}
	return append([]string{strings.TrimSpace(stat[:open]), stat[open : end+1]}, strings.Fields(stat[end+1:])...)
}

// processUptime is how long pid has run, in seconds.
func processUptime(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := statFields(string(data))
	if len(f) < 22 {
		return 0
	}
	start, _ := strconv.ParseInt(f[21], 10, 64)
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(up), " ")
	boot, _ := strconv.ParseFloat(first, 64)
	return max(0, int64(boot)-start/clockTicks)
}

// residentKB is the memory pid holds (VmRSS).
func residentKB(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
