package compute

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// resetState is os-resetState (nova/api/openstack/compute/admin_actions.py):
// an admin sets the server's vm_state to active or error and clears its task,
// recorded as the resetState action; the host's agent converges on the state
// written.
func (s *Service) resetState(r *http.Request, arg []byte) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-admin-actions:reset_state")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		State string `json:"state"`
	}
	if err := decodeAction("os-resetState", arg, func(n string) bool { return n == "state" }, &req); err != nil {
		return httpapi.Response{}, err
	}
	state := map[string]string{"active": vmActive, "error": vmError}[req.State]
	if state == "" {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute state. Value: %s. '%s' is not one of ['active', 'error']", req.State, req.State)
	}
	err = s.changeInstance(r, in.UUID, "resetState", func(_ *db.Tx, cur *instance) error {
		cur.VMState, cur.TaskState = state, ""
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.kick(in.Host)
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// serverPasswordRoutes are os-server-password
// (nova/api/openstack/compute/server_password.py): the password the guest
// posted to the metadata service, shown to the server's readers, cleared by
// its members.
func (s *Service) serverPasswordRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/os-server-password", Handler: s.showServerPassword,
			Schemas: []httpapi.Schema{{Responses: map[int]map[string]any{200: serverPasswordResponse}}}},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/os-server-password", Handler: s.clearServerPassword},
	}
}

// serverPasswordResponse is nova/api/openstack/compute/schemas/server_password.py's
// index_response.
var serverPasswordResponse = map[string]any{
	"type":                 "object",
	"properties":           map[string]any{"password": map[string]any{"type": "string"}},
	"required":             []any{"password"},
	"additionalProperties": false,
}

func (s *Service) showServerPassword(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-server-password:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"password": in.Request.Password}), nil
}

func (s *Service) clearServerPassword(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-server-password:clear")
	if err != nil {
		return httpapi.Response{}, err
	}
	err = s.changeInstance(r, in.UUID, "", func(_ *db.Tx, cur *instance) error {
		cur.Request.Password = ""
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

var _ metadata.PasswordStore = (*Service)(nil)

// SetPassword keeps the password a guest posted to the metadata service
// (metadata.PasswordStore); the metadata handler refuses a second one.
func (s *Service) SetPassword(ctx context.Context, uuid, password string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, uuid)
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return metadata.ErrNotFound
		}
		if err != nil {
			return err
		}
		if cur.Deleted {
			return metadata.ErrNotFound
		}
		cur.Request.Password = password
		cur.UpdatedAt = stamp(s.now())
		return saveInstance(ctx, tx, cur)
	})
}
