package qemu

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// NIC hot-plug, what libvirt's attachDevice/detachDevice do for an interface:
// netdev_add of the tap, then device_add of a virtio-net-pci on it; device_del,
// then netdev_del once the guest has let the device go. The guest's NICs are
// read back from QOM (/machine/peripheral, each virtio-net-pci's mac and netdev),
// so a NIC from the command line (ids net<i>/nic<i>) and a hot-plugged one
// (net-<tap>/nic-<tap>) look alike and the MAC is what identifies a port.

// detachTimeout is how long a guest may take to release an unplugged NIC
// (upstream libvirt's device_detach_timeout is 20 s, retried); device_del is
// repeated every detachRetry meanwhile, as a guest still booting may miss the
// first ACPI notification.
const (
	detachTimeout = 30 * time.Second
	detachRetry   = 3 * time.Second
)

// guestNIC is a virtio-net-pci device of a running guest.
type guestNIC struct {
	ID     string // device id (QOM name under /machine/peripheral)
	Netdev string // its backend's id
	MAC    string
}

// qomEntry is one child in a qom-list reply.
type qomEntry struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// guestNICs lists the virtio NICs of the guest on the open session c.
func guestNICs(ctx context.Context, c *qmpConn) ([]guestNIC, error) {
	var entries []qomEntry
	if err := c.execute(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"}, &entries); err != nil {
		return nil, err
	}
	var out []guestNIC
	for _, e := range entries {
		if e.Type != "child<virtio-net-pci>" {
			continue
		}
		path := "/machine/peripheral/" + e.Name
		n := guestNIC{ID: e.Name}
		// A device the guest lets go between the list and these reads (an
		// unplug completing) is not a NIC any more, not an error.
		if err := c.execute(ctx, "qom-get", map[string]any{"path": path, "property": "mac"}, &n.MAC); isNotFound(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		if err := c.execute(ctx, "qom-get", map[string]any{"path": path, "property": "netdev"}, &n.Netdev); isNotFound(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// hotplugIDs are the netdev and device ids of a NIC hot-plugged on tap: named
// by the tap, so a detach and a later attach of other ports never collide.
func hotplugIDs(tap string) (netdev, device string) { return "net-" + tap, "nic-" + tap }

// session opens a QMP session on the running guest of s.
func (d *Driver) session(ctx context.Context, s virt.Spec) (*qmpConn, error) {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return nil, err
	}
	if pid == 0 {
		return nil, ErrNotRunning
	}
	return dialQMP(ctx, filepath.Join(s.Dir, qmpSocket))
}

// Interfaces are the running guest's NICs.
func (d *Driver) Interfaces(ctx context.Context, s virt.Spec) ([]virt.NIC, error) {
	defer d.lock(s.UUID)()
	c, err := d.session(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("interfaces of %s: %w", s.UUID, err)
	}
	defer c.Close()
	nics, err := guestNICs(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("interfaces of %s: %w", s.UUID, err)
	}
	out := make([]virt.NIC, 0, len(nics))
	for _, n := range nics {
		out = append(out, virt.NIC{MAC: n.MAC, Tap: strings.TrimPrefix(n.Netdev, "net-")})
	}
	return out, nil
}

// AttachInterface hot-plugs nic into the running guest.
func (d *Driver) AttachInterface(ctx context.Context, s virt.Spec, nic virt.NIC) error {
	defer d.lock(s.UUID)()
	if err := d.attach(ctx, s, nic); err != nil {
		return fmt.Errorf("attach interface %s to %s: %w", nic.MAC, s.UUID, err)
	}
	return nil
}

func (d *Driver) attach(ctx context.Context, s virt.Spec, nic virt.NIC) error {
	if nic.Tap == "" || nic.MAC == "" || strings.Contains(nic.Tap+nic.MAC, ",") {
		return fmt.Errorf("nic %+v: needs a tap and a MAC without commas", nic)
	}
	c, err := d.session(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	nics, err := guestNICs(ctx, c)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if strings.EqualFold(n.MAC, nic.MAC) {
			return nil
		}
	}
	netdev, device := hotplugIDs(nic.Tap)
	err = c.execute(ctx, "netdev_add", map[string]any{"type": "tap", "id": netdev, "ifname": nic.Tap,
		"script": "no", "downscript": "no"}, nil)
	// A netdev left by an attach cut short before its device_add is reused.
	if err != nil && !isDuplicateID(err) {
		return err
	}
	args := map[string]any{"driver": "virtio-net-pci", "id": device, "netdev": netdev, "mac": nic.MAC}
	if nic.MTU > 0 {
		args["host_mtu"] = nic.MTU
	}
	if err := c.execute(ctx, "device_add", args, nil); err != nil {
		// Do not leave a backend without a device behind.
		_ = c.execute(ctx, "netdev_del", map[string]any{"id": netdev}, nil)
		return err
	}
	d.log.Info("interface hot-plugged", "uuid", s.UUID, "mac", nic.MAC, "tap", nic.Tap, "device", device)
	return nil
}

// isDuplicateID is QEMU's error for an id already taken.
func isDuplicateID(err error) bool {
	var qe *QMPError
	return errors.As(err, &qe) && strings.Contains(qe.Desc, "Duplicate")
}

// DetachInterface unplugs the guest's NIC with nic.MAC. The guest must release
// the device (ACPI hot-plug); until QOM no longer shows it, device_del is
// repeated, then its netdev is removed.
func (d *Driver) DetachInterface(ctx context.Context, s virt.Spec, nic virt.NIC) error {
	defer d.lock(s.UUID)()
	if err := d.detach(ctx, s, nic); err != nil {
		return fmt.Errorf("detach interface %s from %s: %w", nic.MAC, s.UUID, err)
	}
	return nil
}

func (d *Driver) detach(ctx context.Context, s virt.Spec, nic virt.NIC) error {
	c, err := d.session(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	nics, err := guestNICs(ctx, c)
	if err != nil {
		return err
	}
	var target *guestNIC
	for i := range nics {
		if strings.EqualFold(nics[i].MAC, nic.MAC) {
			target = &nics[i]
		}
	}
	if target == nil {
		return nil
	}
	deadline := time.Now().Add(detachTimeout)
	for gone := false; !gone; {
		// A device_del already under way answers with an error on some QEMU
		// versions; what counts is whether the device goes.
		if err := c.execute(ctx, "device_del", map[string]any{"id": target.ID}, nil); err != nil && !isNotFound(err) {
			d.log.Warn("device_del", "uuid", s.UUID, "device", target.ID, "error", err)
		}
		retry := time.Now().Add(detachRetry)
		for !gone && time.Now().Before(retry) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			now, err := guestNICs(ctx, c)
			if err != nil {
				return err
			}
			gone = true
			for _, n := range now {
				gone = gone && n.ID != target.ID
			}
		}
		if !gone && time.Now().After(deadline) {
			return fmt.Errorf("the guest did not release device %s within %s", target.ID, detachTimeout)
		}
	}
	if target.Netdev != "" {
		if err := c.execute(ctx, "netdev_del", map[string]any{"id": target.Netdev}, nil); err != nil && !isNotFound(err) {
			return err
		}
	}
	d.log.Info("interface hot-unplugged", "uuid", s.UUID, "mac", nic.MAC, "device", target.ID)
	return nil
}

// isNotFound is QEMU's DeviceNotFound class (also a netdev that is gone).
func isNotFound(err error) bool {
	var qe *QMPError
	return errors.As(err, &qe) && (qe.Class == "DeviceNotFound" || strings.Contains(qe.Desc, "not found"))
}
