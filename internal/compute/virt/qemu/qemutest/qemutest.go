// Package qemutest builds what a guest under the QEMU driver needs around it
// without a cloud: a network namespace with a bridge, the guest's tap and dnsmasq
// leasing it a fixed address, and a config drive. The driver's tests and
// `nimbus bench compute --qemu` (the raw-QEMU floor) share it, so both boot the
// test guest on the same wiring.
package qemutest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The guest's network inside the namespace.
const (
	Gateway = "10.201.0.1"
	GuestIP = "10.201.0.23"
	MAC     = "52:54:00:c0:ff:01"
	Tap     = "tap0"
)

// Namespace is a network namespace with a bridge br0 (Gateway/24), the tap Tap on
// it and dnsmasq leasing MAC the address GuestIP: nothing the guest sends leaves
// the namespace.
type Namespace struct {
	Name    string
	dnsmasq *exec.Cmd
}

// NewNamespace makes the namespace name, with dnsmasq's lease and log files in dir.
// A namespace of that name left by an earlier process is replaced. On failure
// whatever it made is removed again.
func NewNamespace(name, dir string) (*Namespace, error) {
	n := &Namespace{Name: name}
	if exec.Command("ip", "netns", "pids", name).Run() == nil {
		_ = exec.Command("ip", "netns", "delete", name).Run() // a leftover of a killed run
	}
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "br0", "type", "bridge"},
		{"addr", "add", Gateway + "/24", "dev", "br0"},
		{"link", "set", "br0", "up"},
		{"tuntap", "add", Tap, "mode", "tap"},
		{"link", "set", Tap, "master", "br0", "up"},
	} {
		if err := run("ip", append([]string{"-n", name}, args...)...); err != nil {
			return nil, errors.Join(err, n.Close())
		}
	}
	// ip netns exec execs dnsmasq in its own process: the PID is dnsmasq's.
	n.dnsmasq = exec.Command("ip", "netns", "exec", name, "dnsmasq", "--keep-in-foreground",
		"--conf-file=/dev/null", "--port=0", "--interface=br0", "--bind-interfaces", "--pid-file=",
		"--dhcp-range=10.201.0.0,static,255.255.255.0,1h", "--dhcp-host="+MAC+","+GuestIP,
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--log-facility="+filepath.Join(dir, "dnsmasq.log"))
	if err := n.dnsmasq.Start(); err != nil {
		n.dnsmasq = nil
		return nil, errors.Join(fmt.Errorf("start dnsmasq in %s: %w", name, err), n.Close())
	}
	return n, nil
}

// DnsmasqPID is the pid of the namespace's dnsmasq (0 when stopped), the one
// process a test expects in the namespace when no guest runs.
func (n *Namespace) DnsmasqPID() int {
	if n.dnsmasq == nil || n.dnsmasq.Process == nil {
		return 0
	}
	return n.dnsmasq.Process.Pid
}

// Close stops dnsmasq (by its PID) and deletes the tap and the namespace.
func (n *Namespace) Close() error {
	if n.dnsmasq != nil {
		_ = n.dnsmasq.Process.Kill()
		_ = n.dnsmasq.Wait()
		n.dnsmasq = nil
	}
	_ = exec.Command("ip", "-n", n.Name, "link", "delete", Tap).Run()
	if out, err := exec.Command("ip", "netns", "delete", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ConfigDrive makes dir/config-drive.iso, an ISO 9660 config drive labelled
// config-2 (as Nova's default config_drive_format) whose meta_data.json gives the
// guest uuid and hostname.
func ConfigDrive(dir, uuid, hostname string) (string, error) {
	src := filepath.Join(dir, "config-drive")
	latest := filepath.Join(src, "openstack", "latest")
	if err := os.MkdirAll(latest, 0o755); err != nil {
		return "", fmt.Errorf("config drive: %w", err)
	}
	meta, err := json.Marshal(map[string]any{"uuid": uuid, "hostname": hostname})
	if err != nil {
		return "", fmt.Errorf("config drive: %w", err)
	}
	if err := os.WriteFile(filepath.Join(latest, "meta_data.json"), meta, 0o644); err != nil {
		return "", fmt.Errorf("config drive: %w", err)
	}
	iso := filepath.Join(dir, "config-drive.iso")
	if err := run("genisoimage", "-quiet", "-o", iso, "-V", "config-2", "-r", "-J", src); err != nil {
		return "", fmt.Errorf("config drive: %w", err)
	}
	return iso, nil
}

// Overlay makes path, a qcow2 overlay on backing of backingFormat (qcow2, raw): a
// fresh guest disk whose writes never reach the cached image.
func Overlay(backing, backingFormat, path string) error {
	return run("qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", backingFormat, path)
}

// Raw converts the qcow2 image src to the raw file dst, as the compute agent's
// image cache does: a guest on it reads its disk as a cloud's guest does (the
// test image's qcow2 is compressed, and decompressing it costs boot time).
func Raw(src, dst string) error {
	return run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", src, dst)
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
