package compute

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// initiatorPrefix starts the iSCSI initiator name of every compute host
// (os-brick reads a host's from /etc/iscsi/initiatorname.iscsi; a host here
// needs none, QEMU's own client logs in with the name it is given).
const initiatorPrefix = "iqn.2010-10.org.openstack.nimbus:"

// initiatorName is the host's iSCSI initiator name, the connector's
// "initiator": the volume backend's target lets in this name only, and the
// agent hands it to QEMU. An IQN's unique part is lower case letters,
// digits, '.', '-' and ':'; anything else in a host name becomes '-'.
func initiatorName(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := b.String()
	if name == "" {
		name = "host"
	}
	return initiatorPrefix + name
}

// iscsiVolumeDisk is the disk of an iSCSI connection (upstream's
// connection_info with driver_volume_type iscsi, the keys os-brick's iSCSI
// connector reads: target_portal, target_iqn, target_lun and CHAP's
// auth_method, auth_username, auth_password).
func iscsiVolumeDisk(b blockDevice, data map[string]any) (virt.VolumeDisk, error) {
	str := func(k string) string { v, _ := data[k].(string); return v }
	d := virt.VolumeDisk{VolumeID: b.VolumeID, Protocol: virt.VolumeISCSI, Target: str("target_iqn"),
		Boot: b.BootIndex != nil && *b.BootIndex == 0}
	host, port, err := net.SplitHostPort(str("target_portal"))
	if err != nil {
		return virt.VolumeDisk{}, fmt.Errorf("volume %s: target_portal %q: %w", b.VolumeID, str("target_portal"), err)
	}
	d.Host = host
	if d.Port, err = strconv.Atoi(port); err != nil {
		return virt.VolumeDisk{}, fmt.Errorf("volume %s: target_portal %q: bad port", b.VolumeID, str("target_portal"))
	}
	switch l := data["target_lun"].(type) {
	case float64:
		d.LUN = int(l)
	case string:
		d.LUN, _ = strconv.Atoi(l)
	}
	if strings.EqualFold(str("auth_method"), "CHAP") {
		d.User, d.Password = str("auth_username"), str("auth_password")
	}
	if b.ConnectorHost != "" {
		d.InitiatorName = initiatorName(b.ConnectorHost)
	}
	if ro, ok := data["access_mode"].(string); ok && ro == "ro" {
		d.ReadOnly = true
	}
	if d.Host == "" || d.Port <= 0 || d.Target == "" {
		return virt.VolumeDisk{}, fmt.Errorf("volume %s: iSCSI connection without a portal and target", b.VolumeID)
	}
	return d, nil
}
