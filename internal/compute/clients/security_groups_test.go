package clients_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// netEnv is the real network service behind HTTP, with identity, and the
// client compute uses to reach it.
type netEnv struct {
	t        *testing.T
	url      string
	identity *identitytest.Env
	client   *clients.Network
}

func newNetEnv(t *testing.T) *netEnv {
	t.Helper()
	dir := t.TempDir()
	database := dbtest.Open(t, dir)
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	enforcer := policy.NewEnforcer()
	id := identitytest.Start(t, database, dir, policy.NewEnforcer(), identity.CatalogService{Type: "network", Name: "neutron", URL: ts.URL})
	svc, err := network.New(context.Background(), network.Options{DB: database, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth: id.Service.Validator(), Policy: enforcer, PublicURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	handler = svc.Handler()
	creds := clients.Credentials{IdentityURL: id.URL + "/v3", Username: "admin", Password: identitytest.AdminPassword, ProjectName: "admin"}
	return &netEnv{t: t, url: ts.URL, identity: id, client: clients.NewNetwork(creds, ts.URL)}
}

// create POSTs one resource to the network API as token and returns its id.
func (e *netEnv) create(token, collection, member string, attrs map[string]any) string {
	e.t.Helper()
	data, _ := json.Marshal(map[string]any{member: attrs})
	req, _ := http.NewRequest("POST", e.url+"/v2.0/"+collection, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", member, resp.StatusCode, body)
	}
	return out[member]["id"].(string)
}

func wantStatus(t *testing.T, err error, status int) {
	t.Helper()
	if !httpapi.IsStatus(err, status) {
		t.Fatalf("error %v, want a %d", err, status)
	}
}

// TestSecurityGroupsAsCaller: the client's security group and port calls
// against the network service, each with the caller's token, so another
// project sees and changes none of the demo project's.
func TestSecurityGroupsAsCaller(t *testing.T) {
	e := newNetEnv(t)
	ctx := t.Context()
	demo, project := e.identity.DemoToken, e.identity.DemoProject
	other, _ := e.identity.NewProjectUser("other")
	c := e.client

	groups, err := c.SecurityGroups(ctx, demo, compute.SecurityGroupFilter{ProjectID: project, Name: "default"})
	if err != nil || len(groups) != 1 || groups[0].ProjectID != project || len(groups[0].Rules) != 4 {
		t.Fatalf("demo's default group: %+v, %v", groups, err)
	}
	def := groups[0]
	web, err := c.CreateSecurityGroup(ctx, demo, "web", "front")
	if err != nil || web.Name != "web" || web.Description != "front" || web.ProjectID != project {
		t.Fatalf("create: %+v, %v", web, err)
	}
	if web, err = c.UpdateSecurityGroup(ctx, demo, web.ID, "web", ""); err != nil || web.Description != "" {
		t.Fatalf("update: %+v, %v", web, err)
	}
	_, err = c.CreateSecurityGroup(ctx, demo, "default", "")
	wantStatus(t, err, http.StatusConflict)

	lo, hi := 80, 90
	rule, err := c.CreateSecurityGroupRule(ctx, demo, compute.SecurityGroupRule{GroupID: web.ID, Direction: "ingress", EtherType: "IPv4",
		Protocol: "TCP", PortMin: &lo, PortMax: &hi, RemoteIPPrefix: "10.0.0.0/8"})
	if err != nil || rule.Protocol != "tcp" || *rule.PortMin != 80 || *rule.PortMax != 90 || rule.RemoteIPPrefix != "10.0.0.0/8" || rule.RemoteGroupID != "" {
		t.Fatalf("cidr rule: %+v, %v", rule, err)
	}
	fromGroup, err := c.CreateSecurityGroupRule(ctx, demo, compute.SecurityGroupRule{GroupID: web.ID, Direction: "ingress", EtherType: "IPv4",
		RemoteGroupID: def.ID})
	if err != nil || fromGroup.Protocol != "" || fromGroup.PortMin != nil || fromGroup.RemoteGroupID != def.ID || fromGroup.RemoteIPPrefix != "" {
		t.Fatalf("group rule: %+v, %v", fromGroup, err)
	}
	if got, err := c.GetSecurityGroupRule(ctx, demo, rule.ID); err != nil || got.GroupID != web.ID || got.Direction != "ingress" {
		t.Fatalf("get rule: %+v, %v", got, err)
	}
	if got, err := c.GetSecurityGroup(ctx, demo, web.ID); err != nil || len(got.Rules) != 4 {
		t.Fatalf("get group: %+v, %v", got, err)
	}

	// The other project sees and changes nothing of demo's.
	_, err = c.GetSecurityGroup(ctx, other, web.ID)
	wantStatus(t, err, http.StatusNotFound)
	if got, err := c.SecurityGroups(ctx, other, compute.SecurityGroupFilter{IDs: []string{web.ID, def.ID}}); err != nil || len(got) != 0 {
		t.Fatalf("other lists demo's groups: %+v, %v", got, err)
	}
	_, err = c.UpdateSecurityGroup(ctx, other, web.ID, "taken", "")
	wantStatus(t, err, http.StatusNotFound)
	wantStatus(t, c.DeleteSecurityGroup(ctx, other, web.ID), http.StatusNotFound)
	_, err = c.GetSecurityGroupRule(ctx, other, rule.ID)
	wantStatus(t, err, http.StatusNotFound)
	wantStatus(t, c.DeleteSecurityGroupRule(ctx, other, rule.ID), http.StatusNotFound)
	_, err = c.CreateSecurityGroupRule(ctx, other, compute.SecurityGroupRule{GroupID: web.ID, Direction: "ingress", EtherType: "IPv4"})
	wantStatus(t, err, http.StatusNotFound)

	// A port of demo's server, made as demo as at boot; the network service
	// judges the request as the token's: another project neither sees demo's
	// network nor makes ports on it.
	netID := e.create(demo, "networks", "network", map[string]any{"name": "private"})
	e.create(demo, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.1.0.0/24"})
	server := "6b1f3c3e-1d55-4a5e-9d51-3c1b0f7f6a01"
	_, err = c.CreatePort(ctx, other, compute.PortRequest{NetworkID: netID, DeviceID: server})
	wantStatus(t, err, http.StatusNotFound)
	made, err := c.CreatePort(ctx, demo, compute.PortRequest{ProjectID: project, NetworkID: netID, DeviceID: server})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.BindPort(ctx, made.ID, server, "compute:nova", "h1"); err != nil {
		t.Fatal(err)
	}
	ports, err := c.DevicePorts(ctx, demo, server)
	if err != nil || len(ports) != 1 || ports[0].ID != made.ID || !slices.Equal(ports[0].SecurityGroups, []string{def.ID}) ||
		!ports[0].PortSecurityEnabled || len(ports[0].FixedIPs) != 1 {
		t.Fatalf("demo's server ports: %+v, %v", ports, err)
	}
	_, err = c.SetPortSecurityGroups(ctx, demo, made.ID, []string{def.ID, web.ID, web.ID})
	wantStatus(t, err, http.StatusBadRequest) // neutron-lib's uuid_list refuses a repeated group
	p, err := c.SetPortSecurityGroups(ctx, demo, made.ID, []string{def.ID, web.ID})
	if err != nil || len(p.SecurityGroups) != 2 || !slices.Contains(p.SecurityGroups, web.ID) {
		t.Fatalf("set groups: %+v, %v", p, err)
	}
	wantStatus(t, c.DeleteSecurityGroup(ctx, demo, web.ID), http.StatusConflict) // in use

	if got, err := c.DevicePorts(ctx, other, server); err != nil || len(got) != 0 {
		t.Fatalf("other sees demo's ports: %+v, %v", got, err)
	}
	_, err = c.SetPortSecurityGroups(ctx, other, made.ID, nil)
	wantStatus(t, err, http.StatusNotFound)
	mine, err := c.CreateSecurityGroup(ctx, other, "mine", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetPortSecurityGroups(ctx, demo, made.ID, []string{mine.ID})
	wantStatus(t, err, http.StatusNotFound)

	if p, err = c.SetPortSecurityGroups(ctx, demo, made.ID, nil); err != nil || len(p.SecurityGroups) != 0 {
		t.Fatalf("clear groups: %+v, %v", p, err)
	}
	if err := c.DeleteSecurityGroupRule(ctx, demo, rule.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSecurityGroup(ctx, demo, web.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecurityGroup(ctx, demo, web.ID)
	wantStatus(t, err, http.StatusNotFound)
}
