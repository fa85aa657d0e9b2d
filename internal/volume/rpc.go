package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// The bus subjects of the volume managers of other hosts (nimbus serve --role
// volume), as upstream's cinder-volume listens on its host's topic of the
// message bus. The API call()s the manager that owns a volume's host@backend
// on SubjectManagerCall + host + "." + call and waits for the answer (export
// and unexport); it cast()s SubjectManagerNudge to wake the managers after it
// wrote a row they drive. Nudges are at-most-once: every manager also passes
// on its own period, so a lost one only delays a volume by report_interval.
const (
	SubjectManagerCall  = "volume.manager."
	SubjectManagerNudge = "volume.managers.nudge"

	// SubjectServiceAccess hands a volume host the volume service's token
	// and catalog (ServiceAccess), for the image service and compute's
	// events: as compute agents get theirs, storage hosts keep no password.
	SubjectServiceAccess = "volume.service_access"

	callInitializeConnection = "initialize_connection"
	callTerminateConnection  = "terminate_connection"
)

// DefaultRPCTimeout is upstream's rpc_response_timeout (oslo.messaging, 60 s).
const DefaultRPCTimeout = 60 * time.Second

// ErrManagerTimeout is oslo.messaging's MessagingTimeout: no manager of the
// volume's host answered, because it is down (no one listens on its subject)
// or it did not answer in time. Upstream's API does not catch it where it
// calls the manager, so the client gets the fault wrapper's plain 500.
var ErrManagerTimeout = errors.New("timed out waiting for a reply from the volume manager (MessagingTimeout)")

// connectionRequest is the body of a call to a volume's manager: the volume
// on its host@backend#pool, the attachment and, for an export, the attaching
// host (the connector) and the access mode.
type connectionRequest struct {
	Host          string `json:"host"`
	VolumeID      string `json:"volume_id"`
	SizeGB        int    `json:"size_gb"`
	AttachmentID  string `json:"attachment_id"`
	ConnectorHost string `json:"connector_host,omitempty"`
	ConnectorIP   string `json:"connector_ip,omitempty"`
	ReadOnly      bool   `json:"read_only,omitempty"`
}

func newConnectionRequest(host string, v backend.Volume, e backend.Export) connectionRequest {
	return connectionRequest{Host: host, VolumeID: v.ID, SizeGB: v.SizeGB, AttachmentID: e.AttachmentID,
		ConnectorHost: e.Connector.Host, ConnectorIP: e.Connector.IP, ReadOnly: e.ReadOnly}
}

func (r connectionRequest) volume() backend.Volume {
	return backend.Volume{ID: r.VolumeID, SizeGB: r.SizeGB}
}

func (r connectionRequest) export() backend.Export {
	return backend.Export{VolumeID: r.VolumeID, AttachmentID: r.AttachmentID, ReadOnly: r.ReadOnly,
		Connector: backend.Connector{Host: r.ConnectorHost, IP: r.ConnectorIP}}
}

// decodeConnectionRequest reads and checks a call's body: the ids become
// file and export names on the manager's host, so only UUIDs pass.
func decodeConnectionRequest(raw []byte) (connectionRequest, error) {
	var r connectionRequest
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("bad request: %w", err)
	}
	if _, rest, ok := strings.Cut(r.Host, "@"); !ok || rest == "" {
		return r, fmt.Errorf("bad request: host %q is not host@backend", r.Host)
	}
	for what, id := range map[string]string{"volume_id": r.VolumeID, "attachment_id": r.AttachmentID} {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			return r, fmt.Errorf("bad request: %s %q is not a UUID", what, id)
		}
	}
	if r.SizeGB < 0 {
		return r, fmt.Errorf("bad request: size_gb %d", r.SizeGB)
	}
	return r, nil
}

// managerSubject is the subject of a call to the manager of host (the part
// before "@" of host@backend#pool). A host name that is not one token path of
// NATS (wildcards, spaces, empty tokens) has no manager to reach.
func managerSubject(host, call string) (string, error) {
	name, _, _ := strings.Cut(host, "@")
	if name == "" || strings.ContainsAny(name, " \t\r\n*>") || strings.HasPrefix(name, ".") ||
		strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return "", fmt.Errorf("volume host %q has no manager on the bus", host)
	}
	return SubjectManagerCall + name + "." + call, nil
}

// ServeManager answers the API's calls to m on b, and wakes m on the API's
// nudges (nimbus serve --role volume).
func ServeManager(b *bus.Bus, m *Manager) error {
	handlers := map[string]func(ctx context.Context, raw json.RawMessage) (any, error){
		callInitializeConnection: func(ctx context.Context, raw json.RawMessage) (any, error) {
			r, err := decodeConnectionRequest(raw)
			if err != nil {
				return nil, err
			}
			return m.InitializeConnection(ctx, r.Host, r.volume(), r.export())
		},
		callTerminateConnection: func(ctx context.Context, raw json.RawMessage) (any, error) {
			r, err := decodeConnectionRequest(raw)
			if err != nil {
				return nil, err
			}
			return nil, m.TerminateConnection(ctx, r.Host, r.volume(), r.AttachmentID)
		},
	}
	for call, h := range handlers {
		subject, err := managerSubject(m.host+"@", call)
		if err != nil {
			return err
		}
		if err := b.Handle(subject, h); err != nil {
			return fmt.Errorf("serve %s: %w", subject, err)
		}
	}
	if _, err := b.Subscribe(SubjectManagerNudge, func([]byte) { m.Nudge() }); err != nil {
		return fmt.Errorf("subscribe %s: %w", SubjectManagerNudge, err)
	}
	// the subscriptions known to the server before the host says it serves
	return b.Flush()
}

// BusConnections are the volume managers as the API reaches them: Local, the
// manager in the API's own process, for its host's volumes; every other
// host's over the bus. It is the API's Connections and its Nudge.
type BusConnections struct {
	Bus *bus.Bus
	// Local is the API process's own manager (nil: none runs there).
	Local *Manager
	// Timeout bounds a call to another host's manager (0: DefaultRPCTimeout).
	Timeout time.Duration
}

var _ Connections = (*BusConnections)(nil)

// local tells whether host (host@backend#pool) is Local's.
func (c *BusConnections) local(host string) bool {
	name, _, _ := strings.Cut(host, "@")
	return c.Local != nil && name == c.Local.host
}

// call sends req to the manager of req.Host and decodes its answer into resp.
func (c *BusConnections) call(ctx context.Context, call string, req connectionRequest, resp any) error {
	subject, err := managerSubject(req.Host, call)
	if err != nil {
		return err
	}
	if c.Bus == nil {
		return fmt.Errorf("volume host %s: %w", req.Host, ErrManagerTimeout)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultRPCTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = c.Bus.Call(ctx, subject, req, resp)
	// No listener (the manager is down: NATS says so at once) and no answer
	// in time are one failure to upstream, whose message waits in the host's
	// queue until the call times out.
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return fmt.Errorf("volume host %s: %w", req.Host, ErrManagerTimeout)
	}
	return err
}

// InitializeConnection exports the volume on the manager of its host.
func (c *BusConnections) InitializeConnection(ctx context.Context, host string, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error) {
	if c.local(host) {
		return c.Local.InitializeConnection(ctx, host, v, e)
	}
	var info backend.ConnectionInfo
	err := c.call(ctx, callInitializeConnection, newConnectionRequest(host, v, e), &info)
	return info, err
}

// TerminateConnection removes the attachment's export on the manager of the
// volume's host.
func (c *BusConnections) TerminateConnection(ctx context.Context, host string, v backend.Volume, attachmentID string) error {
	if c.local(host) {
		return c.Local.TerminateConnection(ctx, host, v, attachmentID)
	}
	return c.call(ctx, callTerminateConnection, newConnectionRequest(host, v, backend.Export{VolumeID: v.ID, AttachmentID: attachmentID}), nil)
}

// Nudge wakes the local manager and casts a nudge to the others: the API's
// Options.Nudge does not say which host's row it wrote, and a manager's pass
// only touches its own backends, so every manager passing once is harmless.
func (c *BusConnections) Nudge() {
	if c.Local != nil {
		c.Local.Nudge()
	}
	if c.Bus != nil {
		_ = c.Bus.Publish(SubjectManagerNudge, struct{}{})
	}
}

// faultMessage is the explanation of upstream's fault wrapper for an
// exception it does not expose (webob's HTTPInternalServerError).
const faultMessage = "The server has either erred or is incapable of performing the requested operation."

// onManagerTimeout is the 500 upstream answers when the call to a volume's
// manager timed out, with the message of the API method that made it
// (attachments' create and update catch every exception with their own;
// the older actions leave it to the fault wrapper): err itself otherwise.
func onManagerTimeout(err error, message string) error {
	if errors.Is(err, ErrManagerTimeout) {
		return httpErrorf(http.StatusInternalServerError, "%s", message)
	}
	return err
}

// ServeServiceAccess answers the volume hosts' SubjectServiceAccess with
// the API process's service token and catalog.
func ServeServiceAccess(b *bus.Bus, c *ServiceClient) error {
	return b.Handle(SubjectServiceAccess, func(ctx context.Context, _ json.RawMessage) (any, error) {
		return c.ServiceAccess(ctx)
	})
}

// BusServiceAccess is a volume host's ServiceClient.Access: the API's
// service token over b.
func BusServiceAccess(b *bus.Bus) func(ctx context.Context) (ServiceAccess, error) {
	return func(ctx context.Context) (ServiceAccess, error) {
		var a ServiceAccess
		if err := b.Call(ctx, SubjectServiceAccess, struct{}{}, &a); err != nil {
			return a, err
		}
		if a.Token == "" {
			return a, errors.New("the API process answered no token")
		}
		return a, nil
	}
}
