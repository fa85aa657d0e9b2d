package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"unicode"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// createExtras are the create request's fields of microversions after 2.1.
type createExtras struct {
	description *string
	tags        []string
	hostname    string // "" derives it from the name
	host, node  string // 2.74's requested destination
}

// unexpected is the 400 upstream's schemas answer for a property the request's
// microversion does not have.
func unexpected(field string) error {
	return badRequest("Invalid input for field/attribute server. Additional properties are not allowed ('%s' was unexpected)", field)
}

func present(raw json.RawMessage) bool { return raw != nil }

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// hostnameRE is upstream's parameter_types.hostname (2.90-2.93); fqdnRE its
// fqdn (hostname from 2.94, host and hypervisor_hostname from 2.74).
var (
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$`)
	fqdnRE     = regexp.MustCompile(`^[a-zA-Z0-9-._]*$`)
)

// stringField decodes a raw string field, 400 when it is not a string.
func stringField(field string, raw json.RawMessage) (string, error) {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", badRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string'", field, raw, raw)
	}
	return v, nil
}

// hostnameField validates a requested hostname: from 2.94 an FQDN of up to 255
// characters, before a single label of 2-63.
func hostnameField(r *http.Request, raw json.RawMessage) (string, error) {
	h, err := stringField("hostname", raw)
	if err != nil {
		return "", err
	}
	if since(r, 94) {
		if h == "" || len(h) > 255 || !fqdnRE.MatchString(h) {
			return "", badRequest("Invalid input for field/attribute hostname. Value: %s. It must be 1-255 characters of letters, digits, '-', '.' and '_'", h)
		}
		return h, nil
	}
	if len(h) < 2 || len(h) > 63 || !hostnameRE.MatchString(h) {
		return "", badRequest("Invalid input for field/attribute hostname. Value: %s. It must be 2-63 letters, digits and '-', not starting or ending with '-'", h)
	}
	return h, nil
}

// descriptionField is upstream's parameter_types.description: null or up to
// 255 printable characters.
func descriptionField(raw json.RawMessage) (*string, error) {
	if isNull(raw) {
		return nil, nil
	}
	d, err := stringField("description", raw)
	if err != nil {
		return nil, err
	}
	if len([]rune(d)) > 255 || slices.ContainsFunc([]rune(d), func(c rune) bool { return !unicode.IsPrint(c) && !unicode.IsSpace(c) || c == '\n' || c == '\r' }) {
		return nil, badRequest("Invalid input for field/attribute description. Value: %s. It must be at most 255 printable characters", d)
	}
	return &d, nil
}

// createExtrasOf checks the fields each microversion adds (and 2.57's removal
// of personality); a field the request's version lacks is 400, as upstream's
// schemas forbid additional properties.
func (s *Service) createExtrasOf(r *http.Request, in *createServerFields, name string, maxCount int) (createExtras, error) {
	var x createExtras
	switch {
	case !since(r, 19):
		if present(in.Description) {
			return x, unexpected("description")
		}
		x.description = &name // as upstream: before 2.19 the description is the name
	case present(in.Description):
		d, err := descriptionField(in.Description)
		if err != nil {
			return x, err
		}
		x.description = d
	}
	if present(in.Tags) {
		if !since(r, 52) {
			return x, unexpected("tags")
		}
		var raw any
		_ = json.Unmarshal(in.Tags, &raw)
		tags, err := tagsField(raw)
		if err != nil {
			return x, err
		}
		x.tags = tags
	}
	if present(in.Personality) && since(r, 57) {
		return x, unexpected("personality")
	}
	if present(in.TrustedImageCertificates) {
		if !since(r, 63) {
			return x, unexpected("trusted_image_certificates")
		}
		var certs []string
		if err := json.Unmarshal(in.TrustedImageCertificates, &certs); err != nil {
			return x, badRequest("Invalid input for field/attribute trusted_image_certificates. Value: %s. It is not of type 'array'", in.TrustedImageCertificates)
		}
		if len(certs) > 0 {
			// Nimbus does not verify image signatures, so it cannot honour them.
			return x, badRequest("Image signature certificate validation is not supported by this cloud.")
		}
	}
	for _, f := range []struct {
		field string
		raw   json.RawMessage
		dst   *string
	}{{"host", in.Host, &x.host}, {"hypervisor_hostname", in.HypervisorHostname, &x.node}} {
		if !present(f.raw) {
			continue
		}
		if !since(r, 74) {
			return x, unexpected(f.field)
		}
		v, err := stringField(f.field, f.raw)
		if err != nil {
			return x, err
		}
		if v == "" || len(v) > 255 || !fqdnRE.MatchString(v) {
			return x, badRequest("Invalid input for field/attribute %s. Value: %s. It must be 1-255 characters of letters, digits, '-', '.' and '_'", f.field, v)
		}
		*f.dst = v
	}
	if present(in.Hostname) {
		if !since(r, 90) {
			return x, unexpected("hostname")
		}
		h, err := hostnameField(r, in.Hostname)
		if err != nil {
			return x, err
		}
		if maxCount > 1 {
			return x, badRequest("Unable to allocate a single hostname to multiple instances")
		}
		x.hostname = h
	}
	return x, nil
}

// requestedDestination checks 2.74's host and hypervisor_hostname: admins only
// (upstream's requested_destination rule), not with a zone:host forced host,
// and naming a compute host this cloud has (a host's one node is named as the
// host).
func (s *Service) requestedDestination(r *http.Request, x createExtras, forcedHost bool) error {
	if x.host == "" && x.node == "" {
		return nil
	}
	creds := auth.FromContext(r.Context())
	if err := s.enforce(r, "compute:servers:create:requested_destination", map[string]any{"target.project_id": creds.ProjectID}); err != nil {
		return err
	}
	if forcedHost {
		return badRequest("One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.")
	}
	hosts, err := s.hostStates(r.Context())
	if err != nil {
		return err
	}
	known := func(h string) bool { return slices.ContainsFunc(hosts, func(s hostState) bool { return s.Host == h }) }
	switch {
	case x.host != "" && !known(x.host):
		return badRequest("Compute host %s could not be found.", x.host)
	case x.node != "" && (!known(x.node) || x.host != "" && x.node != x.host):
		return badRequest("Compute host %s could not be found.", x.node)
	}
	return nil
}

// createNetworks reads the request's networks at its microversion: from 2.37
// they are required and may be "auto" or "none"; a device tag is accepted in
// 2.32-2.36 and from 2.42, as upstream (2.33-2.41 lost it by accident).
func (s *Service) createNetworks(r *http.Request, token string, raw any, count int, serverID string) ([]requestedNetwork, error) {
	if !since(r, 37) {
		if err := networkTagsAllowed(raw, since(r, 32)); err != nil {
			return nil, err
		}
		out, err := s.requestedNetworks(r.Context(), token, raw, count, serverID)
		if err == nil {
			setNetworkTags(raw, out)
		}
		return out, err
	}
	switch v := raw.(type) {
	case nil:
		return nil, badRequest("Invalid input for field/attribute server. 'networks' is a required property")
	case string:
		switch v {
		case "none":
			return nil, nil // no ports at all
		case "auto":
			return s.autoNetwork(r.Context(), token)
		}
		return nil, badRequest("Invalid input for field/attribute networks. Value: %s. '%s' is not one of ['none', 'auto']", v, v)
	case []any:
		for _, item := range v {
			m, _ := item.(map[string]any)
			for k, val := range m {
				switch k {
				case "uuid", "port":
					if id, _ := val.(string); val != nil && !isUUID(id) {
						return nil, badRequest("Invalid input for field/attribute %s. Value: %v. '%v' is not a 'uuid'", k, val, val)
					}
				case "fixed_ip":
				case "tag":
					if !since(r, 42) {
						return nil, badRequest("Invalid input for field/attribute networks. Additional properties are not allowed ('tag' was unexpected)")
					}
				default:
					return nil, badRequest("Invalid input for field/attribute networks. Additional properties are not allowed ('%s' was unexpected)", k)
				}
			}
		}
		if err := networkTagsAllowed(raw, true); err != nil {
			return nil, err
		}
		out, err := s.requestedNetworks(r.Context(), token, raw, count, serverID)
		if err == nil {
			setNetworkTags(raw, out)
		}
		return out, err
	}
	return nil, badRequest("Invalid input for field/attribute networks. It is not of type 'array'")
}

// networkTagsAllowed refuses a networks entry's tag where the version has none,
// and checks one it has as upstream's parameter_types.tag.
func networkTagsAllowed(raw any, allowed bool) error {
	items, _ := raw.([]any)
	for _, item := range items {
		m, _ := item.(map[string]any)
		t, ok := m["tag"]
		if !ok {
			continue
		}
		if !allowed {
			return badRequest("Invalid input for field/attribute networks. Additional properties are not allowed ('tag' was unexpected)")
		}
		if s, isStr := t.(string); !isStr || !validTag(s) {
			return badRequest("Invalid input for field/attribute tag. Value: %v. A tag must be 1-%d characters without '/' and ','", t, maxTagLength)
		}
	}
	return nil
}

// setNetworkTags copies the entries' tags onto the checked networks (the same
// order, one for one).
func setNetworkTags(raw any, out []requestedNetwork) {
	items, _ := raw.([]any)
	for i, item := range items {
		if i >= len(out) {
			return
		}
		m, _ := item.(map[string]any)
		out[i].Tag, _ = m["tag"].(string)
	}
}

// autoNetwork is "auto" (upstream's get-me-a-network): the project's own
// network when it has exactly one, else the one shared network. Upstream would
// have Neutron create a topology when there is none; Nimbus does not, so no
// usable network is 400 and several are 409, as upstream's NetworkAmbiguous.
func (s *Service) autoNetwork(ctx context.Context, token string) ([]requestedNetwork, error) {
	nets, err := s.opts.Network.Networks(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	creds := auth.FromContext(ctx)
	var own, shared []NetworkInfo
	for _, n := range nets {
		switch {
		case n.External:
		case n.ProjectID == creds.ProjectID && !n.Shared:
			own = append(own, n)
		case n.Shared:
			shared = append(shared, n)
		}
	}
	switch {
	case len(own) == 1:
		return []requestedNetwork{{NetworkID: own[0].ID}}, nil
	case len(own) == 0 && len(shared) == 1:
		return []requestedNetwork{{NetworkID: shared[0].ID}}, nil
	case len(own) == 0 && len(shared) == 0:
		return nil, badRequest("Unable to automatically allocate a network for project %s", creds.ProjectID)
	}
	return nil, conflict("Multiple possible networks found, use a Network ID to be more specific.")
}
