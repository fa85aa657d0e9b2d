package agent

import (
	"context"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// syncInterfaces converges the NICs of an instance without a task to its ports
// (interface attach and detach, upstream's attach_interface/detach_interface):
// the taps of its ports exist; a running guest gets the missing NICs
// hot-plugged and the extra ones unplugged, found by comparing the guest's NICs
// with the ports (so an agent restarted mid-way finishes the job); the taps of
// detached ports go once no guest holds them. A guest that does not run gets
// nothing hot-plugged: its next start has the NICs of its ports. st is the
// guest's power state as this pass listed it.
func (a *Agent) syncInterfaces(ctx context.Context, inst compute.AgentInstance, st virt.PowerState) {
	spec := a.Spec(inst)
	log := a.opts.Log.With("host", a.opts.Host, "instance", inst.UUID)
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.Plug(ctx, spec); err != nil {
			log.Warn("plug taps", "error", err)
			return
		}
	}
	prune := st != virt.Running && st != virt.Paused // no QEMU holds a tap
	if st == virt.Running {
		have, err := a.opts.Driver.Interfaces(ctx, spec)
		if err != nil {
			log.Debug("guest interfaces", "error", err) // it stopped meanwhile: the next pass sees
			return
		}
		extra, missing := diffNICs(spec.NICs, have)
		prune = true
		for _, nic := range extra {
			if err := a.opts.Driver.DetachInterface(ctx, spec, nic); err != nil {
				log.Warn("detach interface", "mac", nic.MAC, "error", err)
				prune = false
			}
		}
		for _, nic := range missing {
			if err := a.opts.Driver.AttachInterface(ctx, spec, nic); err != nil {
				log.Warn("attach interface", "mac", nic.MAC, "error", err)
			}
		}
	}
	if prune && a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.Prune(ctx, spec); err != nil {
			log.Warn("remove taps of detached ports", "error", err)
		}
	}
}

// diffNICs compares the NICs an instance should have (want) with those its guest
// has: extra are the guest's NICs no port has any more, missing the ports the
// guest lacks. MACs identify them (a port keeps its MAC; case may differ).
func diffNICs(want, have []virt.NIC) (extra, missing []virt.NIC) {
	key := func(n virt.NIC) string { return strings.ToLower(n.MAC) }
	wanted, had := map[string]bool{}, map[string]bool{}
	for _, n := range want {
		wanted[key(n)] = true
	}
	for _, n := range have {
		had[key(n)] = true
		if !wanted[key(n)] {
			extra = append(extra, n)
		}
	}
	for _, n := range want {
		if n.MAC != "" && !had[key(n)] {
			missing = append(missing, n)
		}
	}
	return extra, missing
}
