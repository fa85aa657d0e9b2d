package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Lease runs the Debian DHCP client (dhclient) on the instance's eth0 until it
// holds a lease, and returns what the server offered (dhclient's new_* variables,
// without the prefix); its script has configured the address by then, so the
// instance can ping. It gives up after 20 s or when ctx ends. dir holds the
// client's files; ns is the instance's namespace. The client is stopped before
// Lease returns: it runs in the foreground (-d) and is killed once its script has
// run, because a client that went to the background writes its pid file only
// after its parent has exited, too late to be found and stopped reliably.
func Lease(ctx context.Context, dir, ns string) (map[string]string, error) {
	dir = filepath.Join(dir, "client-"+ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "offer")
	// The offer is written last, renamed into place: once it exists, the address is set.
	script := `#!/bin/sh
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
	ip addr flush dev "$interface" scope global
	ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
	env | grep '^new_' | sort > ` + out + `.tmp && mv ` + out + `.tmp ` + out + `
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
			return nil, err
		}
	}
	_ = os.Remove(out)
	var log bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns, "dhclient", "-d", "-1", "-4", "-cf", filepath.Join(dir, "conf"),
		"-sf", filepath.Join(dir, "script"), "-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid"), "eth0")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// ip netns exec execs dhclient: the process is the client itself.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	// Polled often: a bench times the lease with it.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case err := <-exited:
			if _, statErr := os.Stat(out); statErr == nil {
				return readOffer(out)
			}
			return nil, fmt.Errorf("no lease in %s: %v\n%s", ns, err, log.String())
		case <-tick.C:
			if _, err := os.Stat(out); err == nil {
				stop()
				return readOffer(out)
			}
		}
	}
}

// readOffer parses the new_* variables the client script saved.
func readOffer(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the client script did not run: %w", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimPrefix(k, "new_")] = strings.Trim(v, "'")
		}
	}
	return m, nil
}
