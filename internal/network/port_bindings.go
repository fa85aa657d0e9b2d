package network

import (
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Port bindings (upstream's binding-extended extension, ML2's multiple port
// bindings), what Nova's live migration uses: before the move it creates an
// INACTIVE binding of each port for the destination host, so the
// destination's agent wires the port's tap while the guest still runs on
// the source; at the switch-over it activates that binding (the port's
// binding:host_id becomes the destination, the source's binding INACTIVE)
// and afterwards deletes the source's. The port keeps its id, MAC and
// addresses throughout.
//
// The port's active binding is its binding:* attributes, as before; the
// others are kept in its body beside them (portBody.Bindings), never shown
// as port attributes.

// Binding statuses (neutron-lib's constants).
const (
	bindingActive   = "ACTIVE"
	bindingInactive = "INACTIVE"
)

// portBinding is a port's binding to a host other than its active one.
type portBinding struct {
	Host     string         `json:"host"`
	VNICType string         `json:"vnic_type"`
	Profile  map[string]any `json:"profile"`
	// Deactivated marks the binding that was active until another was
	// activated (the source's, after a live migration): its host's agent
	// no longer wires the port, unlike a new INACTIVE binding's.
	Deactivated bool `json:"deactivated,omitempty"`
}

func (s *Service) portBindingRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/ports/{id}/bindings", Handler: s.listPortBindings},
		{Method: "POST", Path: "/v2.0/ports/{id}/bindings", Handler: s.createPortBinding},
		{Method: "GET", Path: "/v2.0/ports/{id}/bindings/{host}", Handler: s.showPortBinding},
		{Method: "PUT", Path: "/v2.0/ports/{id}/bindings/{host}/activate", Handler: s.activatePortBinding},
		{Method: "DELETE", Path: "/v2.0/ports/{id}/bindings/{host}", Handler: s.deletePortBinding},
	}
}

// bindingSchema is one binding as upstream's _make_port_binding_dict.
var bindingSchema = jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"host": str, "vif_type": str,
	"vnic_type": str, "status": str, "profile": objectOrAny, "vif_details": objectOrAny},
	"required": []any{"host", "vif_type", "vnic_type", "status", "profile", "vif_details"}, "additionalProperties": false}

func portBindingSchemas() map[string]map[int]jsonschema.Schema {
	one := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{"binding": bindingSchema},
		"required": []any{"binding"}, "additionalProperties": false}
	list := jsonschema.Schema{"type": "object", "properties": jsonschema.Schema{
		"bindings": jsonschema.Schema{"type": "array", "items": bindingSchema}},
		"required": []any{"bindings"}, "additionalProperties": false}
	return map[string]map[int]jsonschema.Schema{
		"GET /v2.0/ports/{id}/bindings":                 {http.StatusOK: list},
		"POST /v2.0/ports/{id}/bindings":                {http.StatusCreated: one},
		"GET /v2.0/ports/{id}/bindings/{host}":          {http.StatusOK: one},
		"PUT /v2.0/ports/{id}/bindings/{host}/activate": {http.StatusOK: one},
		"DELETE /v2.0/ports/{id}/bindings/{host}":       noContent,
	}
}

// bindingFor is the port's binding to host (nil when it has none) and
// whether it is the active one.
func (p *portBody) bindingFor(host string) (*portBinding, bool) {
	if host == "" {
		return nil, false
	}
	if p.BindingHostID == host {
		return &portBinding{Host: host, VNICType: p.BindingVNICType, Profile: p.BindingProfile}, true
	}
	for i := range p.Bindings {
		if p.Bindings[i].Host == host {
			return &p.Bindings[i], false
		}
	}
	return nil, false
}

// wiredOn reports whether host's agent wires the port: its active host, and
// a host with a new INACTIVE binding (a live migration's destination).
func (p *portBody) wiredOn(host string) bool {
	b, active := p.bindingFor(host)
	return b != nil && (active || !b.Deactivated)
}

// bindingJSON is the binding as the API shows it (upstream's
// _make_port_binding_dict): its VIF as the port's would be on that host.
func (s *Service) bindingJSON(n *networkBody, b *portBinding, active bool) object {
	view := portBody{BindingHostID: b.Host}
	s.bind(&view, n)
	status := bindingInactive
	if active {
		status = bindingActive
	}
	profile := b.Profile
	if profile == nil {
		profile = map[string]any{}
	}
	vnic := b.VNICType
	if vnic == "" {
		vnic = "normal"
	}
	return object{"host": b.Host, "vif_type": view.BindingVIFType, "vnic_type": vnic, "status": status,
		"profile": profile, "vif_details": view.BindingVIFDetails}
}

// portForBinding loads the port for a binding call after the policy check:
// upstream answers 404 for a port the caller may not see.
func (s *Service) portForBinding(r *http.Request, q db.Querier, action string) (*portBody, *networkBody, error) {
	c := s.caller(r)
	p, n, err := s.visiblePort(r.Context(), c, q, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	if err := s.authorize(c, "binding", action, portTarget(p, n), nil, false); err != nil {
		return nil, nil, err
	}
	return p, n, nil
}

func (s *Service) listPortBindings(r *http.Request) (httpapi.Response, error) {
	p, n, err := s.portForBinding(r, s.db, "get_port_binding")
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []object{}
	if b, active := p.bindingFor(p.BindingHostID); b != nil {
		out = append(out, s.bindingJSON(n, b, active))
	}
	for i := range p.Bindings {
		out = append(out, s.bindingJSON(n, &p.Bindings[i], false))
	}
	return httpapi.OK(map[string]any{"bindings": out}), nil
}

func (s *Service) showPortBinding(r *http.Request) (httpapi.Response, error) {
	p, n, err := s.portForBinding(r, s.db, "get_port_binding")
	if err != nil {
		return httpapi.Response{}, err
	}
	host := r.PathValue("host")
	b, active := p.bindingFor(host)
	if b == nil {
		return httpapi.Response{}, bindingNotFound(p.ID, host)
	}
	return httpapi.OK(map[string]any{"binding": s.bindingJSON(n, b, active)}), nil
}

// createPortBinding adds a binding for a host: INACTIVE when the port has
// an active binding, else the port's active binding (binding:host_id).
func (s *Service) createPortBinding(r *http.Request) (httpapi.Response, error) {
	var body struct {
		Binding *struct {
			Host     *string        `json:"host"`
			VNICType *string        `json:"vnic_type"`
			Profile  map[string]any `json:"profile"`
		} `json:"binding"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return httpapi.Response{}, badRequest("%s", err.Error())
	}
	if body.Binding == nil {
		return httpapi.Response{}, badRequest("Unable to find 'binding' in request body")
	}
	if body.Binding.Host == nil || *body.Binding.Host == "" {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'host' not specified")
	}
	if len(*body.Binding.Host) > 255 {
		return httpapi.Response{}, invalidInput("'%s' exceeds maximum length of 255", *body.Binding.Host)
	}
	vnic := "normal"
	if body.Binding.VNICType != nil {
		if *body.Binding.VNICType != "normal" {
			return httpapi.Response{}, invalidInput("'%s' is not in ['normal']", *body.Binding.VNICType)
		}
		vnic = *body.Binding.VNICType
	}
	host := *body.Binding.Host
	var out object
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		p, n, err := s.portForBinding(r, tx, "create_port_binding")
		if err != nil {
			return err
		}
		if b, _ := p.bindingFor(host); b != nil {
			return conflict("PortBindingAlreadyExists", "Binding for port %s on host %s already exists.", p.ID, host)
		}
		b := portBinding{Host: host, VNICType: vnic, Profile: body.Binding.Profile}
		active := p.BindingHostID == ""
		if active {
			p.BindingHostID, p.BindingVNICType, p.BindingProfile = host, vnic, b.Profile
			if p.BindingProfile == nil {
				p.BindingProfile = map[string]any{}
			}
			s.bind(p, n)
			if _, err := tx.ExecContext(r.Context(), `UPDATE ports SET host_id = ? WHERE id = ?`, host, p.ID); err != nil {
				return err
			}
		} else {
			p.Bindings = append(p.Bindings, b)
		}
		p.touch(stamp(s.now()))
		if err := saveBody(r.Context(), tx, "ports", p.ID, p); err != nil {
			return err
		}
		stored, _ := p.bindingFor(host)
		out = s.bindingJSON(n, stored, active)
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"binding": out}), nil
}

// activatePortBinding makes host's INACTIVE binding the port's active one;
// the binding that was active stays, INACTIVE, until it is deleted. The
// port's status is left as it is: the guest never stopped using the port,
// and the agents wired the destination's tap before (upstream marks it DOWN
// until the destination's agent reports, which here has already wired it).
func (s *Service) activatePortBinding(r *http.Request) (httpapi.Response, error) {
	host := r.PathValue("host")
	var out object
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		p, n, err := s.portForBinding(r, tx, "activate")
		if err != nil {
			return err
		}
		b, active := p.bindingFor(host)
		if active {
			return conflict("PortBindingAlreadyActive", "Binding for port %s on host %s is already active.", p.ID, host)
		}
		// A deactivated binding may be activated again: a live migration
		// rolled back after its switch-over returns the port to its source.
		if b == nil {
			return bindingNotFound(p.ID, host)
		}
		next := *b
		p.Bindings = slices.DeleteFunc(p.Bindings, func(o portBinding) bool { return o.Host == host })
		if p.BindingHostID != "" {
			p.Bindings = append(p.Bindings, portBinding{Host: p.BindingHostID, VNICType: p.BindingVNICType,
				Profile: p.BindingProfile, Deactivated: true})
		}
		p.BindingHostID, p.BindingVNICType, p.BindingProfile = next.Host, next.VNICType, next.Profile
		if p.BindingProfile == nil {
			p.BindingProfile = map[string]any{}
		}
		s.bind(p, n)
		if _, err := tx.ExecContext(r.Context(), `UPDATE ports SET host_id = ? WHERE id = ?`, host, p.ID); err != nil {
			return err
		}
		p.touch(stamp(s.now()))
		if err := saveBody(r.Context(), tx, "ports", p.ID, p); err != nil {
			return err
		}
		stored, _ := p.bindingFor(host)
		out = s.bindingJSON(n, stored, true)
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"binding": out}), nil
}

// deletePortBinding removes host's binding; the active one's removal
// leaves the port unbound, as upstream's delete of the port's binding row.
// A binding that is not there is no error (upstream deletes by filter).
func (s *Service) deletePortBinding(r *http.Request) (httpapi.Response, error) {
	host := r.PathValue("host")
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		p, n, err := s.portForBinding(r, tx, "delete_port_binding")
		if err != nil {
			return err
		}
		b, active := p.bindingFor(host)
		switch {
		case b == nil:
			return nil
		case active:
			p.BindingHostID = ""
			s.bind(p, n)
			if _, err := tx.ExecContext(r.Context(), `UPDATE ports SET host_id = '' WHERE id = ?`, p.ID); err != nil {
				return err
			}
		default:
			p.Bindings = slices.DeleteFunc(p.Bindings, func(o portBinding) bool { return o.Host == host })
		}
		p.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "ports", p.ID, p)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

func bindingNotFound(portID, host string) error {
	return neutronError(http.StatusNotFound, "PortBindingNotFound", "Binding for port %s for host %s could not be found.", portID, host)
}

// movedRecently reports whether a DOWN report for the port may come from the
// host its binding left (the source of a live migration, whose agent stops
// wiring the port once the destination's binding is active): while that
// binding is there, the report says nothing of the port's own host.
func (p *portBody) movedRecently() bool {
	return slices.ContainsFunc(p.Bindings, func(b portBinding) bool { return b.Deactivated })
}
