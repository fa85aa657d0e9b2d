package metadata

import (
	"context"
	"fmt"

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
