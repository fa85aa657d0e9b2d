package clients_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients/cindertest"
	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// TestVolumesAttachFlow drives the volume client against the fake Cinder
// through the catalog, as upstream Nova's attach: the attachment is created
// and updated with the host's connector as the caller (the caller's project in
// the URL, compute's service token beside), completed, and deleted by compute
// with its own credentials (no project in the URL); each request with the
// attachments API's microversion and upstream's bodies.
func TestVolumesAttachFlow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fake := cindertest.New()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	id := identitytest.Start(t, dbtest.Open(t, dir), dir, policy.NewEnforcer(),
		identity.CatalogService{Type: "block-storage", Name: "cinderv3", URL: ts.URL + "/v3/0123456789abcdef"})
	creds := clients.Credentials{IdentityURL: id.URL + "/v3", Username: "admin", Password: identitytest.AdminPassword, ProjectName: "admin"}
	volumes := clients.NewVolumes(creds, "")
	const volumeID, server = "5a1e0000-0000-4000-8000-000000000001", "5e1e0000-0000-4000-8000-000000000001"
	fake.AddVolume(cindertest.Volume{ID: volumeID, ProjectID: id.DemoProject, Size: 1})
	user := compute.VolumeCaller{Token: id.DemoToken, ProjectID: id.DemoProject}

	v, err := volumes.GetVolume(ctx, user, volumeID)
	if err != nil || v.Status != "available" || v.Size != 1 {
		t.Fatalf("GetVolume = %+v, %v", v, err)
	}
	other := compute.VolumeCaller{Token: id.AdminToken, ProjectID: id.AdminProject}
	if _, err := volumes.GetVolume(ctx, other, volumeID); !httpapi.IsStatus(err, http.StatusNotFound) {
		t.Fatalf("GetVolume of another project's volume: %v, want a 404", err)
	}
	att, err := volumes.CreateAttachment(ctx, user, volumeID, server)
	if err != nil || att.Status != "reserved" || att.ConnectionInfo.DriverVolumeType != "" {
		t.Fatalf("CreateAttachment = %+v, %v", att, err)
	}
	att, err = volumes.UpdateAttachment(ctx, user, att.ID, compute.VolumeConnector{Host: "compute-1", IP: "192.0.2.10"})
	if err != nil || att.ConnectionInfo.DriverVolumeType != "nbd" || att.ConnectionInfo.Data["export_name"] != "volume-"+volumeID {
		t.Fatalf("UpdateAttachment = %+v, %v", att, err)
	}
	if err := volumes.CompleteAttachment(ctx, user, att.ID); err != nil {
		t.Fatal(err)
	}
	if v, _ := volumes.GetVolume(ctx, user, volumeID); v.Status != "in-use" || len(v.Attachments) != 1 || v.Attachments[0].ServerID != server {
		t.Fatalf("volume after os-complete: %+v", v)
	}
	_, err = volumes.CreateAttachment(ctx, user, volumeID, "5e1e0000-0000-4000-8000-000000000002")
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != 400 ||
		he.Message != "Invalid volume: Volume "+volumeID+" status must be available or downloading to reserve, but the current status is in-use." {
		t.Fatalf("a second attachment of an in-use volume: %v", err)
	}
	service := compute.VolumeCaller{}
	for range 2 { // the second finds it gone: no error
		if err := volumes.DeleteAttachment(ctx, service, att.ID); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := volumes.GetVolume(ctx, user, volumeID); v.Status != "available" {
		t.Fatalf("volume after the attachment's delete: %+v", v)
	}

	want := []struct{ method, path string }{
		{"GET", "/v3/" + id.DemoProject + "/volumes/" + volumeID},
		{"GET", "/v3/" + id.AdminProject + "/volumes/" + volumeID},
		{"POST", "/v3/" + id.DemoProject + "/attachments"},
		{"PUT", "/v3/" + id.DemoProject + "/attachments/" + att.ID},
		{"POST", "/v3/" + id.DemoProject + "/attachments/" + att.ID + "/action"},
		{"GET", "/v3/" + id.DemoProject + "/volumes/" + volumeID},
		{"POST", "/v3/" + id.DemoProject + "/attachments"},
		{"DELETE", "/v3/attachments/" + att.ID},
		{"DELETE", "/v3/attachments/" + att.ID},
		{"GET", "/v3/" + id.DemoProject + "/volumes/" + volumeID},
	}
	got := fake.Requests()
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.Method != w.method || r.Path != w.path || r.Microversion != "volume 3.44" || r.Token == "" {
			t.Errorf("request %d: %s %s (%q), want %s %s with volume 3.44", i, r.Method, r.Path, r.Microversion, w.method, w.path)
		}
		if r.Token == id.DemoToken && r.ServiceToken == "" {
			t.Errorf("request %d: the caller's token without compute's service token", i)
		}
	}
	create := got[2].Body["attachment"].(map[string]any)
	if len(create) != 2 || create["volume_uuid"] != volumeID || create["instance_uuid"] != server {
		t.Errorf("attachment create body %v", got[2].Body)
	}
	connector := got[3].Body["attachment"].(map[string]any)["connector"].(map[string]any)
	if connector["host"] != "compute-1" || connector["ip"] != "192.0.2.10" {
		t.Errorf("attachment update body %v", got[3].Body)
	}
	if action, ok := got[4].Body["os-complete"]; !ok || action != nil {
		t.Errorf("os-complete body %v", got[4].Body)
	}
}

// TestVolumesWithoutCatalogEntry: a cloud whose catalog has no block-storage
// endpoint answers ErrNoVolumeService, not a connection error.
func TestVolumesWithoutCatalogEntry(t *testing.T) {
	dir := t.TempDir()
	id := identitytest.Start(t, dbtest.Open(t, dir), dir, policy.NewEnforcer())
	creds := clients.Credentials{IdentityURL: id.URL + "/v3", Username: "admin", Password: identitytest.AdminPassword, ProjectName: "admin"}
	volumes := clients.NewVolumes(creds, "")
	for range 2 {
		_, err := volumes.GetVolume(context.Background(), compute.VolumeCaller{Token: id.DemoToken, ProjectID: id.DemoProject}, "x")
		if !errors.Is(err, compute.ErrNoVolumeService) {
			t.Fatalf("GetVolume without a volume service: %v", err)
		}
	}
}
