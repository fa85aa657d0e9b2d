package metadata

import (
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// TestPaths is the API reference of both formats: every listing and leaf, with
// upstream's bodies and content types.
func TestPaths(t *testing.T) {
	h := Handler(newFakeSource(instanceA(), instanceB()), testOptions())
	a := func(path string) *httpRequest { return &httpRequest{path, uuidA, "proj-a"} }
	b := func(path string) *httpRequest { return &httpRequest{path, uuidB, "proj-b"} }
	metaA := `{"uuid": "1a2b3c4d-0000-4000-8000-00000000000a", "meta": {"role": "web", "tier": "front"}, ` +
		`"public_keys": {"mykey": "` + sshKeyA + `"}, "keys": [{"name": "mykey", "type": "ssh", "data": "` + sshKeyA + `"}], ` +
		`"hostname": "web-1.novalocal", "name": "web 1", "launch_index": 0, "availability_zone": "nova"`
	netA := `{"links": [{"id": "tap6c1f3e22-8e", "vif_id": "6c1f3e22-8e2a-4d9b-9a55-1f2e3d4c5b6a", "type": "bridge", "mtu": null, ` +
		`"ethernet_mac_address": "fa:16:3e:00:00:0a"}], "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap6c1f3e22-8e", ` +
		`"network_id": "net-a"}], "services": [{"type": "dns", "address": "10.0.0.2"}]}`
	metaDataListing := strings.Join([]string{"ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/",
		"hostname", "instance-action", "instance-id", "instance-type", "local-hostname", "local-ipv4", "placement/",
		"public-hostname", "public-ipv4", "public-keys/", "reservation-id", "security-groups"}, "\n")
	for _, tc := range []struct {
		req   *httpRequest
		ctype string
		body  string
	}{
		// Version listings.
		{a("/"), contentText, ec2List},
		{a("/ec2"), contentText, ec2List},
		{a("/openstack"), contentText, osList},
		{a("/openstack/"), contentText, osList},
		{a("/openstack/latest"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},
		{a("/openstack/latest/"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},
		{a("/openstack/latest/version"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},
		{b("/openstack/latest/"), contentText, "meta_data.json\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},
		{a("/openstack/2012-08-10/"), contentText, "meta_data.json\nuser_data"},
		{a("/openstack/2013-04-04/"), contentText, "meta_data.json\nuser_data\npassword"},
		{a("/openstack/2013-10-17/"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json"},
		{a("/openstack/2015-10-15/"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json"},
		{a("/openstack/2016-10-06/"), contentText, "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},

		// OpenStack files; the members of meta_data.json depend on the version.
		{a("/openstack/latest/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": [], "dedicated_cpus": []}`},
		{a("/openstack/latest/meta_data.json/"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": [], "dedicated_cpus": []}`},
		{a("/openstack/2025-04-04/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": [], "dedicated_cpus": []}`},
		{a("/openstack/2020-10-14/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": [], "dedicated_cpus": []}`},
		{a("/openstack/2018-08-27/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": []}`},
		{a("/openstack/2016-06-30/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a", "devices": []}`},
		{a("/openstack/2015-10-15/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED", "project_id": "proj-a"}`},
		{a("/openstack/2013-04-04/meta_data.json"), contentJSON, metaA + `, "random_seed": "SEED"}`},
		{a("/openstack/2012-08-10/meta_data.json"), contentJSON, metaA + `}`},
		{a("/openstack/latest/user_data"), contentText, "#cloud-config\nhostname: web-1\n"},
		{a("/openstack/2012-08-10/user_data"), contentText, "#cloud-config\nhostname: web-1\n"},
		{a("/openstack/latest/network_data.json"), contentText, netA},
		{a("/openstack/2012-08-10/network_data.json"), contentText, netA}, // served though not listed, as upstream
		{b("/openstack/latest/network_data.json"), contentText, "{}"},
		{a("/openstack/latest/vendor_data.json"), contentJSON, "{}"},
		{a("/openstack/latest/vendor_data2.json"), contentJSON, `{"static": {}}`},
		{a("/openstack/latest/password"), contentHTML, ""},

		// EC2.
		{a("/latest"), contentText, "meta-data/\nuser-data"},
		{a("/2009-04-04/"), contentText, "meta-data/\nuser-data"},
		{b("/latest/"), contentText, "meta-data/"},
		{a("/latest/meta-data/"), contentText, metaDataListing},
		{a("/latest/meta-data"), contentText, metaDataListing},
		{a("/ec2/latest/meta-data/"), contentText, metaDataListing},
		{a("/1.0/meta-data/"), contentText, "ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\nlocal-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"},
		{a("/2007-12-15/meta-data/"), contentText, "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"},
		{a("/latest/meta-data/ami-id"), contentText, "ami-0f1e2d3c"},
		{a("/latest/meta-data/ami-launch-index"), contentText, "0"},
		{a("/latest/meta-data/ami-manifest-path"), contentText, "FIXME"},
		{a("/latest/meta-data/block-device-mapping/"), contentText, "ami\nroot"},
		{a("/latest/meta-data/block-device-mapping/ami"), contentText, "vda"},
		{a("/latest/meta-data/block-device-mapping/root"), contentText, "/dev/vda"},
		{a("/latest/meta-data/hostname"), contentText, "web-1.novalocal"},
		{a("/latest/meta-data/hostname/"), contentText, "web-1.novalocal"},
		{a("/latest/meta-data/instance-action"), contentText, "none"},
		{a("/latest/meta-data/instance-id"), contentText, "i-00000005"},
		{a("/latest/meta-data/instance-type"), contentText, "m1.small"},
		{a("/latest/meta-data/local-hostname"), contentText, "web-1.novalocal"},
		{a("/latest/meta-data/local-ipv4"), contentText, "10.0.0.5"},
		{a("/latest/meta-data/placement/"), contentText, "availability-zone"},
		{a("/latest/meta-data/placement/availability-zone"), contentText, "nova"},
		{a("/latest/meta-data/public-hostname"), contentText, "web-1.novalocal"},
		{a("/latest/meta-data/public-ipv4"), contentText, "203.0.113.9"},
		{a("/latest/meta-data/public-keys/"), contentText, "0=mykey"},
		{a("/latest/meta-data/public-keys/0/"), contentText, "openssh-key"},
		{a("/latest/meta-data/public-keys/0/openssh-key"), contentText, sshKeyA},
		{a("/latest/meta-data/reservation-id"), contentText, "r-abcdefgh"},
		{a("/latest/meta-data/security-groups"), contentText, "default\nweb"},
		{a("/latest/user-data"), contentText, "#cloud-config\nhostname: web-1\n"},
		{a("/2009-04-04/user-data"), contentText, "#cloud-config\nhostname: web-1\n"},
		// Instance B: booted from a volume, no floating IP, no key, no root device.
		{b("/latest/meta-data/ami-id"), contentText, "None"},
		{b("/latest/meta-data/public-ipv4"), contentText, ""},
		{b("/latest/meta-data/local-ipv4"), contentText, "10.0.0.5"}, // X-Forwarded-For without a fixed IPv4
		{b("/latest/meta-data/block-device-mapping/"), contentText, "ami\nephemeral0\nroot\nswap"},
		{b("/latest/meta-data/block-device-mapping/root"), contentText, "/dev/sda1"},
		{b("/latest/meta-data/security-groups"), contentText, ""},
	} {
		httpCase{tc.req.path, request("GET", tc.req.path, tc.req.uuid, tc.req.project), 200, tc.ctype, tc.body}.check(t, h)
	}
	for _, req := range []*httpRequest{
		a("/openstack/latest/nope"),
		a("/openstack/2099-01-01/meta_data.json"),
		a("/openstack/2099-01-01/"),
		a("/openstack/latest/meta_data.json/uuid"),
		a("/openstack/latest/content"),
		a("/openstack/content/0000"),
		a("/openstack/2012-08-10/password"),
		a("/openstack/2012-08-10/vendor_data.json"),
		a("/openstack/2015-10-15/vendor_data2.json"),
		b("/openstack/latest/user_data"),
		a("/2099-01-01/meta-data/"),
		a("/latest/nope"),
		a("/latest/meta-data/nope"),
		a("/latest/meta-data/hostname/more"),
		a("/latest/meta-data/security-groups/default"),
		a("/latest/meta-data/public-keys/1/"),
		a("/1.0/meta-data/instance-type"),
		a("/2007-01-19/meta-data/placement/"),
		b("/latest/meta-data/public-keys/"),
		b("/latest/user-data"),
	} {
		httpCase{req.path, request("GET", req.path, req.uuid, req.project), 404, contentText, notFound}.check(t, h)
	}
}

type httpRequest struct{ path, uuid, project string }

// TestFutureVersions: /openstack hides the versions dated after today, as
// upstream, and still serves them.
func TestFutureVersions(t *testing.T) {
	opts := testOptions()
	opts.Now = func() time.Time { return time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC) }
	h := Handler(newFakeSource(instanceB()), opts)
	httpCase{"", request("GET", "/openstack", uuidB, "proj-b"), 200, contentText,
		"2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\nlatest"}.check(t, h)
	if w := serve(h, request("GET", "/openstack/2020-10-14/meta_data.json", uuidB, "proj-b")); w.Code != 200 {
		t.Errorf("a hidden version answers %d", w.Code)
	}
}

// TestVendorData: the static vendor data keeps its members' order and comes out as
// upstream's json.dumps writes it; data that is not JSON is served as {}.
func TestVendorData(t *testing.T) {
	for _, tc := range []struct{ raw, v1, v2 string }{
		{`{"b":1,"a":[true,null,"é<&>"],"n":1.50}`, `{"b": 1, "a": [true, null, "\u00e9<&>"], "n": 1.5}`, `{"static": {"b": 1, "a": [true, null, "\u00e9<&>"], "n": 1.5}}`},
		{`not json`, `{}`, `{"static": {}}`},
		{`{"a": 1} {"b": 2}`, `{}`, `{"static": {}}`},
	} {
		opts := testOptions()
		opts.VendorData = []byte(tc.raw)
		h := Handler(newFakeSource(instanceB()), opts)
		httpCase{"", request("GET", "/openstack/latest/vendor_data.json", uuidB, "proj-b"), 200, contentJSON, tc.v1}.check(t, h)
		httpCase{"", request("GET", "/openstack/latest/vendor_data2.json", uuidB, "proj-b"), 200, contentJSON, tc.v2}.check(t, h)
	}
}

// TestEC2IDs: kernel and ramdisk ids appear with their images, and an instance
// without an EC2 number takes its UUID's first 32 bits.
func TestEC2IDs(t *testing.T) {
	inst := instanceB()
	inst.EC2ID = 0
	inst.ImageID, inst.KernelID, inst.RamdiskID = "00c0ffee-0000-4000-8000-000000000001", "0000abcd-0000-4000-8000-000000000002", "not-a-uuid"
	h := Handler(newFakeSource(inst), testOptions())
	for path, want := range map[string]string{
		"/latest/meta-data/instance-id": "i-0000beef",
		"/latest/meta-data/ami-id":      "ami-00c0ffee",
		"/latest/meta-data/kernel-id":   "aki-0000abcd",
		"/latest/meta-data/ramdisk-id":  fmt.Sprintf("ari-%08x", crc32.ChecksumIEEE([]byte("not-a-uuid"))),
	} {
		httpCase{"", request("GET", path, inst.UUID, inst.ProjectID), 200, contentText, want}.check(t, h)
	}
	httpCase{"", request("GET", "/2007-10-10/meta-data/kernel-id", inst.UUID, inst.ProjectID), 404, contentText, notFound}.check(t, h)
}
