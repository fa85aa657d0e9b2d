package compute

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// POST and DELETE /servers/{id}/os-interface: interface attach and detach, as
// upstream's attach_interfaces API. The port is made (net_id) or bound
// (port_id) before the answer, so the server shows its address at once; the
// host's agent then hot-plugs it into a running guest (a stopped one has it at
// its next start). Detach takes the port from the server at once and releases
// it as a delete of the server would; the agent unplugs it.

// interfaceStates are the vm_states attach and detach are allowed in
// (upstream's check_instance_state, with no task).
var interfaceStates = []string{vmActive, vmPaused, vmStopped}

// interfaceRequest is a validated POST body.
type interfaceRequest struct {
	NetworkID, PortID, FixedIP, Tag string
}

// tagPattern is upstream's parameter_types.tag: no comma, no slash, 60 at most.
var tagPattern = regexp.MustCompile(`^[^,/]{0,60}$`)

// parseInterfaceRequest checks the body as upstream's schema does (no other
// keys, ids are UUIDs, one fixed IP, tag from 2.49).
func parseInterfaceRequest(r *http.Request) (interfaceRequest, error) {
	var req interfaceRequest
	var body map[string]json.RawMessage
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &body); err != nil {
			return req, err
		}
	}
	for k := range body {
		if k != "interfaceAttachment" {
			return req, badRequest("Invalid input for field/attribute %s. Additional properties are not allowed ('%s' was unexpected)", k, k)
		}
	}
	raw, ok := body["interfaceAttachment"]
	if !ok {
		return req, nil
	}
	var att map[string]json.RawMessage
	if err := json.Unmarshal(raw, &att); err != nil {
		return req, badRequest("Invalid input for field/attribute interfaceAttachment. Value: %s. It is not of type 'object'", raw)
	}
	allowed := []string{"net_id", "port_id", "fixed_ips"}
	if versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 49}) {
		allowed = append(allowed, "tag")
	}
	for k := range att {
		if !slices.Contains(allowed, k) {
			return req, badRequest("Invalid input for field/attribute interfaceAttachment. Additional properties are not allowed ('%s' was unexpected)", k)
		}
	}
	str := func(key string, dst *string) error {
		v, ok := att[key]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return badRequest("Invalid input for field/attribute %s. Value: %s. It is not of type 'string'", key, v)
		}
		return nil
	}
	for key, dst := range map[string]*string{"net_id": &req.NetworkID, "port_id": &req.PortID, "tag": &req.Tag} {
		if err := str(key, dst); err != nil {
			return req, err
		}
	}
	for key, v := range map[string]string{"net_id": req.NetworkID, "port_id": req.PortID} {
		if _, isSet := att[key]; isSet {
			if !isUUID(v) {
				return req, badRequest("Invalid input for field/attribute %s. Value: %s. '%s' is not a 'uuid'", key, v, v)
			}
		}
	}
	if _, isSet := att["tag"]; isSet && !tagPattern.MatchString(req.Tag) {
		return req, badRequest("Invalid input for field/attribute tag. Value: %s. '%s' does not match '^[^,/]*$' or is longer than 60 characters", req.Tag, req.Tag)
	}
	if v, isSet := att["fixed_ips"]; isSet {
		var ips []map[string]json.RawMessage
		if err := json.Unmarshal(v, &ips); err != nil || len(ips) != 1 {
			return req, badRequest("Invalid input for field/attribute fixed_ips. Value: %s. It must be an array of exactly one item", v)
		}
		for k := range ips[0] {
			if k != "ip_address" {
				return req, badRequest("Invalid input for field/attribute fixed_ips. Additional properties are not allowed ('%s' was unexpected)", k)
			}
		}
		var ip string
		if err := json.Unmarshal(ips[0]["ip_address"], &ip); err != nil {
			return req, badRequest("Invalid input for field/attribute ip_address. 'ip_address' is a required property")
		}
		if _, err := netip.ParseAddr(ip); err != nil {
			return req, badRequest("Invalid input for field/attribute ip_address. Value: %s. '%s' is not a 'ip-address'", ip, ip)
		}
		req.FixedIP = ip
	}
	if req.NetworkID != "" && req.PortID != "" {
		return req, badRequest("Must not input both network_id and port_id")
	}
	if req.FixedIP != "" && req.NetworkID == "" {
		return req, badRequest("Must input network_id when request IP address")
	}
	return req, nil
}

// checkInterfaceState is upstream's lock and state check for attach and detach.
func (s *Service) checkInterfaceState(r *http.Request, in *instance, method string) error {
	if err := s.checkLocked(r, in); err != nil {
		return err
	}
	if !slices.Contains(interfaceStates, in.VMState) {
		return invalidState(method, in, "vm_state", in.VMState)
	}
	if in.TaskState != "" {
		return invalidState(method, in, "task_state", in.TaskState)
	}
	return nil
}

func (s *Service) attachInterface(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-attach-interfaces:create")
	if err != nil {
		return httpapi.Response{}, err
	}
	req, err := parseInterfaceRequest(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkInterfaceState(r, in, "attach_interface"); err != nil {
		return httpapi.Response{}, err
	}
	p, err := s.attachPort(r, in, req)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"interfaceAttachment": s.interfaceView(r, p)}), nil
}

func (s *Service) detachInterface(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-attach-interfaces:delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.checkInterfaceState(r, in, "detach_interface"); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.detachPort(r, in, r.PathValue("port")); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
