package qemu

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// iSCSI volumes, what upstream's libvirt driver makes of connection_info
// with driver_volume_type "iscsi" when libvirt uses QEMU's own initiator
// (<source protocol='iscsi'> with an <auth> secret): an iscsi protocol node
// (libiscsi, from qemu-block-extra) under the same raw format node and
// virtio-blk device as an NBD volume, so hot-plug, detach, extend and
// reading the guest's disks back work alike. The CHAP password reaches QEMU
// as a secret object read from a file of the instance's directory (mode
// 0600), never on a command line.

// maxLUN bounds target_lun (SAM's flat space addressing).
const maxLUN = 16383

// validateISCSI rejects an iSCSI volume QEMU would misread.
func validateISCSI(v virt.VolumeDisk) error {
	if v.Target == "" || v.LUN < 0 || v.LUN > maxLUN {
		return fmt.Errorf("volume %q: needs an iSCSI target and a LUN in 0-%d", v.VolumeID, maxLUN)
	}
	for _, f := range []string{v.VolumeID, v.Target, v.User, v.InitiatorName} {
		if strings.ContainsAny(f, " \t\n\x00") {
			return fmt.Errorf("volume %q: %q holds a character an iSCSI name cannot take", v.VolumeID, f)
		}
	}
	if strings.ContainsAny(v.VolumeID, ",:/") {
		return fmt.Errorf("volume %q: the id holds a character QEMU's ids cannot take", v.VolumeID)
	}
	if v.Password != "" && v.User == "" {
		return fmt.Errorf("volume %q: a CHAP password without a user", v.VolumeID)
	}
	return nil
}

// chapSecretPath is the file of the volume's CHAP password in the instance's Dir.
func chapSecretPath(s virt.Spec, v virt.VolumeDisk) string {
	return filepath.Join(pskDir(s, v), "chap.secret")
}

// writeCHAPSecret writes the volume's CHAP password where its secret object
// reads it, readable by the agent only.
func writeCHAPSecret(s virt.Spec, v virt.VolumeDisk) (string, error) {
	path := chapSecretPath(s, v)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(v.Password), 0o600); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}

// chapSecretObject is the secret object's properties (it takes the id an NBD
// volume's TLS credentials would: a volume has one or the other, and detach
// removes whichever is there).
func chapSecretObject(v virt.VolumeDisk, path string) map[string]any {
	return map[string]any{"qom-type": "secret", "id": volumeIDsOf(v.VolumeID).tls, "file": path, "format": "raw"}
}

// iscsiNode is the iscsi protocol node's blockdev-add arguments.
func iscsiNode(v virt.VolumeDisk, name string) map[string]any {
	n := map[string]any{"driver": "iscsi", "node-name": name, "transport": "tcp",
		"portal": net.JoinHostPort(v.Host, strconv.Itoa(v.Port)), "target": v.Target, "lun": v.LUN, "read-only": v.ReadOnly}
	if v.User != "" {
		n["user"] = v.User
		n["password-secret"] = volumeIDsOf(v.VolumeID).tls
	}
	if v.InitiatorName != "" {
		n["initiator-name"] = v.InitiatorName
	}
	return n
}

// exportURL names the volume's export in the log (no credentials).
func exportURL(v virt.VolumeDisk) string {
	if v.Protocol == virt.VolumeISCSI {
		return fmt.Sprintf("iscsi://%s/%s/%d", net.JoinHostPort(v.Host, strconv.Itoa(v.Port)), v.Target, v.LUN)
	}
	return fmt.Sprintf("nbd://%s:%d/%s", v.Host, v.Port, v.Export)
}
