package dataplanetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lease runs the Debian DHCP client (dhclient) once on the instance's eth0 and
// returns what the server offered (dhclient's new_* variables, without the
// prefix); its script configures the address, so the instance can then ping.
// dir holds the client's files; ns is the instance's namespace.
func Lease(t *testing.T, dir, ns string) map[string]string {
	t.Helper()
	dir = filepath.Join(dir, "client-"+ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := func(offer string) string {
		return `#!/bin/sh
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
	env | grep '^new_' | sort > ` + offer + `.tmp && mv ` + offer + `.tmp ` + offer + `
	ip addr flush dev "$interface" scope global
	ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
	;;
esac
exit 0
`
	}
	conf := `option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name, interface-mtu, rfc3442-classless-static-routes;
timeout 20;
initial-interval 1;
backoff-cutoff 2;
`
	return runDHClient(t, dir, ns, script, conf, "-4")
}

// runDHClient writes the client's script (script(offer) must write the new_*
// variables into offer) and configuration into dir, runs dhclient once on eth0 in
// ns with flags, and returns what the server offered. dhclient goes to the
// background after the script ran; it is not needed, so it is killed.
func runDHClient(t *testing.T, dir, ns string, script func(offer string) string, conf string, flags ...string) map[string]string {
	t.Helper()
	out := filepath.Join(dir, "offer")
	for name, content := range map[string]string{"script": script(out), "conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.Remove(out)
	pidFile := filepath.Join(dir, "pid")
	t.Cleanup(func() {
		if pid := pidFromFile(pidFile); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	args := append([]string{"netns", "exec", ns, "dhclient", "-1"}, flags...)
	args = append(args, "-cf", filepath.Join(dir, "conf"), "-sf", filepath.Join(dir, "script"),
		"-lf", filepath.Join(dir, "leases"), "-pf", pidFile, "eth0")
	if o, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("no DHCP answer in %s (dhclient %v): %v\n%s", ns, flags, err, o)
	}
	if pid := pidFromFile(pidFile); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the client script did not run: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimPrefix(k, "new_")] = strings.Trim(v, "'")
		}
	}
	return m
}

func pidFromFile(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// ClasslessRoutes decodes a lease's rfc3442_classless_static_routes (dhclient
// prints option 121 as decimal bytes: prefix length, the significant octets of the
// destination, the router) into destination prefixes and next hops, so a test's
// instance can install what the server offered (the Lease script sets only the
// address).
func ClasslessRoutes(s string) ([][2]string, error) {
	var b []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("classless routes %q: %q is not a byte", s, f)
		}
		b = append(b, n)
	}
	var out [][2]string
	for len(b) > 0 {
		bits := b[0]
		octets := (bits + 7) / 8
		if bits > 32 || len(b) < 1+octets+4 {
			return nil, fmt.Errorf("classless routes %q: truncated", s)
		}
		dst := [4]int{}
		copy(dst[:], b[1:1+octets])
		hop := b[1+octets : 1+octets+4]
		out = append(out, [2]string{
			fmt.Sprintf("%d.%d.%d.%d/%d", dst[0], dst[1], dst[2], dst[3], bits),
			fmt.Sprintf("%d.%d.%d.%d", hop[0], hop[1], hop[2], hop[3]),
		})
		b = b[1+octets+4:]
	}
	return out, nil
}

// Lease6 runs dhclient -6 once on the instance's eth0 (stateless: -S, options
// only) and returns what the server answered (dhclient's new_* variables without
// the prefix, e.g. ip6_address, dhcp6_name_servers); its script adds the address.
// Duplicate address detection is turned off on eth0 first, so its link-local
// address (which DHCPv6 is spoken from) is usable at once.
func Lease6(t *testing.T, dir, ns string, stateless bool) map[string]string {
	t.Helper()
	dir = filepath.Join(dir, "client6-"+ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := func(offer string) string {
		return `#!/bin/sh
case "$reason" in
PREINIT6) ip link set dev "$interface" up ;;
BOUND6|RENEW6|REBIND6|REBOOT6|INFORM6)
	env | grep '^new_' | sort > ` + offer + `.tmp && mv ` + offer + `.tmp ` + offer + `
	if [ -n "$new_ip6_address" ]; then ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad; fi
	;;
esac
exit 0
`
	}
	for _, args := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if o, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v in %s: %v\n%s", args, ns, err, o)
		}
	}
	for i := 0; ; i++ {
		o, _ := exec.Command("ip", "netns", "exec", ns, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link").Output()
		if strings.Contains(string(o), "inet6") && !strings.Contains(string(o), "tentative") {
			break
		}
		if i == 50 {
			t.Fatalf("no link-local address on %s's eth0", ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
	flags := []string{"-6"}
	if stateless {
		flags = append(flags, "-S")
	}
	return runDHClient(t, dir, ns, script, "timeout 20;\ninitial-interval 1;\nbackoff-cutoff 2;\n", flags...)
}
