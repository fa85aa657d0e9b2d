package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Remote is the compute service as an agent on another host sees it: calls over
// the bus to the conductor (compute.Service.ServeAgents); image data comes from
// the image API with a token the conductor hands out.
type Remote struct {
	bus    *bus.Bus
	nudges nudges
	unsub  func()
}

var (
	_ Controller      = (*Remote)(nil)
	_ ImageSource     = (*Remote)(nil)
	_ metadata.Source = (*Remote)(nil)
)

// NewRemote subscribes to the conductor's nudges; Close ends that.
func NewRemote(b *bus.Bus) (*Remote, error) {
	r := &Remote{bus: b}
	unsub, err := b.Subscribe(compute.SubjectChanged, func(data []byte) {
		var req compute.HostRequest
		_ = json.Unmarshal(data, &req)
		r.nudges.nudge(req.Host)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", compute.SubjectChanged, err)
	}
	r.unsub = unsub
	return r, nil
}

// Close stops the nudges.
func (r *Remote) Close() { r.unsub() }

func (r *Remote) Changes(host string) <-chan struct{} { return r.nudges.listen(host) }

func (r *Remote) HostInstances(ctx context.Context, host string) ([]compute.AgentInstance, error) {
	var out []compute.AgentInstance
	err := r.bus.Call(ctx, compute.SubjectHostInstances, compute.HostRequest{Host: host}, &out)
	return out, err
}

func (r *Remote) ReportInstance(ctx context.Context, rep compute.AgentReport) error {
	return r.bus.Call(ctx, compute.SubjectReportInstance, rep, nil)
}

func (r *Remote) ReportService(ctx context.Context, rep compute.ServiceReport) error {
	return r.bus.Call(ctx, compute.SubjectReportService, rep, nil)
}

func (r *Remote) ReportVolumes(ctx context.Context, rep compute.VolumeReport) error {
	return r.bus.Call(ctx, compute.SubjectReportVolumes, rep, nil)
}

func (r *Remote) PortActive(ctx context.Context, portID string) (bool, error) {
	var ok bool
	err := r.bus.Call(ctx, compute.SubjectPortActive, compute.HostRequest{ID: portID}, &ok)
	return ok, err
}

// Instance is the metadata of an instance, for its config drive.
func (r *Remote) Instance(ctx context.Context, uuid string) (*metadata.Instance, error) {
	var out metadata.Instance
	if err := r.bus.Call(ctx, compute.SubjectMetadata, compute.HostRequest{ID: uuid}, &out); err != nil {
		if httpapi.IsStatus(httpapi.FromRemote(err), http.StatusNotFound) {
			return nil, metadata.ErrNotFound
		}
		return nil, err
	}
	return &out, nil
}

// Get reads an image's record from the image API, with token or, when it is
// "", the conductor's.
func (r *Remote) Get(ctx context.Context, token, id string) (compute.Image, error) {
	var access compute.ImageAccess
	if err := r.bus.Call(ctx, compute.SubjectImageAccess, struct{}{}, &access); err != nil {
		return compute.Image{}, fmt.Errorf("image access: %w", err)
	}
	if token == "" {
		token = access.Token
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, access.URL+"v2/images/"+url.PathEscape(id), nil)
	if err != nil {
		return compute.Image{}, err
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return compute.Image{}, fmt.Errorf("image %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return compute.Image{}, fmt.Errorf("image %s: %s", id, resp.Status)
	}
	var body struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Status     string `json:"status"`
		DiskFormat string `json:"disk_format"`
		Checksum   string `json:"checksum"`
		HashAlgo   string `json:"os_hash_algo"`
		HashValue  string `json:"os_hash_value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return compute.Image{}, fmt.Errorf("image %s: %w", id, err)
	}
	return compute.Image{ID: body.ID, Name: body.Name, Status: body.Status, DiskFormat: body.DiskFormat,
		Checksum: body.Checksum, HashAlgo: body.HashAlgo, HashValue: body.HashValue}, nil
}

// Download fetches an image's data from the image API with the conductor's token.
func (r *Remote) Download(ctx context.Context, id string, w io.Writer) error {
	var access compute.ImageAccess
	if err := r.bus.Call(ctx, compute.SubjectImageAccess, struct{}{}, &access); err != nil {
		return fmt.Errorf("image access: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, access.URL+"v2/images/"+url.PathEscape(id)+"/file", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", access.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download image %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download image %s: %s", id, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// ServeHostCalls answers the API's calls to this host's agent (console output,
// VNC socket, diagnostics, uptime) on the bus.
func ServeHostCalls(b *bus.Bus, a *Agent) error {
	prefix := compute.SubjectHostCall + a.opts.Host + "."
	calls := map[string]func(ctx context.Context, req compute.ConsoleRequest) (any, error){
		"console_output": func(ctx context.Context, req compute.ConsoleRequest) (any, error) {
			return a.ConsoleOutput(ctx, req.UUID, req.Lines)
		},
		"vnc_socket": func(ctx context.Context, req compute.ConsoleRequest) (any, error) {
			return a.opts.Driver.VNCSocket(virt.Spec{UUID: req.UUID, Dir: filepath.Join(a.opts.InstancesDir, req.UUID)}), nil
		},
		"diagnostics": func(ctx context.Context, req compute.ConsoleRequest) (any, error) {
			return a.Diagnostics(ctx, req.UUID)
		},
		"uptime": func(context.Context, compute.ConsoleRequest) (any, error) {
			return a.HostUptime()
		},
	}
	for name, fn := range calls {
		if err := b.Handle(prefix+name, func(ctx context.Context, raw json.RawMessage) (any, error) {
			var req compute.ConsoleRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, httpapi.BadRequest("bad request: %v", err)
			}
			out, err := fn(ctx, req)
			return out, notFoundAsAPI(err, req.UUID)
		}); err != nil {
			return err
		}
	}
	return nil
}

// BusHostCalls reaches the agents of other hosts (compute.HostCalls).
type BusHostCalls struct{ Bus *bus.Bus }

var _ compute.HostCalls = BusHostCalls{}

func (c BusHostCalls) ConsoleOutput(ctx context.Context, host, uuid string, lines int) (string, error) {
	var out string
	err := c.Bus.Call(ctx, compute.SubjectHostCall+host+".console_output", compute.ConsoleRequest{UUID: uuid, Lines: lines}, &out)
	return out, httpapi.FromRemote(err)
}

func (c BusHostCalls) VNCSocket(ctx context.Context, host, uuid string) (string, error) {
	var out string
	err := c.Bus.Call(ctx, compute.SubjectHostCall+host+".vnc_socket", compute.ConsoleRequest{UUID: uuid}, &out)
	return out, httpapi.FromRemote(err)
}

func (c BusHostCalls) Diagnostics(ctx context.Context, host, uuid string) (virt.Diagnostics, error) {
	var out virt.Diagnostics
	err := c.Bus.Call(ctx, compute.SubjectHostCall+host+".diagnostics", compute.ConsoleRequest{UUID: uuid}, &out)
	return out, httpapi.FromRemote(err)
}

func (c BusHostCalls) HostUptime(ctx context.Context, host string) (string, error) {
	var out string
	err := c.Bus.Call(ctx, compute.SubjectHostCall+host+".uptime", compute.ConsoleRequest{}, &out)
	return out, httpapi.FromRemote(err)
}

var _ ImageUploader = (*Remote)(nil)

// Upload stores the file at path as the image's data with the conductor's
// token (a snapshot's upload from this host).
func (r *Remote) Upload(ctx context.Context, id, path string) error {
	var access compute.ImageAccess
	if err := r.bus.Call(ctx, compute.SubjectImageAccess, struct{}{}, &access); err != nil {
		return fmt.Errorf("image access: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, access.URL+"v2/images/"+url.PathEscape(id)+"/file", f)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", access.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("upload image %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return httpapi.Errorf(resp.StatusCode, "upload image %s: %s", id, resp.Status)
	}
	return nil
}
