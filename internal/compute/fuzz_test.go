package compute

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// fuzzPost sends body as it is to path as token; inside a fuzz target only t
// may fail the test.
func fuzzPost(t *testing.T, url, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// The fuzz targets' images and networks, by UUIDs as upstream's schemas ask:
// an image naming another project's kernel, the external network, and the
// fuzzed project's network.
const (
	kernelImage   = "44444444-0000-4000-8000-000000000001"
	publicNetwork = "33333333-0000-4000-8000-000000000001"
	fuzzNetwork   = "55555555-0000-4000-8000-000000000001"
)

// fuzzPersonas are the tokens of the matrix's personas by name.
func fuzzPersonas(e *testEnv, project string) map[string]string {
	personas, _ := e.identity.Personas(project)
	out := map[string]string{}
	for _, p := range personas {
		out[p.Name] = p.Token
	}
	return out
}

// FuzzCreateServerBody: whatever a client puts in POST /servers, the policy
// holds: a reader and a domain-scoped token are refused (403) once the body
// passes upstream's schema (400 before, as Nova validates first), the demo member never gets a 5xx, and whatever it is given is its own
// project's, placed by the scheduler (no forced or requested host, admin's
// only), with ports made as the member and none on the external network.
func FuzzCreateServerBody(f *testing.F) {
	for _, seed := range []string{
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "networks": [{"uuid": "11111111-0000-4000-8000-000000000001"}]}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "availability_zone": "nova:h1"}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "host": "h1", "hypervisor_hostname": "h1"}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "networks": [{"uuid": "33333333-0000-4000-8000-000000000001", "fixed_ip": "203.0.113.9"}]}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "networks": [{"uuid": "11111111-0000-4000-8000-000000000001"}], "min_count": 2, "max_count": "3"}}`,
		`{"server": {"name": "vm", "imageRef": "44444444-0000-4000-8000-000000000001", "flavorRef": "1", "networks": [{"port": "22222222-0000-4000-8000-000000000001"}]}, "os:scheduler_hints": {"group": 1}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "security_groups": [{"name": "default"}], "metadata": {"a": "b"}, "user_data": "aGk="}}`,
		`{"server": {"name": "vm", "flavorRef": "1", "block_device_mapping_v2": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000001", "source_type": "image", "destination_type": "volume", "boot_index": 0, "volume_size": 1, "delete_on_termination": true}]}}`,
		`{"server": {"name": "vm", "imageRef": "", "flavorRef": "1", "block_device_mapping_v2": [{"uuid": "b0000000-0000-4000-8000-000000000001", "source_type": "volume", "destination_type": "volume", "boot_index": "0"}]}}`,
		`{"server": {"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "block_device_mapping_v2": [{"uuid": "aaaaaaaa-0000-4000-8000-000000000001", "source_type": "image", "destination_type": "local", "boot_index": 0}, {"source_type": "blank", "destination_type": "volume", "volume_size": "2", "boot_index": -1}]}}`,
		`{"server": {"name": "vm", "flavorRef": "1", "block_device_mapping_v2": [{"uuid": "b0000000-0000-4000-8000-0000000000ee", "source_type": "volume", "boot_index": 0}], "max_count": 2}}`,
		`{"server": {"name": "vm", "flavorRef": "1", "block_device_mapping_v2": [{"source_type": "blank", "destination_type": "local", "boot_index": 0, "no_device": true}]}}`,
		`{"server": null}`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	vols := newMemVolumes()
	e := newTestEnv(f, func(o *Options) { o.Volumes = vols })
	vols.add(e.DemoProject, Volume{ID: "b0000000-0000-4000-8000-000000000001", Size: 1, Bootable: true})
	vols.add(e.identity.AdminProject, Volume{ID: "b0000000-0000-4000-8000-0000000000ee", Size: 1, Bootable: true})
	e.host("h1", 64, 1<<20, 10000)
	e.net.networks[publicNetwork] = NetworkInfo{ID: publicNetwork, Name: "public", ProjectID: e.identity.AdminProject, External: true}
	e.images.addPrivate(Image{ID: "aki-hidden", Status: "active", DiskFormat: "aki"}, e.identity.AdminProject)
	e.images.add(Image{ID: kernelImage, Status: "active", DiskFormat: "ami", Properties: map[string]string{"kernel_id": "aki-hidden"}})
	tokens := fuzzPersonas(e, "fuzz-create")
	url := e.URL + "/v2.1/servers"
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		status := fuzzPost(t, url, e.DemoToken, body)
		if status >= 500 {
			t.Fatalf("as a member: %d", status)
		}
		// As Nova: the body is validated against the schema before the
		// policy is checked, so a refused caller sees the schema's 400 for a
		// body the member is refused too, and 403 for any other.
		for _, refused := range []string{policytest.Reader, policytest.DomainAdmin, policytest.SystemAdmin} {
			got := fuzzPost(t, url, tokens[refused], body)
			if got != http.StatusForbidden && (got != http.StatusBadRequest || status != http.StatusBadRequest) {
				t.Fatalf("as %s: %d (the member: %d), want 403, or the schema's 400", refused, got, status)
			}
		}
		if status != http.StatusAccepted {
			return
		}
		made, err := loadAll(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range made {
			if in.ProjectID != e.DemoProject || in.Request.ForcedHost != "" || in.Request.RequestedHost != "" || in.Request.RequestedNode != "" {
				t.Fatalf("a member's server of project %q, forced host %q, requested %q/%q", in.ProjectID, in.Request.ForcedHost,
					in.Request.RequestedHost, in.Request.RequestedNode)
			}
			if in.Request.Image.Properties["kernel_id"] == "aki-hidden" {
				t.Fatalf("a member's server boots the hidden kernel")
			}
			bdms, err := instanceBlockDevices(ctx, e.Compute.db, in.UUID)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bdms {
				if v, ok := vols.volumes[b.VolumeID]; !ok || v.project != e.DemoProject {
					t.Fatalf("a member's server has volume %s of another project", b.VolumeID)
				}
			}
			for _, n := range in.Request.Networks {
				if n.NetworkID == publicNetwork {
					t.Fatalf("a member's server on the external network")
				}
				if n.Created && e.net.creators[n.PortID] != e.DemoProject {
					t.Fatalf("port %s made as %q", n.PortID, e.net.creators[n.PortID])
				}
			}
		}
		// Gone again, so the quota never runs out.
		if _, err := e.Compute.db.ExecContext(ctx, `UPDATE instances SET deleted = ?`, true); err != nil {
			t.Fatal(err)
		}
	})
}

// loadAll reads every live instance.
func loadAll(ctx context.Context, e *testEnv) ([]*instance, error) {
	rows, err := e.Compute.db.QueryContext(ctx, `SELECT `+instanceColumns+` FROM instances WHERE deleted = ?`, false)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// FuzzServerActionBody: whatever the body of POST /servers/{id}/action, the
// server's member never gets a 5xx, a reader of its project never gets
// anything done (no 2xx), and a member of another project learns nothing but
// that the body is malformed or the server not found (400 or 404: never a
// 403 or a 409 that would tell the server exists or its state).
func FuzzServerActionBody(f *testing.F) {
	for _, seed := range []string{
		`{"os-stop": null}`, `{"reboot": {"type": "HARD"}}`, `{"rebuild": {"imageRef": "44444444-0000-4000-8000-000000000001"}}`,
		`{"rescue": {"rescue_image_ref": "aaaaaaaa-0000-4000-8000-000000000001", "adminPass": "x"}}`, `{"resize": {"flavorRef": "2"}}`,
		`{"lock": {"locked_reason": "r"}}`, `{"os-getConsoleOutput": {"length": -1}}`, `{"addSecurityGroup": {"name": "default"}}`,
		`{"os-getVNCConsole": {"type": "novnc"}}`, `{"pause": null, "unpause": null}`, `{}`, `null`, `{"x": `,
		`{"createImage": {"name": "s", "metadata": {"k": "v"}}}`, `{"createBackup": {"name": "b", "backup_type": "daily", "rotation": "2"}}`,
		`{"shelve": null}`, `{"shelveOffload": {}}`, `{"unshelve": {"availability_zone": null, "host": "h1"}}`,
	} {
		f.Add([]byte(seed))
	}
	e := newTestEnv(f, nil)
	e.host("h1", 64, 1<<20, 10000)
	e.images.addPrivate(Image{ID: "aki-hidden", Status: "active", DiskFormat: "aki"}, e.identity.AdminProject)
	e.images.add(Image{ID: kernelImage, Status: "active", DiskFormat: "ami", Properties: map[string]string{"kernel_id": "aki-hidden"}})
	personas, project := e.identity.Personas("fuzz-action")
	tokens := map[string]string{}
	for _, p := range personas {
		tokens[p.Name] = p.Token
	}
	e.net.networks[fuzzNetwork] = NetworkInfo{ID: fuzzNetwork, Name: "p", ProjectID: project}
	boot := func() string {
		return e.boot(tokens[policytest.Member], map[string]any{"networks": []any{map[string]any{"uuid": fuzzNetwork}}})
	}
	// The member acts on one server (which its actions may change or delete),
	// the others on one they must never change.
	mine, theirs := boot(), boot()
	f.Fuzz(func(t *testing.T, body []byte) {
		if status := fuzzPost(t, e.URL+"/v2.1/servers/"+mine+"/action", tokens[policytest.Member], body); status >= 500 {
			t.Fatalf("as the member: %d", status)
		}
		if status := fuzzPost(t, e.URL+"/v2.1/servers/"+theirs+"/action", tokens[policytest.Reader], body); status/100 == 2 || status >= 500 {
			t.Fatalf("as a reader: %d", status)
		}
		if status := fuzzPost(t, e.URL+"/v2.1/servers/"+theirs+"/action", tokens[policytest.OtherMember], body); status != 400 && status != 404 {
			t.Fatalf("as another project's member: %d, want 400 or 404", status)
		}
		for _, name := range []string{policytest.DomainAdmin, policytest.SystemAdmin} {
			if status := fuzzPost(t, e.URL+"/v2.1/servers/"+theirs+"/action", tokens[name], body); status/100 == 2 || status >= 500 {
				t.Fatalf("as %s: %d", name, status)
			}
		}
	})
}

// FuzzAttachVolumeBody: whatever a client puts in POST
// /servers/{id}/os-volume_attachments, the member never gets a 5xx, a reader
// is refused (403, or the schema's 400), and a volume of another project is
// never attached.
func FuzzAttachVolumeBody(f *testing.F) {
	for _, seed := range []string{
		`{"volumeAttachment": {"volumeId": "b0000000-0000-4000-8000-000000000001"}}`,
		`{"volumeAttachment": {"volumeId": "b0000000-0000-4000-8000-0000000000ee", "device": "/dev/vdc"}}`,
		`{"volumeAttachment": {"volumeId": "b0000000-0000-4000-8000-000000000001", "device": null, "tag": "x", "delete_on_termination": "yes"}}`,
		`{"volumeAttachment": {"volumeId": 7}}`, `{"volumeAttachment": null}`, `{}`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	vols := newMemVolumes()
	e := newTestEnv(f, func(o *Options) { o.Volumes = vols })
	e.host("h1", 64, 1<<20, 10000)
	vols.add(e.DemoProject, Volume{ID: "b0000000-0000-4000-8000-000000000001", Size: 1})
	vols.add(e.identity.AdminProject, Volume{ID: "b0000000-0000-4000-8000-0000000000ee", Size: 1})
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	e.conduct()
	e.run()
	tokens := fuzzPersonas(e, "fuzz-attach")
	url := e.URL + "/v2.1/servers/" + id + "/os-volume_attachments"
	f.Fuzz(func(t *testing.T, body []byte) {
		status := fuzzPost(t, url, e.DemoToken, body)
		if status >= 500 {
			t.Fatalf("as a member: %d", status)
		}
		if got := fuzzPost(t, url, tokens[policytest.Reader], body); got != http.StatusForbidden && got != http.StatusBadRequest && got != http.StatusNotFound {
			t.Fatalf("as a reader: %d", got)
		}
		bdms, err := instanceBlockDevices(context.Background(), e.Compute.db, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bdms {
			if vols.volumes[b.VolumeID].project != e.DemoProject {
				t.Fatalf("volume %s of another project attached", b.VolumeID)
			}
		}
	})
}
