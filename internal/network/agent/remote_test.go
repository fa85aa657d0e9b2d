package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// TestRemote checks the agent's side of the bus: each call reaches its subject with
// its arguments, answers and errors come back, nudges arrive as Changes.
func TestRemote(t *testing.T) {
	b, err := bus.Start(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 8)
	for subject, answer := range map[string]any{
		network.SubjectHostState:       dataplane.State{Networks: []dataplane.Network{{ID: "net1", Type: "vxlan", SegmentationID: 1001}}},
		network.SubjectEnsureDHCPPorts: nil,
		network.SubjectSetPortStatus:   nil,
		network.SubjectReportAgent:     nil,
	} {
		if err := b.Handle(subject, func(_ context.Context, raw json.RawMessage) (any, error) {
			got <- subject + " " + string(raw)
			return answer, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewRemote(b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := func(w string) {
		t.Helper()
		select {
		case g := <-got:
			if g != w {
				t.Fatalf("got %s\nwant %s", g, w)
			}
		case <-ctx.Done():
			t.Fatalf("no call, want %s", w)
		}
	}
	st, err := r.HostState(ctx, dataplane.Host{Name: "h2"}, network.HostRoles{DHCP: true})
	if err != nil || len(st.Networks) != 1 || st.Networks[0].SegmentationID != 1001 {
		t.Fatalf("HostState = %+v, %v", st, err)
	}
	want(network.SubjectHostState + ` {"host":{"Name":"h2","VTEP":"","PhysicalInterfaces":null,"Namespace":"","EnableIsolatedMetadata":false,"ForceMetadata":false},"roles":{"DHCP":true,"L3":false}}`)
	if err := r.EnsureDHCPPorts(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	want(network.SubjectEnsureDHCPPorts + ` {"host":"h2"}`)
	if err := r.SetPortStatus(ctx, "ACTIVE"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetPortStatus(ctx, "ACTIVE", "p1", "p2"); err != nil {
		t.Fatal(err)
	}
	want(network.SubjectSetPortStatus + ` {"status":"ACTIVE","ids":["p1","p2"]}`) // none for the empty call
	if err := r.ReportAgent(ctx, "Linux bridge agent", "neutron-linuxbridge-agent", "h2", map[string]any{"tunneling_ip": "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}
	want(network.SubjectReportAgent + ` {"agent_type":"Linux bridge agent","binary":"neutron-linuxbridge-agent","host":"h2","configurations":{"tunneling_ip":"192.0.2.2"}}`)

	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	for range 3 { // several nudges coalesce into one pending signal
		if err := b.Publish(network.SubjectChanged, struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-r.Changes():
	case <-ctx.Done():
		t.Fatal("a nudge on the bus did not reach Changes")
	}

	// The metadata lookups: by router or by network, and a 404 that stays one.
	if err := b.Handle(network.SubjectMetadataInstance, func(_ context.Context, raw json.RawMessage) (any, error) {
		got <- network.SubjectMetadataInstance + " " + string(raw)
		var req network.MetadataInstanceRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		if req.IP.String() != "10.0.0.5" {
			return nil, fmt.Errorf("lookup: %w", &httpapi.Error{Status: http.StatusNotFound, Kind: "PortNotFound", Message: "none"})
		}
		return network.MetadataInstanceReply{InstanceID: "vm-1", ProjectID: "p-1"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	vm := netip.MustParseAddr("10.0.0.5")
	if id, project, err := r.MetadataInstance(ctx, "r1", vm); err != nil || id != "vm-1" || project != "p-1" {
		t.Errorf("MetadataInstance = %q, %q, %v", id, project, err)
	}
	want(network.SubjectMetadataInstance + ` {"router_id":"r1","ip":"10.0.0.5"}`)
	if _, _, err := r.MetadataNetworkInstance(ctx, "n1", vm); err != nil {
		t.Errorf("MetadataNetworkInstance: %v", err)
	}
	want(network.SubjectMetadataInstance + ` {"network_id":"n1","ip":"10.0.0.5"}`)
	_, _, err = r.MetadataInstance(ctx, "r1", netip.MustParseAddr("10.0.0.9"))
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || he.Kind != "PortNotFound" {
		t.Errorf("MetadataInstance of nobody = %v, want the 404", err)
	}
	want(network.SubjectMetadataInstance + ` {"router_id":"r1","ip":"10.0.0.9"}`)

	stopped, err := bus.Start(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lonely, err := NewRemote(stopped)
	if err != nil {
		t.Fatal(err)
	}
	defer stopped.Close()
	defer lonely.Close()
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	if _, err := lonely.HostState(short, dataplane.Host{Name: "h2"}, network.HostRoles{}); err == nil {
		t.Fatal("HostState without a network service answered")
	}
}
