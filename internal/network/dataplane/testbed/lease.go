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
// client's files; ns is the instance's namespace.
func Lease(ctx context.Context, dir, ns string) (map[string]string, error) {
	// The offer is written last, renamed into place: once it exists, the address is set.
	script := func(offer string) string {
		return `#!/bin/sh
case "$reason" in
PREINIT) ip link set dev "$interface" up ;;
BOUND|RENEW|REBIND|REBOOT)
	ip addr flush dev "$interface" scope global
	ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
	env | grep '^new_' | sort > ` + offer + `.tmp && mv ` + offer + `.tmp ` + offer + `
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
	return runDHClient(ctx, filepath.Join(dir, "client-"+ns), ns, script, conf, "-4")
}

// Lease6 runs dhclient -6 on the instance's eth0 (stateless: -S, options only)
// and returns what the server answered (dhclient's new_* variables without the
// prefix, e.g. ip6_address, dhcp6_name_servers); its script adds the address.
// Duplicate address detection is turned off on eth0 first, so its link-local
// address (which DHCPv6 is spoken from) is usable at once.
func Lease6(ctx context.Context, dir, ns string, stateless bool) (map[string]string, error) {
	script := func(offer string) string {
		return `#!/bin/sh
case "$reason" in
PREINIT6) ip link set dev "$interface" up ;;
BOUND6|RENEW6|REBIND6|REBOOT6|INFORM6)
	if [ -n "$new_ip6_address" ]; then ip -6 addr replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad; fi
	env | grep '^new_' | sort > ` + offer + `.tmp && mv ` + offer + `.tmp ` + offer + `
	;;
esac
exit 0
`
	}
	for _, args := range [][]string{
		{"sysctl", "-q", "-w", "net.ipv6.conf.eth0.accept_dad=0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if o, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%v in %s: %v\n%s", args, ns, err, o)
		}
	}
	for i := 0; ; i++ {
		o, _ := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ip", "-6", "addr", "show", "dev", "eth0", "scope", "link").Output()
		if strings.Contains(string(o), "inet6") && !strings.Contains(string(o), "tentative") {
			break
		}
		if i == 50 {
			return nil, fmt.Errorf("no link-local address on %s's eth0", ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
	flags := []string{"-6"}
	if stateless {
		flags = append(flags, "-S")
	}
	return runDHClient(ctx, filepath.Join(dir, "client6-"+ns), ns, script, "timeout 20;\ninitial-interval 1;\nbackoff-cutoff 2;\n", flags...)
}

// runDHClient writes the client's script (script(offer) must write the new_*
// variables into offer, last) and configuration into dir, runs dhclient on eth0
// in ns with flags until the offer is there, and returns it. The client is
// stopped before runDHClient returns: it runs in the foreground (-d) and is
// killed once its script has run, because a client that went to the background
// writes its pid file only after its parent has exited, too late to be found
// and stopped reliably.
func runDHClient(ctx context.Context, dir, ns string, script func(offer string) string, conf string, flags ...string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "offer")
	for name, content := range map[string]string{"script": script(out), "conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			return nil, err
		}
	}
	_ = os.Remove(out)
	args := append([]string{"netns", "exec", ns, "dhclient", "-d", "-1"}, flags...)
	args = append(args, "-cf", filepath.Join(dir, "conf"), "-sf", filepath.Join(dir, "script"),
		"-lf", filepath.Join(dir, "leases"), "-pf", filepath.Join(dir, "pid"), "eth0")
	var log bytes.Buffer
	cmd := exec.Command("ip", args...)
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
			return nil, fmt.Errorf("no DHCP answer in %s (dhclient %v): %v\n%s", ns, flags, err, log.String())
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
