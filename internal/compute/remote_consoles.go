package compute

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// consoleTypes are the protocols of POST /servers/{id}/remote-consoles (2.6) and
// the types each accepts, as upstream's schema: mks from 2.8, spice-direct from 2.99.
func consoleTypes(r *http.Request) map[string][]string {
	t := map[string][]string{"vnc": {"novnc", "xvpvnc"}, "spice": {"spice-html5"}, "rdp": {"rdp-html5"}, "serial": {"serial"}}
	if since(r, 8) {
		t["mks"] = []string{"webmks"}
	}
	if since(r, 99) {
		t["spice"] = append(t["spice"], "spice-direct")
	}
	return t
}

// createRemoteConsole is 2.6's one API for every console: only noVNC is served
// here; the others are upstream's 400 for a console type the cloud does not offer.
func (s *Service) createRemoteConsole(r *http.Request) (httpapi.Response, error) {
	if !since(r, 6) {
		return httpapi.Response{}, versionNotFound()
	}
	in, err := s.visibleInstance(r, "os_compute_api:os-remote-consoles")
	if err != nil {
		return httpapi.Response{}, err
	}
	var req struct {
		Console *struct {
			Protocol string `json:"protocol"`
			Type     string `json:"type"`
		} `json:"remote_console"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Console == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute remote_console. 'remote_console' is a required property")
	}
	c := req.Console
	types := consoleTypes(r)
	protocols := slices.Sorted(maps.Keys(types))
	var all []string
	for _, p := range protocols {
		all = append(all, types[p]...)
	}
	if _, ok := types[c.Protocol]; !ok {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute protocol. Value: %s. '%s' is not one of ['%s']",
			c.Protocol, c.Protocol, strings.Join(protocols, "', '"))
	}
	if !slices.Contains(all, c.Type) {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute type. Value: %s. '%s' is not one of ['%s']",
			c.Type, c.Type, strings.Join(all, "', '"))
	}
	if !slices.Contains(types[c.Protocol], c.Type) {
		return httpapi.Response{}, badRequest("Unavailable console type %s.", c.Type)
	}
	url, err := s.noVNCURL(r, in, c.Type)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"remote_console": map[string]string{"protocol": c.Protocol, "type": c.Type, "url": url}}), nil
}
