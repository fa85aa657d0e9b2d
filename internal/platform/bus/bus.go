// Package bus is Nimbus's message bus: an embedded NATS server for all-in-one, or a
// client of an external NATS cluster; request/reply RPC with deadlines, and events.
package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Bus is a connection to NATS, owning the embedded server when there is one.
type Bus struct {
	conn   *nats.Conn
	server *server.Server
	log    *slog.Logger
	closed chan struct{} // closed when the connection has fully closed
	// URL other processes use to join this bus; it carries the token, so it is a
	// secret (Redacted is for logs).
	URL string
}

// Redacted is the bus URL without its credentials.
func (b *Bus) Redacted() string { return redact(b.URL) }

func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	if _, host, ok := strings.Cut(rest, "@"); ok {
		return scheme + "://***@" + host
	}
	return url
}

// DefaultRPCTimeout bounds calls whose context has no deadline.
const DefaultRPCTimeout = 30 * time.Second

// Options say which bus to use: an existing NATS at URL, or an embedded server.
type Options struct {
	// URL of the NATS to join (a token as nats://TOKEN@host:port); empty starts the
	// embedded server.
	URL string
	// Host and Port the embedded server listens on (defaults 127.0.0.1 and a free port).
	Host string
	Port int
	// Token, when set, is what every client of the embedded server must present:
	// other processes join through it, so nothing else on the host may.
	Token string
	Log   *slog.Logger
}

// Start connects to o.URL, or without one starts an embedded server.
func Start(o Options) (*Bus, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	b := &Bus{log: log, URL: o.URL}
	if o.URL == "" {
		host, port := o.Host, o.Port
		if host == "" {
			host = "127.0.0.1"
		}
		if port == 0 {
			port = server.RANDOM_PORT
		}
		srv, err := server.NewServer(&server.Options{
			Host:                  host,
			Port:                  port,
			Authorization:         o.Token,
			NoSigs:                true,
			NoLog:                 true,
			MaxPayload:            8 << 20,
			DisableShortFirstPing: true,
		})
		if err != nil {
			return nil, fmt.Errorf("start embedded NATS: %w", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			srv.Shutdown()
			return nil, errors.New("embedded NATS did not become ready")
		}
		b.server = srv
		b.URL = srv.ClientURL()
		if o.Token != "" {
			b.URL = strings.Replace(b.URL, "://", "://"+o.Token+"@", 1)
		}
	}
	b.closed = make(chan struct{})
	connectOpts := []nats.Option{nats.Name("nimbus"), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.DrainTimeout(5 * time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus disconnected", "error", err)
			}
		})}
	conn, err := nats.Connect(b.URL, connectOpts...)
	if err != nil {
		if b.server != nil {
			b.server.Shutdown()
		}
		return nil, fmt.Errorf("connect to NATS %s: %w", redact(b.URL), err)
	}
	b.conn = conn
	return b, nil
}

// Close drains subscriptions and stops the embedded server.
func (b *Bus) Close() {
	if b.conn != nil {
		// Drain lets in-flight handlers answer before the connection closes.
		if err := b.conn.Drain(); err == nil {
			<-b.closed
		}
		b.conn.Close()
	}
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
}

// rpcReply is the envelope of every RPC answer, so remote errors keep their text.
type rpcReply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
	// An API error's status, kind and message (RemoteError).
	Status  int    `json:"status,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message,omitempty"`
}

// RemoteError is an error returned by the handler at the other end of a call.
// When the handler's error was an API error (httpapi.Error), Status, Kind and
// Message carry it, so that it means the same at the caller's end (a 404 stays a
// 404: httpapi.FromRemote makes it an *httpapi.Error again).
type RemoteError struct {
	Msg     string
	Status  int
	Kind    string
	Message string
}

func (e *RemoteError) Error() string { return e.Msg }

// apiError is what an API error tells the other end of a call; *httpapi.Error
// has it (the bus cannot import httpapi, which depends on it through auth).
type apiError interface {
	APIError() (status int, kind, message string)
}

// Handle serves RPCs on subject; handlers of one subject share the load (queue group).
func (b *Bus) Handle(subject string, h func(ctx context.Context, req json.RawMessage) (any, error)) error {
	_, err := b.conn.QueueSubscribe(subject, subject, func(m *nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultRPCTimeout)
		defer cancel()
		var reply rpcReply
		res, err := h(ctx, m.Data)
		var apiErr apiError
		if err != nil {
			reply.Error = err.Error()
			if errors.As(err, &apiErr) {
				reply.Status, reply.Kind, reply.Message = apiErr.APIError()
			}
		} else if reply.Result, err = json.Marshal(res); err != nil {
			reply.Error = err.Error()
		}
		data, _ := json.Marshal(reply)
		if err := m.Respond(data); err != nil {
			b.log.Warn("bus reply failed", "subject", subject, "error", err)
		}
	})
	return err
}

// Decode reads an RPC request a handler got.
func Decode[T any](raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("bad request: %w", err)
	}
	return v, nil
}

// Call sends req to subject and decodes the answer into resp, within ctx's deadline.
func (b *Bus) Call(ctx context.Context, subject string, req, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRPCTimeout)
		defer cancel()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", subject, err)
	}
	m, err := b.conn.RequestWithContext(ctx, subject, data)
	if err != nil {
		return fmt.Errorf("call %s: %w", subject, err)
	}
	var reply rpcReply
	if err := json.Unmarshal(m.Data, &reply); err != nil {
		return fmt.Errorf("decode %s reply: %w", subject, err)
	}
	if reply.Error != "" {
		return &RemoteError{Msg: reply.Error, Status: reply.Status, Kind: reply.Kind, Message: reply.Message}
	}
	if resp != nil && len(reply.Result) > 0 {
		return json.Unmarshal(reply.Result, resp)
	}
	return nil
}

// Publish sends an event; delivery is at-most-once, so receivers must also resync.
func (b *Bus) Publish(subject string, event any) error {
	data, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", subject, err)
	}
	return b.conn.Publish(subject, data)
}

// Subscribe delivers every event on subject to fn.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (func(), error) {
	sub, err := b.conn.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Flush waits until the server has processed everything sent so far.
func (b *Bus) Flush() error { return b.conn.Flush() }
