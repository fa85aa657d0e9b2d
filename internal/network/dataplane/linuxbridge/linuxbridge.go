// Package linuxbridge is the L2 agent's data plane, as upstream's Linux-bridge
// agent builds it: a bridge brq<net[:11]> per network that has ports on this host,
// the network's uplink on it (the mapped physical interface for flat networks, a
// vxlan-<VNI> device with l2population's static FDB and ARP entries for VXLAN
// networks, none for local ones), and each port's tap<port[:11]> on its bridge with
// the network's MTU. Converge is level-triggered: it observes the host with one
// `ip -d -j link show`, changes only what differs, and removes the bridges and VXLAN
// devices of networks no longer wanted (recognised by their names, brq* and
// vxlan-*, so no other device of the host is ever touched).
package linuxbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// VXLANPort is the IANA VXLAN port, upstream's default udp_dstport.
const VXLANPort = 4789

// Agent converges the L2 of one host.
type Agent struct {
	Runner dataplane.Runner
	Log    *slog.Logger

	mu sync.Mutex
	// noVLAN records that the kernel could not make an 802.1q device: a property
	// of the kernel, so not tried again on every pass.
	noVLAN error
	// pending is the last Converge's Report.Pending.
	pending []string
}

// New returns an agent that runs its commands with r.
func New(r dataplane.Runner, log *slog.Logger) *Agent {
	return &Agent{Runner: r, Log: log}
}

// Name implements the network agent's Part.
func (a *Agent) Name() string { return "linuxbridge" }

// Report is what one Converge found and did.
type Report struct {
	// Wired are the ports whose tap is on its network's bridge and up: the API
	// may show them ACTIVE.
	Wired []string
	// Pending are the ports whose tap does not exist (yet): the compute agent (or
	// the DHCP and L3 agents) have not made it.
	Pending []string
	// Faults are the networks that could not be built here, by ID, with why. The
	// other networks are built regardless.
	Faults map[string]string
}

// Err joins the faults into one error (nil without any).
func (r Report) Err() error {
	ids := make([]string, 0, len(r.Faults))
	for id := range r.Faults {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		errs = append(errs, fmt.Errorf("network %s: %s", id, r.Faults[id]))
	}
	return errors.Join(errs...)
}

// Converge implements the network agent's Part: it returns the wired ports and,
// as the error, the networks' faults with any failure of the pass.
func (a *Agent) Converge(ctx context.Context, st dataplane.State) ([]string, error) {
	rep, err := a.Reconcile(ctx, st)
	a.mu.Lock()
	a.pending = rep.Pending
	a.mu.Unlock()
	return rep.Wired, errors.Join(err, rep.Err())
}

// Pending are the ports the last Converge found without their tap: the network
// agent wakes when one appears.
func (a *Agent) Pending() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending
}

// Reconcile makes the host's L2 match st. A network that cannot be built (a VLAN
// network on a kernel without 802.1q devices, a flat network without a mapped
// interface, a failing command) is a fault in the report, not an error: the error
// is only for what stops the whole pass (the host cannot be observed) or for
// removals that failed.
func (a *Agent) Reconcile(ctx context.Context, st dataplane.State) (Report, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rep := Report{Faults: map[string]string{}}
	ns := st.Host.Namespace
	have, err := dataplane.LinkDetails(ctx, a.Runner, ns)
	if err != nil {
		return rep, err
	}
	wantBridge := map[string]bool{}
	wantVXLAN := map[string]bool{}
	for _, n := range st.Networks {
		br := dataplane.BridgeName(n.ID)
		wantBridge[br] = true
		if n.Type == dataplane.TypeVXLAN && n.SegmentationID > 0 {
			wantVXLAN[dataplane.VXLANName(n.SegmentationID)] = true
		}
		wired, pending, err := a.network(ctx, st.Host, n, have)
		rep.Wired = append(rep.Wired, wired...)
		rep.Pending = append(rep.Pending, pending...)
		if err != nil {
			rep.Faults[n.ID] = err.Error()
			a.log().Warn("network not built", "network", n.ID, "type", n.Type, "host", st.Host.Name, "error", err)
		}
	}
	var errs []error
	for _, name := range sortedNames(have) {
		l := have[name]
		switch {
		case strings.HasPrefix(name, "brq") && l.LinkInfo.Kind == "bridge" && !wantBridge[name]:
			// VLAN devices we made for it go with it (the physical interface and
			// the taps are only released).
			for _, sl := range sortedNames(have) {
				if have[sl].Master == name && have[sl].LinkInfo.Kind == "vlan" {
					a.log().Info("removing VLAN device", "netns", ns, "dev", sl)
					if _, err := a.Runner.Run(ctx, ns, "ip", "link", "del", sl); err != nil {
						errs = append(errs, err)
					}
				}
			}
			a.log().Info("removing bridge", "netns", ns, "dev", name)
			if _, err := a.Runner.Run(ctx, ns, "ip", "link", "del", name); err != nil {
				errs = append(errs, err)
			}
		case strings.HasPrefix(name, "vxlan-") && l.LinkInfo.Kind == "vxlan" && !wantVXLAN[name]:
			a.log().Info("removing VXLAN device", "netns", ns, "dev", name)
			if _, err := a.Runner.Run(ctx, ns, "ip", "link", "del", name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	slices.Sort(rep.Wired)
	slices.Sort(rep.Pending)
	return rep, errors.Join(errs...)
}

// network converges one network's bridge, uplink and ports, and returns the ports
// wired and pending.
func (a *Agent) network(ctx context.Context, h dataplane.Host, n dataplane.Network, have map[string]dataplane.Link) (wired, pending []string, err error) {
	ns := h.Namespace
	br := dataplane.BridgeName(n.ID)
	// Check what the uplink needs before making anything, so that a network that
	// cannot work here leaves no half-built bridge behind.
	var uplink string
	switch n.Type {
	case dataplane.TypeLocal:
	case dataplane.TypeFlat, dataplane.TypeVLAN:
		iface, ok := h.PhysicalInterfaces[n.PhysicalNetwork]
		if !ok {
			return nil, nil, fmt.Errorf("physical network %q has no interface on this host (physical_interface_mappings)", n.PhysicalNetwork)
		}
		if _, ok := have[iface]; !ok {
			return nil, nil, fmt.Errorf("interface %s of physical network %q does not exist", iface, n.PhysicalNetwork)
		}
		uplink = iface
		if n.Type == dataplane.TypeVLAN {
			if uplink, err = a.vlanDevice(ctx, ns, iface, n.SegmentationID, have); err != nil {
				return nil, nil, err
			}
		}
	case dataplane.TypeVXLAN:
		if !h.VTEP.IsValid() {
			return nil, nil, errors.New("VXLAN network but this host has no VTEP address (local_ip)")
		}
		if n.SegmentationID <= 0 || n.SegmentationID >= 1<<24 {
			return nil, nil, fmt.Errorf("VXLAN network with VNI %d", n.SegmentationID)
		}
		uplink = dataplane.VXLANName(n.SegmentationID)
	default:
		return nil, nil, fmt.Errorf("network type %q is not supported by the Linux bridge agent", n.Type)
	}
	if err := ensureBridge(ctx, a.Runner, ns, br, n.MTU, have); err != nil {
		return nil, nil, err
	}
	if n.Type == dataplane.TypeVXLAN {
		if err := a.vxlan(ctx, h, n, have); err != nil {
			return nil, nil, err
		}
	}
	if uplink != "" {
		if err := a.enslave(ctx, ns, uplink, br, true, 0, have); err != nil {
			return nil, nil, err
		}
	}
	ports := map[string]bool{}
	for _, p := range n.Ports {
		tap := dataplane.TapName(p.ID)
		ports[tap] = true
		if _, ok := have[tap]; !ok {
			pending = append(pending, p.ID)
			continue
		}
		up := p.AdminStateUp && n.AdminStateUp
		if err := a.enslave(ctx, ns, tap, br, up, n.MTU, have); err != nil {
			return wired, pending, fmt.Errorf("port %s: %w", p.ID, err)
		}
		if up {
			wired = append(wired, p.ID)
		}
	}
	// A tap on this bridge whose port is gone (deleted while its instance still
	// runs) must carry no more traffic: release it.
	for _, name := range sortedNames(have) {
		if l := have[name]; l.Master == br && strings.HasPrefix(name, "tap") && !ports[name] {
			a.log().Info("releasing tap of a port no longer here", "netns", ns, "dev", name, "bridge", br)
			if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", name, "nomaster"); err != nil {
				return wired, pending, err
			}
		}
	}
	return wired, pending, nil
}

// EnsureBridge makes the network's bridge in namespace ns ("" is the host's own)
// unless it exists: the DHCP and L3 agents call it when they come before the L2
// agent. Same name, same settings, so whichever agent comes first, the others
// adopt it.
func EnsureBridge(ctx context.Context, r dataplane.Runner, ns, networkID string, mtu int) error {
	have, err := dataplane.LinkDetails(ctx, r, ns)
	if err != nil {
		return err
	}
	return ensureBridge(ctx, r, ns, dataplane.BridgeName(networkID), mtu, have)
}

// ensureBridge makes or fixes bridge br: up, the network's MTU, and no IPv6
// address of its own (addrgenmode none: the host must not take part in tenant
// networks, as upstream disables IPv6 on its bridges).
func ensureBridge(ctx context.Context, r dataplane.Runner, ns, br string, mtu int, have map[string]dataplane.Link) error {
	l, ok := have[br]
	if ok && l.LinkInfo.Kind != "bridge" {
		return fmt.Errorf("%s exists and is not a bridge (%s)", br, l.LinkInfo.Kind)
	}
	if !ok {
		if _, err := r.Run(ctx, ns, "ip", "link", "add", br, "type", "bridge"); err != nil {
			// Another agent may have made it meanwhile.
			now, lerr := dataplane.LinkDetails(ctx, r, ns)
			if lerr != nil || now[br].LinkInfo.Kind != "bridge" {
				return err
			}
			l = now[br]
		} else {
			l = dataplane.Link{Name: br, GenMode: "eui64"}
		}
	}
	if l.GenMode != "none" {
		if _, err := r.Run(ctx, ns, "ip", "link", "set", br, "addrgenmode", "none"); err != nil {
			return err
		}
	}
	if mtu > 0 && l.MTU != mtu {
		if _, err := r.Run(ctx, ns, "ip", "link", "set", br, "mtu", strconv.Itoa(mtu)); err != nil {
			return err
		}
	}
	if !l.Up() {
		if _, err := r.Run(ctx, ns, "ip", "link", "set", br, "up"); err != nil {
			return err
		}
	}
	l.MTU = mtu
	l.Flags = append(l.Flags, "UP")
	l.GenMode = "none"
	have[br] = l
	return nil
}

// enslave puts dev on bridge br, with mtu (0: leave it) and up or down.
func (a *Agent) enslave(ctx context.Context, ns, dev, br string, up bool, mtu int, have map[string]dataplane.Link) error {
	l := have[dev]
	if mtu > 0 && l.MTU != mtu {
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", dev, "mtu", strconv.Itoa(mtu)); err != nil {
			return err
		}
	}
	if l.Master != br {
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", dev, "master", br); err != nil {
			return err
		}
	}
	if up != l.Up() {
		state := "down"
		if up {
			state = "up"
		}
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", dev, state); err != nil {
			return err
		}
	}
	return nil
}

// vxlan converges the network's vxlan-<VNI> device: made (or made again when its
// VNI, local VTEP, port, learning or proxy differ), with the network's MTU, then
// its l2population entries. Enslaving it is the caller's.
func (a *Agent) vxlan(ctx context.Context, h dataplane.Host, n dataplane.Network, have map[string]dataplane.Link) error {
	ns := h.Namespace
	dev := dataplane.VXLANName(n.SegmentationID)
	l, ok := have[dev]
	want := dataplane.VXLANInfo{ID: n.SegmentationID, Local: h.VTEP.String(), Port: VXLANPort, Learning: false, Proxy: true}
	if ok && (l.LinkInfo.Kind != "vxlan" || l.LinkInfo.Data != want) {
		a.log().Info("replacing VXLAN device", "netns", ns, "dev", dev, "have", l.LinkInfo.Data, "want", want)
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "del", dev); err != nil {
			return err
		}
		ok = false
	}
	if !ok {
		// Without a multicast group: l2population's static entries say where
		// every frame goes (upstream's l2_population = True).
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "add", dev, "type", "vxlan", "id", strconv.Itoa(n.SegmentationID),
			"local", h.VTEP.String(), "dstport", strconv.Itoa(VXLANPort), "nolearning", "proxy"); err != nil {
			return err
		}
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", dev, "addrgenmode", "none"); err != nil {
			return err
		}
		l = dataplane.Link{Name: dev}
		l.LinkInfo.Kind = "vxlan"
		l.LinkInfo.Data = want
		have[dev] = l
	}
	if n.MTU > 0 && l.MTU != n.MTU {
		if _, err := a.Runner.Run(ctx, ns, "ip", "link", "set", dev, "mtu", strconv.Itoa(n.MTU)); err != nil {
			return err
		}
		l.MTU = n.MTU
		have[dev] = l
	}
	return a.l2pop(ctx, ns, dev, n, h.VTEP)
}

// vlanDevice returns the 802.1q device of VLAN vid on iface, making it if
// missing. Kernels without 802.1q support (CONFIG_VLAN_8021Q) answer "Unknown
// device type": the network is then a fault of this host, said plainly.
func (a *Agent) vlanDevice(ctx context.Context, ns, iface string, vid int, have map[string]dataplane.Link) (string, error) {
	if vid < 1 || vid > 4094 {
		return "", fmt.Errorf("VLAN network with VLAN ID %d", vid)
	}
	name := vlanName(iface, vid)
	if l, ok := have[name]; ok {
		if l.LinkInfo.Kind != "vlan" {
			return "", fmt.Errorf("%s exists and is not a VLAN device (%s)", name, l.LinkInfo.Kind)
		}
		return name, nil
	}
	if a.noVLAN != nil {
		return "", a.noVLAN
	}
	_, err := a.Runner.Run(ctx, ns, "ip", "link", "add", "link", iface, "name", name, "type", "vlan", "id", strconv.Itoa(vid))
	if err != nil {
		if strings.Contains(err.Error(), "Unknown device type") || strings.Contains(err.Error(), "not supported") {
			a.noVLAN = fmt.Errorf("this host's kernel cannot make 802.1q VLAN devices (no CONFIG_VLAN_8021Q): VLAN networks cannot be bound here (%w)", err)
			return "", a.noVLAN
		}
		return "", err
	}
	have[name] = dataplane.Link{Name: name}
	return name, nil
}

// vlanName is upstream's <interface>.<vid>, shortened to Linux's 15 characters by
// cutting the interface name.
func vlanName(iface string, vid int) string {
	suffix := "." + strconv.Itoa(vid)
	if len(iface)+len(suffix) > 15 {
		iface = iface[:15-len(suffix)]
	}
	return iface + suffix
}

func sortedNames(m map[string]dataplane.Link) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
