package volume

import "testing"

func TestVolumeSchedulerFilters(t *testing.T) {
	thin := func(host, az string, total, provisioned float64) poolState {
		return poolState{Host: host, AvailabilityZone: az, Pool: pool{TotalCapacityGB: total, FreeCapacityGB: total - provisioned,
			ProvisionedCapacityGB: provisioned, ThinProvisioningSupport: true, MaxOverSubscriptionRatio: 1},
			Capabilities: map[string]any{"volume_backend_name": host, "multiattach": true, "storage_protocol": "NBD",
				"total_capacity_gb": total}}
	}
	pools := []poolState{thin("a", "nova", 10, 8), thin("b", "nova", 10, 2), thin("c", "east", 100, 0)}
	for _, tc := range []struct {
		name string
		req  scheduleRequest
		want string
	}{
		{"most free in the zone", scheduleRequest{SizeGB: 1, AvailabilityZone: "nova"}, "b"},
		{"any zone: the weigher", scheduleRequest{SizeGB: 1}, "c"},
		{"capacity filter", scheduleRequest{SizeGB: 9, AvailabilityZone: "nova"}, ""},
		{"fits only one", scheduleRequest{SizeGB: 3, AvailabilityZone: "nova"}, "b"},
		{"backend name", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"volume_backend_name": "a"}}, "a"},
		{"unknown backend", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"volume_backend_name": "z"}}, ""},
		{"scoped capability", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"capabilities:storage_protocol": "<in> NB"}}, "c"},
		{"<is>", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"multiattach": "<is> True"}}, "c"},
		{"numeric >=", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"total_capacity_gb": ">= 50"}}, "c"},
		{"<or>", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"volume_backend_name": "<or> a <or> b"}}, "b"},
		{"vendor scope ignored", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"vendor:thing": "x"}}, "c"},
		{"absent capability", scheduleRequest{SizeGB: 1, ExtraSpecs: map[string]string{"nosuch": "1"}}, ""},
	} {
		got, err := schedule(pools, tc.req)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: placed on %s, want no valid backend", tc.name, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
}
