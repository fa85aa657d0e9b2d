package qemu

import (
	"maps"
	"testing"
)

func TestGuestDiskName(t *testing.T) {
	for device, want := range map[string]string{
		"drive-virtio-disk0": "vda", "drive-virtio-disk2": "vdc", "drive-ide0-1-0": "hdc",
		"drive-virtio-diskx": "", "pflash0": "", "": "",
	} {
		if got := guestDiskName(device); got != want {
			t.Errorf("guestDiskName(%q) = %q, want %q", device, got, want)
		}
	}
}

func TestBootTaps(t *testing.T) {
	args := []string{"-m", "256", "-netdev", "tap,id=net0,ifname=tapaaa,script=no,downscript=no", "-device", "x",
		"-netdev", "tap,id=net1,ifname=tapbbb,script=no"}
	if got, want := bootTaps(args), map[string]string{"net0": "tapaaa", "net1": "tapbbb"}; !maps.Equal(got, want) {
		t.Errorf("bootTaps = %v, want %v", got, want)
	}
}

func TestParseNetDev(t *testing.T) {
	text := `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
tapaaa:    1500      10    1    2    0     0          0         0     3000      20    3    4    0     0       0          0
`
	got := parseNetDev(text)
	c, ok := got["tapaaa"]
	if !ok || c[0] != 1500 || c[1] != 10 || c[2] != 1 || c[3] != 2 || c[8] != 3000 || c[9] != 20 || c[10] != 3 || c[11] != 4 {
		t.Errorf("tapaaa = %v (%v)", c, got)
	}
	if len(got) != 2 {
		t.Errorf("interfaces = %v", got)
	}
}

func TestStatFields(t *testing.T) {
	f := statFields("1234 (qemu-system x86) S 1 1234 1234 0 -1 4194560 100 0 0 0 55 66 0 0 20 0 3 0 777 1000 10")
	if len(f) < 22 || f[0] != "1234" || f[1] != "(qemu-system x86)" || f[2] != "S" || f[13] != "55" || f[14] != "66" || f[21] != "777" {
		t.Errorf("statFields = %q", f)
	}
	if statFields("garbage") != nil {
		t.Error("statFields of garbage: not nil")
	}
}
