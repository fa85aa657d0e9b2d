package metadata

import (
	"context"
	"fmt"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// ensureAddress makes sure lo of ns is up and holds 169.254.169.254/32, which the
// listener binds to. It observes first, so a converged namespace costs one read.
func ensureAddress(ctx context.Context, r dataplane.Runner, ns string) error {
	links, err := dataplane.Links(ctx, r, ns)
	if err != nil {
		return err
	}
	lo, ok := links["lo"]
	if !ok {
		return fmt.Errorf("network namespace %s has no lo", ns)
	}
	if !lo.Up() {
		if _, err := r.Run(ctx, ns, "ip", "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for _, a := range lo.AddrInfo {
		// Any scope: whoever added it, the address is there to bind to.
		if a.Family == "inet" && a.Local == Address && a.PrefixLen == 32 {
			return nil
		}
	}
	_, err = r.Run(ctx, ns, "ip", "addr", "add", Address+"/32", "dev", "lo")
	return err
}

// hasDHCPAddress checks that the DHCP part has put 169.254.169.254/32 on an ns-
// device of ns, where the listener binds: it is the DHCP port's device, so this
// part only looks.
func hasDHCPAddress(ctx context.Context, r dataplane.Runner, ns string) error {
	links, err := dataplane.Links(ctx, r, ns)
	if err != nil {
		return err
	}
	for name, l := range links {
		if !strings.HasPrefix(name, "ns-") {
			continue
		}
		for _, a := range l.AddrInfo {
			if a.Family == "inet" && a.Local == Address && a.PrefixLen == 32 {
				return nil
			}
		}
	}
	return fmt.Errorf("network namespace %s has no %s/32 on its DHCP device (yet)", ns, Address)
}
