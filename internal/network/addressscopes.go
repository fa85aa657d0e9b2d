package network

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// addressScopeBody is an address scope (the address-scope extension): subnet pools
// of one scope never overlap, and routers route between subnets of one scope
// without NAT. It has no standard attributes upstream (no description, tags nor
// timestamps).
type addressScopeBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
	Shared    bool   `json:"shared"`
	IPVersion int    `json:"ip_version"`
}

// addressScopeAttributes is neutron-lib's api/definitions/address_scope.py.
var addressScopeAttributes = append(readOnly("id"), attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "project_id", post: true, validate: validString(projectIDFieldSize)},
	{name: "tenant_id", post: true, validate: validString(projectIDFieldSize)},
	{name: "shared", post: true, put: true, convert: toBoolean},
	{name: "ip_version", post: true, required: true, convert: toInt, validate: validValues(4, 6)},
}...)

func (s *Service) addressScopeRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/address-scopes", Handler: s.listAddressScopes},
		{Method: "POST", Path: "/v2.0/address-scopes", Handler: s.createAddressScope},
		{Method: "GET", Path: "/v2.0/address-scopes/{id}", Handler: s.showAddressScope},
		{Method: "PUT", Path: "/v2.0/address-scopes/{id}", Handler: s.updateAddressScope},
		{Method: "DELETE", Path: "/v2.0/address-scopes/{id}", Handler: s.deleteAddressScope},
	}
}

func (a *addressScopeBody) target() map[string]any {
	return map[string]any{"id": a.ID, "project_id": a.ProjectID, "tenant_id": a.ProjectID, "shared": a.Shared}
}

func addressScopeJSON(a *addressScopeBody) object {
	o := render(a)
	delete(o, "tags") // render adds tags; address scopes have none upstream
	return o
}

var addressScopeKind = resourceKind{table: "address_scopes", getRule: "get_address_scope", notFoundType: "AddressScopeNotFound", label: "Address scope"}

func (s *Service) visibleAddressScope(ctx context.Context, c caller, q db.Querier, id string) (*addressScopeBody, error) {
	return loadVisible[addressScopeBody](ctx, s, c, q, addressScopeKind, id)
}

func (s *Service) listAddressScopes(r *http.Request) (httpapi.Response, error) {
	return listVisible[addressScopeBody](r, s, addressScopeKind, "address_scopes", addressScopeJSON)
}

func (s *Service) showAddressScope(r *http.Request) (httpapi.Response, error) {
	a, err := s.visibleAddressScope(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "address_scope", addressScopeJSON(a)), nil
}

func (s *Service) createAddressScope(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "address_scope", addressScopeAttributes, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	a := &addressScopeBody{ID: newUUID(), ProjectID: project, IPVersion: attrs["ip_version"].(int)}
	a.apply(attrs)
	if err := s.authorize(c, "address_scope", "create_address_scope", a.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(r.Context(), `INSERT INTO address_scopes (id, project_id, body) VALUES (?, ?, ?)`,
			a.ID, a.ProjectID, marshal(a))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"address_scope": addressScopeJSON(a)}), nil
}

func (a *addressScopeBody) apply(attrs map[string]any) {
	if v, ok := attrs["name"].(string); ok {
		a.Name = v
	}
	if v, ok := attrs["shared"].(bool); ok {
		a.Shared = v
	}
}

func (s *Service) updateAddressScope(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "address_scope", addressScopeAttributes, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var a *addressScopeBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if a, err = s.visibleAddressScope(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		wasShared := a.Shared
		a.apply(attrs)
		if err := s.authorize(c, "address_scope", "update_address_scope", a.target(), attrs, false); err != nil {
			return err
		}
		// As upstream (AddressScopeUpdateError): a shared scope stays shared.
		if wasShared && !a.Shared {
			return neutronError(http.StatusBadRequest, "AddressScopeUpdateError",
				"Unable to update address scope %s : Shared address scope can't be unshared.", a.ID)
		}
		return saveBody(r.Context(), tx, "address_scopes", a.ID, a)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"address_scope": addressScopeJSON(a)}), nil
}

func (s *Service) deleteAddressScope(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		a, err := s.visibleAddressScope(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_address_scope", a.target()); err != nil {
			return err
		}
		var pools int
		if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM subnetpools WHERE address_scope_id = ?`, a.ID).Scan(&pools); err != nil {
			return err
		}
		if pools > 0 {
			return conflict("AddressScopeInUse", "Unable to complete operation on address scope %s. There are one or more subnet pools in use on the address scope.", a.ID)
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM address_scopes WHERE id = ?`, a.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
