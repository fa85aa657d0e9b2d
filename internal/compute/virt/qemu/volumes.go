package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Volume hot-plug, what upstream's libvirt driver has libvirt do for a volume
// with network connection_info: a raw format node over an nbd protocol node
// (blockdev-add), then a virtio-blk-pci device on it with the volume id as
// its serial (device_add); the reverse is device_del, waiting until the guest
// has let the device go, then blockdev-del. The same nodes and device are on
// the command line of a guest that starts with the volume, so a detach finds
// them whichever way they came. The device's id names the volume, which is how
// Volumes reads the guest's disks back from QOM after an agent restart.

// nbdReconnectDelay is how long the NBD client holds the guest's requests while
// it reconnects to an export that went away (a restarted volume service or
// qemu-storage-daemon): within it the guest sees no I/O error.
const nbdReconnectDelay = 60

// volumeDevicePrefix starts the id of every volume's virtio-blk device.
const volumeDevicePrefix = "vol-"

// volumeIDs are the QEMU ids of a volume's device, its format node, the
// protocol nodes (two, used in turn: an extend opens a new connection beside
// the old) and its TLS credentials object. Node names are at most 31
// characters, so they take a prefix of the volume id (24 hex digits of a UUID
// are as unique as the agent needs among one guest's disks).
type volumeIDs struct {
	device, format, tls string
	protocol            [2]string
}

func volumeIDsOf(volumeID string) volumeIDs {
	key := strings.ReplaceAll(volumeID, "-", "")
	if len(key) > 24 {
		key = key[:24]
	}
	return volumeIDs{device: volumeDevicePrefix + volumeID, format: "vf" + key, tls: "vt" + key,
		protocol: [2]string{"vp" + key, "vq" + key}}
}

// pskDir is the directory of the volume's keys.psk in the instance's Dir.
func pskDir(s virt.Spec, v virt.VolumeDisk) string {
	return filepath.Join(s.Dir, "volume-"+volumeIDsOf(v.VolumeID).tls)
}

// validateVolume rejects a volume QEMU would misread or could not name.
func validateVolume(v virt.VolumeDisk) error {
	if v.VolumeID == "" || v.Host == "" || v.Port <= 0 || v.Port > 65535 {
		return fmt.Errorf("volume %q: needs an id, a host and a port", v.VolumeID)
	}
	switch v.Protocol {
	case "":
	case virt.VolumeISCSI:
		return validateISCSI(v)
	default:
		return fmt.Errorf("volume %q: protocol %q", v.VolumeID, v.Protocol)
	}
	for _, f := range []string{v.VolumeID, v.TLSPSKIdentity} {
		if strings.ContainsAny(f, ",:/\n") {
			return fmt.Errorf("volume %q: %q holds a character QEMU's options or key file cannot take", v.VolumeID, f)
		}
	}
	if v.TLSPSKKey != "" && strings.Trim(v.TLSPSKKey, "0123456789abcdefABCDEF") != "" {
		return fmt.Errorf("volume %q: the TLS key is not hex", v.VolumeID)
	}
	if v.TLSPSKKey != "" && v.TLSPSKIdentity == "" {
		return fmt.Errorf("volume %q: a TLS key without an identity", v.VolumeID)
	}
	return nil
}

// writePSK writes the volume's pre-shared key where QEMU's tls-creds-psk
// reads it: keys.psk ("identity:hexkey"), readable by the agent only.
func writePSK(s virt.Spec, v virt.VolumeDisk) (string, error) {
	dir := pskDir(s, v)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "keys.psk")
	if err := os.WriteFile(file, []byte(v.TLSPSKIdentity+":"+v.TLSPSKKey+"\n"), 0o600); err != nil {
		return "", err
	}
	return dir, os.Chmod(file, 0o600)
}

// tlsObject is the tls-creds-psk object's properties for the volume.
func tlsObject(v virt.VolumeDisk, dir string) map[string]any {
	return map[string]any{"qom-type": "tls-creds-psk", "id": volumeIDsOf(v.VolumeID).tls, "endpoint": "client",
		"dir": dir, "username": v.TLSPSKIdentity}
}

// protocolNode is the nbd (or iscsi) node's blockdev-add arguments.
func protocolNode(v virt.VolumeDisk, name string) map[string]any {
	if v.Protocol == virt.VolumeISCSI {
		return iscsiNode(v, name)
	}
	n := map[string]any{"driver": "nbd", "node-name": name, "export": v.Export, "reconnect-delay": nbdReconnectDelay,
		"server": map[string]any{"type": "inet", "host": v.Host, "port": strconv.Itoa(v.Port)}, "read-only": v.ReadOnly}
	if v.TLSPSKKey != "" {
		n["tls-creds"] = volumeIDsOf(v.VolumeID).tls
	}
	return n
}

// formatNode is the raw node over the protocol node, the one the device uses.
func formatNode(v virt.VolumeDisk) map[string]any {
	ids := volumeIDsOf(v.VolumeID)
	return map[string]any{"driver": "raw", "node-name": ids.format, "read-only": v.ReadOnly,
		"file": protocolNode(v, ids.protocol[0])}
}

// volumeDevice is the virtio-blk-pci device's properties; bootindex for a
// boot volume.
func volumeDevice(v virt.VolumeDisk, bootIndex int) map[string]any {
	ids := volumeIDsOf(v.VolumeID)
	d := map[string]any{"driver": "virtio-blk-pci", "id": ids.device, "drive": ids.format, "serial": v.VolumeID}
	if bootIndex > 0 {
		d["bootindex"] = bootIndex
	}
	return d
}

// volumeArgs are the command-line options of the guest's volumes (of s's),
// in JSON syntax, which takes any character in a value (writeVolumeKeys
// writes the keys they name).
func volumeArgs(s virt.Spec, volumes []virt.VolumeDisk) []string {
	var args []string
	for _, v := range volumes {
		if v.Protocol == virt.VolumeISCSI && v.Password != "" {
			obj, _ := json.Marshal(chapSecretObject(v, chapSecretPath(s, v)))
			args = append(args, "-object", string(obj))
		} else if v.TLSPSKKey != "" {
			obj, _ := json.Marshal(tlsObject(v, pskDir(s, v)))
			args = append(args, "-object", string(obj))
		}
		node, _ := json.Marshal(formatNode(v))
		boot := 0
		if v.Boot && s.RootDisk == "" && s.RescueDisk == "" {
			boot = 1
		}
		dev, _ := json.Marshal(volumeDevice(v, boot))
		args = append(args, "-blockdev", string(node), "-device", string(dev))
	}
	return args
}

// writeVolumeKeys writes the keys of the guest's TLS-protected volumes, for a
// QEMU that starts with them.
func writeVolumeKeys(s virt.Spec) error {
	for _, v := range s.Volumes {
		if v.Protocol == virt.VolumeISCSI && v.Password != "" {
			if _, err := writeCHAPSecret(s, v); err != nil {
				return err
			}
		} else if v.TLSPSKKey != "" {
			if _, err := writePSK(s, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// guestVolumes are the volume devices of the guest on the open session c, by
// volume id.
func guestVolumes(ctx context.Context, c *qmpConn) ([]string, error) {
	var entries []qomEntry
	if err := c.execute(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"}, &entries); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type == "child<virtio-blk-pci>" && strings.HasPrefix(e.Name, volumeDevicePrefix) {
			out = append(out, strings.TrimPrefix(e.Name, volumeDevicePrefix))
		}
	}
	return out, nil
}

// Volumes are the running guest's volume disks.
func (d *Driver) Volumes(ctx context.Context, s virt.Spec) ([]virt.VolumeDisk, error) {
	defer d.lock(s.UUID)()
	c, err := d.session(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("volumes of %s: %w", s.UUID, err)
	}
	defer c.Close()
	ids, err := guestVolumes(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("volumes of %s: %w", s.UUID, err)
	}
	out := make([]virt.VolumeDisk, 0, len(ids))
	for _, id := range ids {
		out = append(out, virt.VolumeDisk{VolumeID: id})
	}
	return out, nil
}

// AttachVolume hot-plugs the volume into the running guest.
func (d *Driver) AttachVolume(ctx context.Context, s virt.Spec, v virt.VolumeDisk) error {
	defer d.lock(s.UUID)()
	if err := d.attachVolume(ctx, s, v); err != nil {
		return fmt.Errorf("attach volume %s to %s: %w", v.VolumeID, s.UUID, err)
	}
	return nil
}

func (d *Driver) attachVolume(ctx context.Context, s virt.Spec, v virt.VolumeDisk) error {
	if err := validateVolume(v); err != nil {
		return err
	}
	c, err := d.session(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	have, err := guestVolumes(ctx, c)
	if err != nil {
		return err
	}
	for _, id := range have {
		if id == v.VolumeID {
			return nil
		}
	}
	ids := volumeIDsOf(v.VolumeID)
	// What an attach cut short left (credentials, nodes without a device) is
	// reused: each step takes an id that is already there as done.
	if v.Protocol == virt.VolumeISCSI && v.Password != "" {
		path, err := writeCHAPSecret(s, v)
		if err != nil {
			return err
		}
		if err := c.execute(ctx, "object-add", chapSecretObject(v, path), nil); err != nil && !isDuplicateID(err) && !isAlreadyExists(err) {
			return err
		}
	} else if v.TLSPSKKey != "" {
		dir, err := writePSK(s, v)
		if err != nil {
			return err
		}
		if err := c.execute(ctx, "object-add", tlsObject(v, dir), nil); err != nil && !isDuplicateID(err) && !isAlreadyExists(err) {
			return err
		}
	}
	if err := c.execute(ctx, "blockdev-add", formatNode(v), nil); err != nil && !isDuplicateID(err) && !isAlreadyExists(err) {
		d.releaseVolume(ctx, c, s, v.VolumeID)
		return err
	}
	if err := c.execute(ctx, "device_add", volumeDevice(v, 0), nil); err != nil {
		// Do not leave a connection without a device behind.
		d.releaseVolume(ctx, c, s, v.VolumeID)
		return err
	}
	d.log.Info("volume hot-plugged", "uuid", s.UUID, "volume", v.VolumeID, "device", ids.device,
		"export", exportURL(v))
	return nil
}

// isAlreadyExists is QEMU's error for a node name or object id in use.
func isAlreadyExists(err error) bool {
	var qe *QMPError
	return errors.As(err, &qe) && (strings.Contains(qe.Desc, "already exists") || strings.Contains(qe.Desc, "already used"))
}

// releaseVolume removes the volume's nodes and credentials (not its device);
// what is not there is skipped. It fails when the format node stays in use:
// the device that was just unplugged lets go of it a moment after QOM no
// longer shows it, and until then the node's connection is open (an
// export removed under it would leave QEMU reconnecting to nothing).
func (d *Driver) releaseVolume(ctx context.Context, c *qmpConn, s virt.Spec, volumeID string) error {
	ids := volumeIDsOf(volumeID)
	var inUse error
	for i, node := range []string{ids.format, ids.protocol[0], ids.protocol[1]} {
		err := c.execute(ctx, "blockdev-del", map[string]any{"node-name": node}, nil)
		for try := 0; i == 0 && isInUse(err) && try < 100; try++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			err = c.execute(ctx, "blockdev-del", map[string]any{"node-name": node}, nil)
		}
		if err != nil && !isNotFound(err) && !isNoNode(err) {
			d.log.Warn("blockdev-del", "uuid", s.UUID, "node", node, "error", err)
			if i == 0 && isInUse(err) {
				inUse = err
			}
		}
	}
	if inUse != nil {
		return inUse
	}
	if err := c.execute(ctx, "object-del", map[string]any{"id": ids.tls}, nil); err != nil && !isNotFound(err) && !isNoNode(err) {
		d.log.Warn("object-del", "uuid", s.UUID, "object", ids.tls, "error", err)
	}
	_ = os.RemoveAll(pskDir(s, virt.VolumeDisk{VolumeID: volumeID}))
	return nil
}

// isInUse is QEMU's answer to deleting a node something still uses.
func isInUse(err error) bool {
	var qe *QMPError
	return errors.As(err, &qe) && strings.Contains(qe.Desc, "is in use")
}

// isNoNode is QEMU's answer for a node name or object it does not have.
func isNoNode(err error) bool {
	var qe *QMPError
	return errors.As(err, &qe) && (strings.Contains(qe.Desc, "Failed to find node") ||
		strings.Contains(qe.Desc, "Cannot find device") || strings.Contains(qe.Desc, "not found"))
}

// DetachVolume unplugs the volume's disk; once QOM no longer shows the device
// (the guest released it: DEVICE_DELETED), its nodes go, closing the NBD
// connection, so the volume service may then remove the export.
func (d *Driver) DetachVolume(ctx context.Context, s virt.Spec, volumeID string) error {
	defer d.lock(s.UUID)()
	if err := d.detachVolume(ctx, s, volumeID); err != nil {
		return fmt.Errorf("detach volume %s from %s: %w", volumeID, s.UUID, err)
	}
	return nil
}

func (d *Driver) detachVolume(ctx context.Context, s virt.Spec, volumeID string) error {
	c, err := d.session(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	device := volumeIDsOf(volumeID).device
	present := func() (bool, error) {
		ids, err := guestVolumes(ctx, c)
		if err != nil {
			return false, err
		}
		for _, id := range ids {
			if id == volumeID {
				return true, nil
			}
		}
		return false, nil
	}
	there, err := present()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(detachTimeout)
	for there {
		if err := c.execute(ctx, "device_del", map[string]any{"id": device}, nil); err != nil && !isNotFound(err) {
			d.log.Warn("device_del", "uuid", s.UUID, "device", device, "error", err)
		}
		retry := time.Now().Add(detachRetry)
		for there && time.Now().Before(retry) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if there, err = present(); err != nil {
				return err
			}
		}
		if there && time.Now().After(deadline) {
			return fmt.Errorf("the guest did not release device %s within %s", device, detachTimeout)
		}
	}
	if err := d.releaseVolume(ctx, c, s, volumeID); err != nil {
		return err
	}
	d.log.Info("volume hot-unplugged", "uuid", s.UUID, "volume", volumeID)
	return nil
}

// namedNode is one entry of query-named-block-nodes.
type namedNode struct {
	NodeName string `json:"node-name"`
	Drv      string `json:"drv"`
	Image    struct {
		VirtualSize int64 `json:"virtual-size"`
	} `json:"image"`
}

// ExtendVolume makes the guest see the volume's new size. An NBD client learns
// an export's size when it connects, so a grown volume needs a new connection:
// a second protocol node is opened beside the first, the format node is
// reopened onto it, the old one is closed, and block_resize of the format node
// to the new size tells the guest (virtio-blk's config change), what upstream's
// libvirt driver does with virDomainBlockResize after os-brick's rescan.
func (d *Driver) ExtendVolume(ctx context.Context, s virt.Spec, volumeID string, sizeBytes int64) error {
	defer d.lock(s.UUID)()
	if err := d.extendVolume(ctx, s, volumeID, sizeBytes); err != nil {
		return fmt.Errorf("extend volume %s of %s: %w", volumeID, s.UUID, err)
	}
	return nil
}

func (d *Driver) extendVolume(ctx context.Context, s virt.Spec, volumeID string, sizeBytes int64) error {
	var v *virt.VolumeDisk
	for i := range s.Volumes {
		if s.Volumes[i].VolumeID == volumeID {
			v = &s.Volumes[i]
		}
	}
	if v == nil {
		return errors.New("the instance has no such volume")
	}
	c, err := d.session(ctx, s)
	if err != nil {
		return err
	}
	defer c.Close()
	var nodes []namedNode
	if err := c.execute(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
		return err
	}
	ids := volumeIDsOf(volumeID)
	sizes := map[string]int64{}
	for _, n := range nodes {
		sizes[n.NodeName] = n.Image.VirtualSize
	}
	if sizes[ids.format] >= sizeBytes {
		return nil // seen already
	}
	old, fresh := ids.protocol[0], ids.protocol[1]
	if _, ok := sizes[old]; !ok {
		old, fresh = fresh, old
	}
	// A fresh node left by an extend cut short is opened again, so that it
	// sees the size the export has now.
	if _, ok := sizes[fresh]; ok {
		if err := c.execute(ctx, "blockdev-del", map[string]any{"node-name": fresh}, nil); err != nil {
			return err
		}
	}
	if err := c.execute(ctx, "blockdev-add", protocolNode(*v, fresh), nil); err != nil {
		return err
	}
	format := formatNode(*v)
	format["file"] = fresh
	if err := c.execute(ctx, "blockdev-reopen", map[string]any{"options": []any{format}}, nil); err != nil {
		_ = c.execute(ctx, "blockdev-del", map[string]any{"node-name": fresh}, nil)
		return err
	}
	if err := c.execute(ctx, "blockdev-del", map[string]any{"node-name": old}, nil); err != nil && !isNoNode(err) {
		d.log.Warn("blockdev-del", "uuid", s.UUID, "node", old, "error", err)
	}
	if err := c.execute(ctx, "block_resize", map[string]any{"node-name": ids.format, "size": sizeBytes}, nil); err != nil {
		return err
	}
	d.log.Info("volume extended", "uuid", s.UUID, "volume", volumeID, "bytes", sizeBytes)
	return nil
}
