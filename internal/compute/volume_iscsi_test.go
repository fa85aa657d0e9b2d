package compute

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

func TestInitiatorName(t *testing.T) {
	tests := []struct{ host, want string }{
		{"compute-1", "iqn.2010-10.org.openstack.nimbus:compute-1"},
		{"Compute_1.Example", "iqn.2010-10.org.openstack.nimbus:compute-1.example"},
		{"", "iqn.2010-10.org.openstack.nimbus:host"},
	}
	for _, tc := range tests {
		if got := initiatorName(tc.host); got != tc.want {
			t.Errorf("initiatorName(%q) = %q, want %q", tc.host, got, tc.want)
		}
	}
}

func TestISCSIVolumeDisk(t *testing.T) {
	data := func(portal string) map[string]any {
		return map[string]any{"target_portal": portal, "target_iqn": "iqn.2010-10.org.openstack:volume-v:a",
			"target_lun": float64(1), "auth_method": "CHAP", "auth_username": "u", "auth_password": "p", "access_mode": "ro"}
	}
	boot := 0
	b := blockDevice{VolumeID: "v", ConnectorHost: "compute-1", BootIndex: &boot}
	got, err := iscsiVolumeDisk(b, data("[::1]:3260"))
	want := virt.VolumeDisk{VolumeID: "v", Protocol: virt.VolumeISCSI, Host: "::1", Port: 3260,
		Target: "iqn.2010-10.org.openstack:volume-v:a", LUN: 1, User: "u", Password: "p",
		InitiatorName: "iqn.2010-10.org.openstack.nimbus:compute-1", ReadOnly: true, Boot: true}
	if err != nil || got != want {
		t.Fatalf("iscsiVolumeDisk = %+v, %v; want %+v", got, err, want)
	}
	for _, portal := range []string{"", "10.0.0.1", "10.0.0.1:x", ":3260"} {
		if _, err := iscsiVolumeDisk(b, data(portal)); err == nil {
			t.Errorf("portal %q accepted", portal)
		}
	}
	noCHAP := data("10.0.0.1:3260")
	delete(noCHAP, "auth_method")
	if got, err := iscsiVolumeDisk(b, noCHAP); err != nil || got.User != "" || got.Password != "" {
		t.Fatalf("without auth_method: %+v %v", got, err)
	}
}
