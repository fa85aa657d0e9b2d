package dataplanetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
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
	out := filepath.Join(dir, "offer")
	script := `#!/bin/sh
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
	env | grep '^new_' | sort > ` + out + `.tmp && mv ` + out + `.tmp ` + out + `
	ip addr flush dev "$interface" scope global
	ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
	;;
esac
exit 0
`
	conf := `option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name, interface-mtu, rfc3442-classless-static-routes;
timeout 20;
initial-interval 1;
backoff-cutoff 2;
`
	for name, content := range map[string]string{"script": script, "conf": conf} {
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
	if o, err := exec.Command("ip", "netns", "exec", ns, "dhclient", "-1", "-4", "-cf", filepath.Join(dir, "conf"), "-sf", filepath.Join(dir, "script"),
		"-lf", filepath.Join(dir, "leases"), "-pf", pidFile, "eth0").CombinedOutput(); err != nil {
		t.Fatalf("no lease in %s: %v\n%s", ns, err, o)
	}
	// dhclient went to the background after the script ran; it is not needed.
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
