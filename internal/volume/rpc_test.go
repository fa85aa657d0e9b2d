package volume

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// startTestBus starts an embedded bus and returns it with a second client of
// it: the API and a volume host are two processes, each with its connection.
func startTestBus(t *testing.T) (api, host *bus.Bus) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	api, err := bus.Start(bus.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	host, err = bus.Start(bus.Options{URL: api.URL, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Close)
	return api, host
}

// newRemoteEnv is a test env whose API reaches its manager (host node1) only
// over the bus, as the API reaches a volume host; served says whether the
// manager listens.
func newRemoteEnv(t *testing.T, served bool, timeout time.Duration) (*testEnv, *bus.Bus) {
	t.Helper()
	apiBus, hostBus := startTestBus(t)
	conns := &BusConnections{Bus: apiBus, Timeout: timeout}
	e := newTestEnv(t, func(o *Options) { o.Connections, o.Nudge = conns, conns.Nudge })
	if served {
		if err := ServeManager(hostBus, e.Manager); err != nil {
			t.Fatal(err)
		}
	}
	return e, apiBus
}

const testServer = "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"

// TestVolumeHostOverBus: the API exports and unexports a volume of another
// host through that host's manager on the bus: the attachment's
// connection_info is the backend's, the export is on the host's backend,
// and deleting the attachment removes it there.
func TestVolumeHostOverBus(t *testing.T) {
	e, _ := newRemoteEnv(t, true, 0)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	b := e.Backends[hostBackend(e, id)]
	a := e.MustV(http.StatusOK, "3.44", "POST", "/v3/attachments", e.DemoToken, map[string]any{"attachment": map[string]any{
		"volume_uuid": id, "instance_uuid": testServer, "connector": map[string]any{"host": "cn1", "ip": "192.0.2.9"}}})["attachment"].(map[string]any)
	conn := a["connection_info"].(map[string]any)
	if conn["driver_volume_type"] != "nbd" || conn["data"].(map[string]any)["volume_id"] != id {
		t.Fatalf("connection_info %v", conn)
	}
	ctx := context.Background()
	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 1 || exports[0].AttachmentID != a["id"] || exports[0].Connector.IP != "192.0.2.9" {
		t.Fatalf("exports on the host %v (%v)", exports, err)
	}
	e.MustV(http.StatusNoContent, "3.44", "POST", "/v3/attachments/"+a["id"].(string)+"/action", e.DemoToken, map[string]any{"os-complete": nil})
	e.MustV(http.StatusOK, "3.44", "DELETE", "/v3/attachments/"+a["id"].(string), e.DemoToken, nil)
	if exports, _ := b.Exports(ctx); len(exports) != 0 {
		t.Fatalf("exports after the attachment's delete %v", exports)
	}
}

// TestVolumeHostDown: with no manager listening for the volume's host, each
// path answers upstream's 500 for a MessagingTimeout: attachments' own
// messages, the fault wrapper's for the older actions; the volume stays as
// it was.
func TestVolumeHostDown(t *testing.T) {
	e, _ := newRemoteEnv(t, false, 0)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	connector := map[string]any{"host": "cn1"}
	status, body, _, _ := e.DoV("3.44", "POST", "/v3/attachments", e.DemoToken, map[string]any{"attachment": map[string]any{
		"volume_uuid": id, "instance_uuid": testServer, "connector": connector}})
	if kind, msg := fault(body); status != 500 || kind != "computeFault" || msg != "Unable to create attachment for volume." {
		t.Fatalf("attachment create: %d %s %q", status, kind, msg)
	}
	a := e.MustV(http.StatusOK, "3.44", "GET", "/v3/attachments?volume_id="+id, e.DemoToken, nil)["attachments"].([]any)
	if len(a) != 1 {
		t.Fatalf("attachments %v", a)
	}
	aid := a[0].(map[string]any)["id"].(string)
	status, body, _, _ = e.DoV("3.44", "PUT", "/v3/attachments/"+aid, e.DemoToken,
		map[string]any{"attachment": map[string]any{"connector": connector}})
	if kind, msg := fault(body); status != 500 || kind != "computeFault" || msg != "Unable to update the attachment." {
		t.Fatalf("attachment update: %d %s %q", status, kind, msg)
	}
	e.MustV(http.StatusOK, "3.44", "DELETE", "/v3/attachments/"+aid, e.DemoToken, nil)
	status, body, _, _ = e.Do("POST", "/v3/volumes/"+id+"/action", e.DemoToken,
		action("os-initialize_connection", map[string]any{"connector": connector}), nil)
	if kind, msg := fault(body); status != 500 || kind != "computeFault" || msg != faultMessage {
		t.Fatalf("os-initialize_connection: %d %s %q", status, kind, msg)
	}
}

// TestBusConnectionsTimeout: a manager that listens but does not answer in
// time is ErrManagerTimeout too; an error of the manager's comes back with
// its text and is not a timeout.
func TestBusConnectionsTimeout(t *testing.T) {
	apiBus, hostBus := startTestBus(t)
	release := make(chan struct{})
	defer close(release)
	subject, err := managerSubject("slow@b1", callInitializeConnection)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostBus.Handle(subject, func(ctx context.Context, _ json.RawMessage) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("too late")
	}); err != nil {
		t.Fatal(err)
	}
	failing, err := managerSubject("broken@b1", callTerminateConnection)
	if err != nil {
		t.Fatal(err)
	}
	if err := hostBus.Handle(failing, func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("no backend \"b1\" on broken")
	}); err != nil {
		t.Fatal(err)
	}
	if err := hostBus.Flush(); err != nil {
		t.Fatal(err)
	}
	c := &BusConnections{Bus: apiBus, Timeout: 200 * time.Millisecond}
	v := backend.Volume{ID: "0b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", SizeGB: 1}
	_, err = c.InitializeConnection(context.Background(), "slow@b1#b1", v, backend.Export{VolumeID: v.ID, AttachmentID: testServer})
	if !errors.Is(err, ErrManagerTimeout) {
		t.Fatalf("a manager that does not answer: %v, want ErrManagerTimeout", err)
	}
	err = c.TerminateConnection(context.Background(), "broken@b1#b1", v, testServer)
	if err == nil || errors.Is(err, ErrManagerTimeout) || !strings.Contains(err.Error(), `no backend "b1" on broken`) {
		t.Fatalf("a manager's error: %v", err)
	}
	// a host no subject can name has no manager
	if _, err := c.InitializeConnection(context.Background(), "a.*@b1#b1", v, backend.Export{VolumeID: v.ID, AttachmentID: testServer}); err == nil {
		t.Fatal("a wildcard host was called")
	}
}

// TestBusConnectionsNudge: the API's nudge wakes the manager of another host.
func TestBusConnectionsNudge(t *testing.T) {
	apiBus, hostBus := startTestBus(t)
	m := NewManager(ManagerOptions{Host: "node2", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := ServeManager(hostBus, m); err != nil {
		t.Fatal(err)
	}
	(&BusConnections{Bus: apiBus}).Nudge()
	select {
	case <-m.nudge:
	case <-time.After(30 * time.Second):
		t.Fatal("the manager was not nudged")
	}
}

func TestConnectionRequestCodec(t *testing.T) {
	vol, att := "0b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", "1b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	in := newConnectionRequest("node2@file#file", backend.Volume{ID: vol, SizeGB: 3},
		backend.Export{VolumeID: vol, AttachmentID: att, ReadOnly: true, Connector: backend.Connector{Host: "cn1", IP: "192.0.2.9"}})
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeConnectionRequest(raw)
	if err != nil || out != in || out.volume() != (backend.Volume{ID: vol, SizeGB: 3}) || out.export().Connector.IP != "192.0.2.9" || !out.export().ReadOnly {
		t.Fatalf("round trip: %+v (%v)", out, err)
	}
	for name, body := range map[string]string{
		"not json":          `{`,
		"not an object":     `[]`,
		"no backend":        `{"host":"node2","volume_id":"` + vol + `","attachment_id":"` + att + `"}`,
		"empty backend":     `{"host":"node2@","volume_id":"` + vol + `","attachment_id":"` + att + `"}`,
		"volume path":       `{"host":"node2@file","volume_id":"../../etc/passwd","attachment_id":"` + att + `"}`,
		"attachment braces": `{"host":"node2@file","volume_id":"` + vol + `","attachment_id":"{` + att + `}"}`,
		"negative size":     `{"host":"node2@file","volume_id":"` + vol + `","attachment_id":"` + att + `","size_gb":-1}`,
		"size a string":     `{"host":"node2@file","volume_id":"` + vol + `","attachment_id":"` + att + `","size_gb":"1"}`,
	} {
		if _, err := decodeConnectionRequest([]byte(body)); err == nil || !strings.HasPrefix(err.Error(), "bad request") {
			t.Errorf("%s: %v, want a bad request", name, err)
		}
	}
}

func TestManagerSubject(t *testing.T) {
	for host, want := range map[string]string{
		"node2@file#file":      "volume.manager.node2.initialize_connection",
		"st1.example@file":     "volume.manager.st1.example.initialize_connection",
		"":                     "",
		"@file":                "",
		"a b@file":             "",
		"*@file":               "",
		"node>@file":           "",
		".node@file":           "",
		"node.@file":           "",
		"no..de@file":          "",
		"node\n@file#file":     "",
		"st1.example@f@x#pool": "volume.manager.st1.example.initialize_connection",
	} {
		got, err := managerSubject(host, callInitializeConnection)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("managerSubject(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
}

// FuzzConnectionRequest: a call's body from the bus never panics the volume
// host; one it accepts names UUIDs only and survives a round trip.
func FuzzConnectionRequest(f *testing.F) {
	f.Add([]byte(`{"host":"node2@file#file","volume_id":"0b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1","size_gb":1,` +
		`"attachment_id":"1b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1","connector_host":"cn1","connector_ip":"192.0.2.9","read_only":true}`))
	f.Add([]byte(`{"host":"node2@","volume_id":"../x","attachment_id":""}`))
	f.Add([]byte(`{"size_gb":-1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeConnectionRequest(raw)
		if err != nil {
			return
		}
		if strings.ContainsAny(r.VolumeID+r.AttachmentID, "/.\x00") {
			t.Fatalf("accepted ids %q %q", r.VolumeID, r.AttachmentID)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeConnectionRequest(again); err != nil || back != r {
			t.Fatalf("round trip %+v -> %+v (%v)", r, back, err)
		}
	})
}

// TestServiceAccessOverBus: a volume host's image client uses the API's
// service token and catalog, fetched over the bus; with no API on the bus it
// fails instead of calling anything.
func TestServiceAccessOverBus(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.Path == "/v3/auth/tokens":
			w.Header().Set("X-Subject-Token", "service-token")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
				"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
				"catalog": []any{map[string]any{"type": "image", "endpoints": []any{
					map[string]any{"interface": "public", "url": srvURL}}}}}})
		case r.URL.Path == "/v2/images/abc" && r.Header.Get("X-Auth-Token") == "service-token":
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "abc"})
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	srvURL = srv.URL
	apiBus, hostBus := startTestBus(t)
	remote := &ServiceClient{Access: BusServiceAccess(hostBus)}
	if _, err := remote.Get(context.Background(), "", "abc"); err == nil {
		t.Fatal("an image call without the API's token")
	}
	api := &ServiceClient{URL: srv.URL, IdentityURL: srv.URL + "/v3", Username: "admin", Password: "x", ProjectName: "admin"}
	if err := ServeServiceAccess(apiBus, api); err != nil {
		t.Fatal(err)
	}
	if err := apiBus.Flush(); err != nil {
		t.Fatal(err)
	}
	img, err := remote.Get(context.Background(), "", "abc")
	if err != nil || img["id"] != "abc" {
		t.Fatalf("image through the API's token: %v %v", img, err)
	}
}
