package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// CloudAgents names what the agents of one all-in-one cloud make outside its host
// namespace, which a bed's Close does not remove: a cloud keeps its data plane
// when it stops (its agents adopt it at the next start), so whoever ran a
// throw-away cloud on a bed removes it.
type CloudAgents struct {
	// DHCPDir is the DHCP agent's directory (<run dir>/dhcp, see cloud.RunDir): one
	// subdirectory per network it serves, named in its dnsmasqs' command lines.
	DHCPDir string
	// Host is network.host: the L3 agent marks its router tables owner=<host>@….
	Host string
}

// Namespaces are the cloud's qdhcp- and qrouter- namespaces.
func (c CloudAgents) Namespaces() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var mine []string
	for _, line := range strings.Split(string(out), "\n") {
		ns, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case strings.HasPrefix(ns, "qdhcp-"):
			if _, err := os.Stat(filepath.Join(c.DHCPDir, strings.TrimPrefix(ns, "qdhcp-"))); err == nil {
				mine = append(mine, ns)
			}
		case strings.HasPrefix(ns, "qrouter-"):
			table, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "nimbus-l3").Output()
			if strings.Contains(string(table), "owner="+c.Host+"@") {
				mine = append(mine, ns)
			}
		}
	}
	return mine
}

// DNSMasqs are the PIDs of the live dnsmasq processes serving the cloud.
func (c CloudAgents) DNSMasqs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(string(cmdline), c.DHCPDir+"/") && !strings.Contains(string(stat), ") Z ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Remove kills the cloud's dnsmasqs, deletes its namespaces and the DHCP
// directory with its parent (the cloud's run dir). Call it once the cloud has stopped,
// or its agents make them again.
func (c CloudAgents) Remove() {
	if c.DHCPDir == "" {
		return
	}
	for _, pid := range c.DNSMasqs() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, ns := range c.Namespaces() {
		RemoveNetns(ns)
	}
	if filepath.Base(c.DHCPDir) == "dhcp" {
		_ = os.RemoveAll(filepath.Dir(c.DHCPDir))
	} else {
		_ = os.RemoveAll(c.DHCPDir)
	}
}
