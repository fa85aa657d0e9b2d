package network

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// addressGroupBody is an address group (the address-group extension): a set of
// CIDRs a security group rule names as its remote (remote_address_group_id). Its
// addresses change only through add_addresses and remove_addresses. Upstream's
// address groups have standard attributes but are not taggable.
type addressGroupBody struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	ProjectID      string   `json:"project_id"`
	Addresses      []string `json:"addresses"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	RevisionNumber int      `json:"revision_number"`
}

// addressGroupAttributes is neutron-lib's api/definitions/address_group.py.
var addressGroupAttributes = append(readOnly("id", "created_at", "updated_at", "revision_number"), attributeMap{
	{name: "name", post: true, put: true, validate: validString(nameFieldSize)},
	{name: "description", post: true, put: true, validate: validString(longDescriptionFieldSize)},
	{name: "project_id", post: true, validate: validString(projectIDFieldSize)},
	{name: "tenant_id", post: true, validate: validString(projectIDFieldSize)},
	{name: "addresses", post: true, convert: noneToEmptyList, validate: validSubnetList},
}...)

func (s *Service) addressGroupRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/address-groups", Handler: s.listAddressGroups},
		{Method: "POST", Path: "/v2.0/address-groups", Handler: s.createAddressGroup},
		{Method: "GET", Path: "/v2.0/address-groups/{id}", Handler: s.showAddressGroup},
		{Method: "PUT", Path: "/v2.0/address-groups/{id}", Handler: s.updateAddressGroup},
		{Method: "DELETE", Path: "/v2.0/address-groups/{id}", Handler: s.deleteAddressGroup},
		{Method: "PUT", Path: "/v2.0/address-groups/{id}/add_addresses", Handler: s.addAddresses},
		{Method: "PUT", Path: "/v2.0/address-groups/{id}/remove_addresses", Handler: s.removeAddresses},
	}
}

// target: upstream's address groups are never shared (shared is not settable).
func (g *addressGroupBody) target() map[string]any {
	return map[string]any{"id": g.ID, "project_id": g.ProjectID, "tenant_id": g.ProjectID, "shared": false}
}

func addressGroupJSON(g *addressGroupBody) object {
	o := render(g)
	delete(o, "tags")
	return o
}

var addressGroupKind = resourceKind{table: "address_groups", getRule: "get_address_group", notFoundType: "AddressGroupNotFound", label: "Address group"}

func (s *Service) visibleAddressGroup(ctx context.Context, c caller, q db.Querier, id string) (*addressGroupBody, error) {
	return loadVisible[addressGroupBody](ctx, s, c, q, addressGroupKind, id)
}

func (s *Service) listAddressGroups(r *http.Request) (httpapi.Response, error) {
	return listVisible[addressGroupBody](r, s, addressGroupKind, "address_groups", addressGroupJSON)
}

func (s *Service) showAddressGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.visibleAddressGroup(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "address_group", addressGroupJSON(g)), nil
}

// normalizedAddresses are CIDRs as upstream stores them (netaddr's str of the
// network), in the order given.
func normalizedAddresses(v any) []string {
	out := []string{}
	for _, a := range stringList(v) {
		if p, err := netip.ParsePrefix(a); err == nil {
			a = p.Masked().String()
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func (g *addressGroupBody) apply(attrs map[string]any) {
	if v, ok := attrs["name"].(string); ok {
		g.Name = v
	}
	if v, ok := attrs["description"].(string); ok {
		g.Description = v
	}
}

func (s *Service) createAddressGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "address_group", addressGroupAttributes, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := stamp(s.now())
	g := &addressGroupBody{ID: newUUID(), ProjectID: project, Addresses: normalizedAddresses(attrs["addresses"]),
		CreatedAt: now, UpdatedAt: now, RevisionNumber: 1}
	g.apply(attrs)
	if err := s.authorize(c, "address_group", "create_address_group", g.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(r.Context(), `INSERT INTO address_groups (id, project_id, body) VALUES (?, ?, ?)`, g.ID, g.ProjectID, marshal(g))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"address_group": addressGroupJSON(g)}), nil
}

func (s *Service) updateAddressGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "address_group", addressGroupAttributes, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var g *addressGroupBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if g, err = s.visibleAddressGroup(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "address_group", "update_address_group", g.target(), attrs, false); err != nil {
			return err
		}
		g.apply(attrs)
		g.UpdatedAt = stamp(s.now())
		g.RevisionNumber++
		return saveBody(r.Context(), tx, "address_groups", g.ID, g)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"address_group": addressGroupJSON(g)}), nil
}

func (s *Service) deleteAddressGroup(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		g, err := s.visibleAddressGroup(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_address_group", g.target()); err != nil {
			return err
		}
		var rules int
		if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM security_group_rules WHERE remote_address_group_id = ?`, g.ID).Scan(&rules); err != nil {
			return err
		}
		if rules > 0 {
			return conflict("AddressGroupInUse", "Address group %s is in use on one or more security group rules.", g.ID)
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM address_groups WHERE id = ?`, g.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func (s *Service) addAddresses(r *http.Request) (httpapi.Response, error) {
	return s.changeAddresses(r, "add_addresses", func(g *addressGroupBody, addrs []string) error {
		var present []string
		for _, a := range addrs {
			if slices.Contains(g.Addresses, a) {
				present = append(present, a)
			}
		}
		if len(present) > 0 {
			return neutronError(http.StatusBadRequest, "AddressesAlreadyExist", "Addresses %s already exist in the address group %s.",
				pyList(present), g.ID)
		}
		g.Addresses = append(g.Addresses, addrs...)
		return nil
	})
}

func (s *Service) removeAddresses(r *http.Request) (httpapi.Response, error) {
	return s.changeAddresses(r, "remove_addresses", func(g *addressGroupBody, addrs []string) error {
		var missing []string
		for _, a := range addrs {
			if !slices.Contains(g.Addresses, a) {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			return neutronError(http.StatusNotFound, "AddressesNotFound", "Addresses %s not found in the address group %s.",
				pyList(missing), g.ID)
		}
		g.Addresses = slices.DeleteFunc(g.Addresses, func(a string) bool { return slices.Contains(addrs, a) })
		return nil
	})
}

// pyList is a list of strings as Python prints it: ['a', 'b'].
func pyList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// changeAddresses runs add_addresses or remove_addresses, whose body is
// {"addresses": [...]} (neutron's address_group_db); the answer is the group.
func (s *Service) changeAddresses(r *http.Request, rule string, change func(g *addressGroupBody, addrs []string) error) (httpapi.Response, error) {
	c := s.caller(r)
	var attrs map[string]any
	if err := httpapi.DecodeJSON(r, &attrs); err != nil {
		return httpapi.Response{}, badRequest("%s", err.Error())
	}
	if _, ok := attrs["addresses"]; !ok {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'addresses' not specified")
	}
	if msg := validSubnetList(attrs["addresses"]); msg != "" {
		return httpapi.Response{}, badRequest("Invalid input for addresses. Reason: %s.", msg)
	}
	addrs := normalizedAddresses(attrs["addresses"])
	var g *addressGroupBody
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if g, err = s.visibleAddressGroup(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, rule, g.target()); err != nil {
			return err
		}
		if err := change(g, addrs); err != nil {
			return err
		}
		g.UpdatedAt = stamp(s.now())
		g.RevisionNumber++
		return saveBody(r.Context(), tx, "address_groups", g.ID, g)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"address_group": addressGroupJSON(g)}), nil
}
