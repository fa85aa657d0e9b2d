package clients

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Port bindings (the network API's binding-extended), the calls a live
// migration makes as upstream's nova/network/neutron.py does: an INACTIVE
// binding for the destination before the move (bind_ports_to_host),
// activated at the switch-over (activate_port_binding), the source's
// deleted after (delete_port_binding). All as the compute service, whose
// service role the network API's rules ask for.

// CreatePortBinding makes the port's binding to host; one already there is
// no error, so a pre_live_migration that runs again goes on.
func (c *Network) CreatePortBinding(ctx context.Context, portID, host string) error {
	err := c.e.send(ctx, "", http.MethodPost, "v2.0/ports/"+url.PathEscape(portID)+"/bindings",
		map[string]any{"binding": map[string]any{"host": host}}, nil, http.StatusCreated)
	if httpapi.IsStatus(err, http.StatusConflict) {
		return nil
	}
	return err
}

// ActivatePortBinding makes host's binding the port's active one; one that
// is active already is no error.
func (c *Network) ActivatePortBinding(ctx context.Context, portID, host string) error {
	err := c.e.send(ctx, "", http.MethodPut, "v2.0/ports/"+url.PathEscape(portID)+"/bindings/"+url.PathEscape(host)+"/activate",
		nil, nil, http.StatusOK)
	if httpapi.IsStatus(err, http.StatusConflict) {
		return nil
	}
	return err
}

// DeletePortBinding removes the port's binding to host; none there (or no
// port) is no error.
func (c *Network) DeletePortBinding(ctx context.Context, portID, host string) error {
	err := c.e.remove(ctx, "", "v2.0/ports/"+url.PathEscape(portID)+"/bindings/"+url.PathEscape(host))
	var he *httpapi.Error
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return nil
	}
	return err
}
