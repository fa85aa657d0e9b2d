package metadata

import (
	"strings"
	"testing"
)

// TestBlockDeviceMappingLocalDisks: upstream's instance_block_mapping of a
// server with volumes, ephemeral and swap disks: ami, root, ebs<n>, swap,
// ephemeral<n> in
// meta-data.json's order, the EC2 listing sorted.
func TestBlockDeviceMappingLocalDisks(t *testing.T) {
	o := blockDeviceMapping("/dev/vda", []string{"/dev/vdf", "/dev/vde"}, []string{"/dev/vdb", "/dev/vdc"}, "/dev/vdd")
	var keys []string
	for _, m := range o {
		keys = append(keys, m.key+"="+m.value.(string))
	}
	if got, want := strings.Join(keys, " "), "ami=vda root=/dev/vda ebs0=/dev/vde ebs1=/dev/vdf swap=/dev/vdd ephemeral0=/dev/vdb ephemeral1=/dev/vdc"; got != want {
		t.Errorf("mapping %s, want %s", got, want)
	}
	if got, want := string(ec2Print(o)), "ami\nebs0\nebs1\nephemeral0\nephemeral1\nroot\nswap"; got != want {
		t.Errorf("listing %q, want %q", got, want)
	}
	if got := string(ec2Print(blockDeviceMapping("/dev/vda", nil, nil, ""))); got != "ami\nroot" {
		t.Errorf("no local disks: %q", got)
	}
}
