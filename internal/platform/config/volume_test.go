package config

import (
	"os"
	"testing"
	"time"
)

func TestVolumeConfig(t *testing.T) {
	clearEnv(t)
	for _, name := range []string{"NIMBUS_VOLUME_PORT", "NIMBUS_VOLUME_DRIVER", "NIMBUS_VOLUME_QUOTA_VOLUMES"} {
		t.Setenv(name, "") // restored after the test
		os.Unsetenv(name)
	}
	d := Default().Volume
	if d.Port != 8776 || d.Driver != "auto" || d.AvailabilityZone != "nova" || d.ReportInterval.Duration != 10*time.Second ||
		len(d.Quotas()) != 0 {
		t.Fatalf("volume defaults %+v", d)
	}
	path := writeConfig(t, `
[volume]
driver = "fake"
quota_volumes = 3
quota_gigabytes = -1

[[volume.backends]]
name = "fast"
pool_dir = "/srv/fast"
capacity_gb = 20

[[volume.backends]]
name = "slow"
driver = "file"
`)
	t.Setenv("NIMBUS_VOLUME_PORT", "18776")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Volume
	if v.Port != 18776 || v.Driver != "fake" || len(v.Backends) != 2 || v.Backends[0].Name != "fast" ||
		v.Backends[0].PoolDir != "/srv/fast" || v.Backends[0].CapacityGB != 20 || v.Backends[1].Driver != "file" {
		t.Fatalf("volume config %+v", v)
	}
	if q := v.Quotas(); len(q) != 2 || q["volumes"] != 3 || q["gigabytes"] != -1 {
		t.Fatalf("quotas %v", q)
	}
}
