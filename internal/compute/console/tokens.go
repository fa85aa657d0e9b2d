package console

import (
	"context"
	"errors"
)

// ErrInvalidToken is what a Tokens implementation returns (wrapped or not) for a token
// that is unknown, already used or expired; the proxy answers it with 403. Any other
// error is the store failing, answered with 500.
var ErrInvalidToken = errors.New("console token is invalid or has expired")

// Tokens authorizes console connections. The compute service implements it on its
// database; MemoryTokens serves the all-in-one and the tests.
type Tokens interface {
	// Consume validates token and spends it: a second call with the same token fails
	// with ErrInvalidToken, as does a call after the token's expiry. Single use is
	// stricter than upstream, whose tokens stay valid until they expire: a leaked URL
	// (browser history, a proxy's access log) opens nothing, and a reload asks for a
	// new `openstack console url show`.
	Consume(ctx context.Context, token string) (Target, error)
}

// Target says how to reach a guest's VNC server.
type Target struct {
	// Socket is the unix socket QEMU serves VNC on (<instance dir>/vnc.sock), used
	// when the guest runs on the proxy's own host.
	Socket string
	// Addr is host:port of the guest's VNC server when it runs on another host; when
	// set it wins over Socket, since that socket path is on the other machine.
	Addr string
}

// network returns the net.Dial network and address for the target.
func (t Target) network() (network, address string, err error) {
	switch {
	case t.Addr != "":
		return "tcp", t.Addr, nil
	case t.Socket != "":
		return "unix", t.Socket, nil
	default:
		return "", "", errors.New("console target has neither a socket nor an address")
	}
}

// String names the target for logs.
func (t Target) String() string {
	n, a, err := t.network()
	if err != nil {
		return "<none>"
	}
	return n + ":" + a
}
