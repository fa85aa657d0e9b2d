package metadata

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// isoinfo runs isoinfo (from genisoimage) on an image.
func isoinfo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("isoinfo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("isoinfo %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestConfigDrive builds a real config drive with genisoimage and reads it back
// with isoinfo: the label, the file set of upstream's metadata_for_config_drive,
// and the bytes of its files.
func TestConfigDrive(t *testing.T) {
	for _, tool := range []string{"genisoimage", "isoinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/deps.sh installs genisoimage)", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "disk.config")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the build stages its files
	opts := testOptions()
	opts.VendorData = []byte(`{"cloud": "nimbus"}`)
	if err := BuildConfigDrive(context.Background(), instanceA(), opts, img); err != nil {
		t.Fatal(err)
	}

	pvd := isoinfo(t, "-d", "-i", img)
	for _, want := range []string{"Volume id: config-2\n", "Publisher id: Nimbus\n", "Joliet with UCS level 3 found", "Rock Ridge signatures version 1 found"} {
		if !strings.Contains(pvd, want) {
			t.Errorf("isoinfo -d lacks %q:\n%s", want, pvd)
		}
	}

	var want []string
	for _, v := range []string{"2009-04-04", "latest"} {
		want = append(want, "/ec2/"+v+"/meta-data.json", "/ec2/"+v+"/user-data")
	}
	for i, v := range append(slices.Clone(openstackVersions), latest) {
		want = append(want, "/openstack/"+v+"/meta_data.json", "/openstack/"+v+"/user_data")
		if i >= 2 {
			want = append(want, "/openstack/"+v+"/vendor_data.json")
		}
		if i >= 3 {
			want = append(want, "/openstack/"+v+"/network_data.json")
		}
		if i >= 5 {
			want = append(want, "/openstack/"+v+"/vendor_data2.json")
		}
	}
	var got []string
	for _, line := range strings.Split(isoinfo(t, "-R", "-f", "-i", img), "\n") {
		if strings.Count(line, "/") == 3 { // files; directories are one or two deep
			got = append(got, line)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("files on the drive:\n%s\nwant (%d)\n%s", strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}

	read := func(p string) string { return isoinfo(t, "-R", "-i", img, "-x", p) }
	meta := `{"uuid": "1a2b3c4d-0000-4000-8000-00000000000a", "meta": {"role": "web", "tier": "front"}, "admin_pass": "Adm1nPass", ` +
		`"public_keys": {"mykey": "` + sshKeyA + `"}, "keys": [{"name": "mykey", "type": "ssh", "data": "` + sshKeyA + `"}], ` +
		`"hostname": "web-1.novalocal", "name": "web 1", "launch_index": 0, "availability_zone": "nova", ` +
		`"random_seed": "SEED", "project_id": "proj-a", "devices": [], "dedicated_cpus": []}`
	ec2 := `{"ami-id": "ami-0f1e2d3c", "ami-launch-index": 0, "ami-manifest-path": "FIXME", "instance-id": "i-00000005", ` +
		`"hostname": "web-1.novalocal", "local-ipv4": "10.0.0.5", "reservation-id": "r-abcdefgh", "security-groups": ["default", "web"], ` +
		`"public-keys": {"0": {"openssh-key": "` + sshKeyA + `"}}, "local-hostname": "web-1.novalocal", "public-hostname": "web-1.novalocal", ` +
		`"public-ipv4": "203.0.113.9", "instance-type": "m1.small", "block-device-mapping": {"ami": "vda", "root": "/dev/vda"}, ` +
		`"placement": {"availability-zone": "nova"}, "instance-action": "none"}`
	// The files are those the API serves (one document behind both).
	api := &document{inst: instanceA(), domain: "novalocal", vendor: object{{"cloud", "nimbus"}}, now: testNow}
	network, _ := api.lookup("/openstack/latest/network_data.json")
	for _, tc := range []struct{ path, want string }{
		{"/openstack/latest/meta_data.json", meta},
		{"/openstack/2012-08-10/meta_data.json", strings.SplitN(meta, `, "random_seed"`, 2)[0] + "}"},
		{"/openstack/latest/user_data", "#cloud-config\nhostname: web-1\n"},
		{"/openstack/latest/vendor_data.json", `{"cloud": "nimbus"}`},
		{"/openstack/latest/vendor_data2.json", `{"static": {"cloud": "nimbus"}}`},
		{"/openstack/latest/network_data.json", string(network.body)},
		{"/ec2/latest/meta-data.json", ec2},
		{"/ec2/2009-04-04/user-data", "#cloud-config\nhostname: web-1\n"},
	} {
		if got := withoutSeed(t, read(tc.path)); got != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.path, got, tc.want)
		}
	}

	// The build leaves nothing behind but the image.
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// TestConfigDriveFailure: a failing genisoimage is an error naming its output.
func TestConfigDriveFailure(t *testing.T) {
	if _, err := exec.LookPath("genisoimage"); err != nil {
		t.Skip("genisoimage is not installed (scripts/deps.sh installs it)")
	}
	err := BuildConfigDrive(context.Background(), instanceB(), testOptions(), filepath.Join(t.TempDir(), "no-such-dir", "disk.config"))
	if err == nil || !strings.Contains(err.Error(), "genisoimage") || !strings.Contains(err.Error(), uuidB) {
		t.Fatalf("BuildConfigDrive into a missing directory: %v", err)
	}
}
