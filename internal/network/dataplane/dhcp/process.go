package dhcp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Processes is how the agent sees and signals processes; the real one reads /proc.
// Tests of pure logic replace it.
type Processes interface {
	// Cmdline is the argument vector of a live process (nil when there is none
	// or it is a zombie).
	Cmdline(pid int) []string
	// All lists the live processes' IDs.
	All() []int
	Signal(pid int, sig syscall.Signal) error
}

// procfs reads /proc.
type procfs struct{}

func (procfs) Cmdline(pid int) []string {
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil {
		return nil
	} else if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
		return nil // a zombie no one has reaped yet: dead
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func (procfs) All() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func (procfs) Signal(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }

// ours reports which network's dnsmasq cmdline is, by its pid file under root
// (DATA/dhcp): "" when it is no dnsmasq of ours.
func ours(cmdline []string, root string) string {
	if len(cmdline) == 0 || filepath.Base(cmdline[0]) != "dnsmasq" {
		return ""
	}
	for _, a := range cmdline[1:] {
		if pf, ok := strings.CutPrefix(a, "--pid-file="); ok {
			dir, file := filepath.Split(pf)
			dir = filepath.Clean(dir)
			if file == "pid" && filepath.Dir(dir) == root {
				return filepath.Base(dir)
			}
		}
	}
	return ""
}

// dnsmasqs lists our dnsmasq processes by network ID.
func (a *Agent) dnsmasqs() map[string][]int {
	out := map[string][]int{}
	for _, pid := range a.procs().All() {
		if net := ours(a.procs().Cmdline(pid), a.root()); net != "" {
			out[net] = append(out[net], pid)
		}
	}
	return out
}

// pidFromFile reads a pid file (0 when missing or unreadable).
func pidFromFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stop ends a process: SIGTERM, then SIGKILL if it is still there after a while.
func (a *Agent) stop(pid int) error {
	if err := a.procs().Signal(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	for range 50 {
		if a.procs().Cmdline(pid) == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.procs().Signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// sameArgs reports whether a running cmdline is the desired command line.
func sameArgs(cmdline, want []string) bool {
	return len(cmdline) > 0 && slices.Equal(cmdline[1:], want)
}
