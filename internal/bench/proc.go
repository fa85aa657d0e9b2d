package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcessUsage is what a process spent during a scenario, read from /proc (Linux).
type ProcessUsage struct {
	PIDs []int `json:"pids"`
	// CPU is user+system time spent during the scenario.
	CPU time.Duration `json:"cpu_ns"`
	// Cores is CPU divided by wall time: 2.0 means two cores kept busy.
	Cores float64 `json:"cores"`
	// CPUPerRequest is CPU divided by the requests of the scenario.
	CPUPerRequest time.Duration `json:"cpu_per_request_ns"`
	// RSS is the resident set size at the end of the scenario, in bytes, summed over
	// the processes.
	RSS int64 `json:"rss_bytes"`
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuTime reads the user+system CPU time of pid from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields after it
	// start past the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15), so index 11 and 12 here.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// RSS reads the resident set size of pid (VmRSS in /proc/PID/status), in bytes.
func RSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// usageMeter measures a server (one or more processes, e.g. uwsgi's workers) across
// a scenario; no pid or a missing /proc yields nil usage rather than an error, as the
// figures are extras.
type usageMeter struct {
	pids  []int
	start time.Duration
	ok    bool
}

func startUsage(pids ...int) usageMeter {
	m := usageMeter{ok: len(pids) > 0}
	for _, pid := range pids {
		t, err := cpuTime(pid)
		m.ok = m.ok && err == nil
		m.start += t
		m.pids = append(m.pids, pid)
	}
	return m
}

func (m usageMeter) stop(st *Stats) *ProcessUsage {
	if !m.ok {
		return nil
	}
	u := &ProcessUsage{PIDs: m.pids, CPU: -m.start}
	for _, pid := range m.pids {
		t, err := cpuTime(pid)
		if err != nil {
			return nil
		}
		u.CPU += t
		rss, _ := RSS(pid)
		u.RSS += rss
	}
	if st.Elapsed > 0 {
		u.Cores = u.CPU.Seconds() / st.Elapsed.Seconds()
	}
	if st.Requests > 0 {
		u.CPUPerRequest = u.CPU / time.Duration(st.Requests)
	}
	return u
}

// totalRSS sums the resident memory of pids (shared pages count once per process).
func totalRSS(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		rss, _ := RSS(pid)
		total += rss
	}
	return total
}

// machineBusy reads the CPU time all processes of the machine spent (everything in
// the first line of /proc/stat but idle and iowait).
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var busy int64
	for i, v := range f[1:] {
		if i >= 8 { // guest times are already counted in user time
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: unexpected format")
		}
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// machineMeter measures the CPU the whole machine spent across a scenario.
type machineMeter struct {
	start time.Duration
	ok    bool
}

func startMachine() machineMeter {
	t, err := machineBusy()
	return machineMeter{start: t, ok: err == nil}
}

// stop returns the cores the machine kept busy during st, or -1 when unknown.
func (m machineMeter) stop(st *Stats) float64 {
	end, err := machineBusy()
	if !m.ok || err != nil || st.Elapsed <= 0 {
		return -1
	}
	return (end - m.start).Seconds() / st.Elapsed.Seconds()
}
