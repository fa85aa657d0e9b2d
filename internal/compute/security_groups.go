package compute

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-security-groups and os-security-group-rules are Nova's deprecated proxy
// to the network service's security groups (upstream's security_groups.py and
// network/security_group_api.py): Nova keeps none of its own, it converts
// Neutron's groups to its shapes and back, as the caller. Only ingress rules
// exist for it. From 2.36 the proxy routes are 404; the server's groups
// (GET /servers/{id}/os-security-groups, addSecurityGroup,
// removeSecurityGroup) stay at every version.
func (s *Service) securityGroupRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-security-groups", Handler: s.listSecurityGroups},
		{Method: "POST", Path: "/v2.1/os-security-groups", Handler: s.createSecurityGroup},
		{Method: "GET", Path: "/v2.1/os-security-groups/{id}", Handler: s.showSecurityGroup},
		{Method: "PUT", Path: "/v2.1/os-security-groups/{id}", Handler: s.updateSecurityGroup},
		{Method: "DELETE", Path: "/v2.1/os-security-groups/{id}", Handler: s.deleteSecurityGroup},
		{Method: "POST", Path: "/v2.1/os-security-group-rules", Handler: s.createSecurityGroupRule},
		{Method: "DELETE", Path: "/v2.1/os-security-group-rules/{id}", Handler: s.deleteSecurityGroupRule},
		{Method: "GET", Path: "/v2.1/servers/{id}/os-security-groups", Handler: s.listServerSecurityGroups},
	}
}

// maxProxyVersion is upstream's MAX_PROXY_API_SUPPORT_VERSION.
const maxProxyVersion = 35

// proxyAvailable is the proxy routes' microversion check, which upstream makes
// before anything else (schema, policy).
func proxyAvailable(r *http.Request) error {
	if since(r, maxProxyVersion+1) {
		return versionNotFound()
	}
	return nil
}

// proxyCaller enforces rule against the caller's own project (the network
// service, not Nova, owns the groups and scopes them) and returns the token to
// act with.
func (s *Service) proxyCaller(r *http.Request, rule string) (string, error) {
	if err := s.enforce(r, "os_compute_api:os-security-groups:"+rule, ownProject(r)); err != nil {
		return "", err
	}
	return userToken(r)
}

func ownProject(r *http.Request) map[string]any {
	return map[string]any{"target.project_id": auth.FromContext(r.Context()).ProjectID}
}

// userToken is the caller's token, which every network call of the proxy
// carries: an empty one would make the client act as compute itself.
func userToken(r *http.Request) (string, error) {
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		return "", httpapi.Unauthorized("The request you have made requires authentication.")
	}
	return token, nil
}

// checkGroupID is upstream's validate_id.
func checkGroupID(id string) error {
	if !isUUID(id) {
		return badRequest("Security group id should be uuid")
	}
	return nil
}

// networkError gives the network service's refusals the statuses Nova
// answers them with (from → to), keeping the network's message; anything else
// stays the network service's error, wrapped with what was being done.
func networkError(err error, what string, statuses map[int]int) error {
	var he *httpapi.Error
	if errors.As(err, &he) {
		if to, ok := statuses[he.Status]; ok {
			return httpapi.Errorf(to, "%s", he.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

var groupNotFound = map[int]int{http.StatusNotFound: http.StatusNotFound}

// groupRef is what a rule shows of the group it allows traffic from.
type groupRef struct {
	Name     string `json:"name"`
	TenantID string `json:"tenant_id"`
}

// groupRefs resolves the groups rules refer to, once each per request, as the
// caller: a group the caller cannot see (or that is gone) drops the rule, as
// upstream's SecurityGroupNotFound does.
type groupRefs struct {
	s     *Service
	ctx   context.Context
	token string
	known map[string]*groupRef // nil: not found
}

func (s *Service) newGroupRefs(ctx context.Context, token string, groups []SecurityGroup) *groupRefs {
	g := &groupRefs{s: s, ctx: ctx, token: token, known: map[string]*groupRef{}}
	for _, sg := range groups {
		g.known[sg.ID] = &groupRef{Name: sg.Name, TenantID: sg.ProjectID}
	}
	return g
}

func (g *groupRefs) get(id string) (*groupRef, error) {
	if ref, ok := g.known[id]; ok {
		return ref, nil
	}
	sg, err := g.s.opts.Network.GetSecurityGroup(g.ctx, g.token, id)
	if err != nil && !httpapi.IsStatus(err, http.StatusNotFound) {
		return nil, fmt.Errorf("security group %s: %w", id, err)
	}
	var ref *groupRef
	if err == nil {
		ref = &groupRef{Name: sg.Name, TenantID: sg.ProjectID}
	}
	g.known[id] = ref
	return ref, nil
}

// novaRule is a network rule as Nova's proxy knows it (upstream's
// _convert_to_nova_security_group_rule_format).
type novaRule struct {
	ID, ParentGroupID string
	Protocol          string // "" is null
	FromPort, ToPort  *int
	GroupID           string
	CIDR              string
}

func toNovaRule(r SecurityGroupRule) novaRule {
	n := novaRule{ID: r.ID, ParentGroupID: r.GroupID, Protocol: r.Protocol, FromPort: r.PortMin, ToPort: r.PortMax,
		GroupID: r.RemoteGroupID, CIDR: r.RemoteIPPrefix}
	if n.Protocol != "" && r.PortMin == nil && r.PortMax == nil {
		lo, hi := -1, -1
		if p := strings.ToUpper(n.Protocol); p == "TCP" || p == "UDP" {
			lo, hi = 1, 65535
		}
		n.FromPort, n.ToPort = &lo, &hi
	}
	if n.CIDR == "" {
		n.CIDR = "0.0.0.0/0"
	}
	return n
}

// ruleView is upstream's _format_security_group_rule: the source group when
// the rule has one (ref, when already known), else the CIDR. A nil view means
// the source group cannot be seen and the rule is left out.
func (g *groupRefs) ruleView(n novaRule, ref *groupRef) (map[string]any, error) {
	v := map[string]any{"id": n.ID, "parent_group_id": n.ParentGroupID, "ip_protocol": nullable(n.Protocol),
		"from_port": n.FromPort, "to_port": n.ToPort, "group": map[string]any{}, "ip_range": map[string]any{}}
	switch {
	case ref != nil:
		v["group"] = ref
	case n.GroupID != "":
		ref, err := g.get(n.GroupID)
		if err != nil || ref == nil {
			return nil, err
		}
		v["group"] = ref
	default:
		v["ip_range"] = map[string]any{"cidr": n.CIDR}
	}
	return v, nil
}

// groupView is upstream's _format_security_group with only the ingress rules,
// the only ones Nova's API has.
func (g *groupRefs) groupView(sg SecurityGroup) (map[string]any, error) {
	rules := []any{}
	for _, r := range sg.Rules {
		if r.Direction != "ingress" {
			continue
		}
		v, err := g.ruleView(toNovaRule(r), nil)
		if err != nil {
			return nil, err
		}
		if v != nil {
			rules = append(rules, v)
		}
	}
	return map[string]any{"id": sg.ID, "name": sg.Name, "description": sg.Description, "tenant_id": sg.ProjectID,
		"rules": rules}, nil
}

// groupsView renders groups sorted by project and name, as upstream answers lists.
func (g *groupRefs) groupsView(groups []SecurityGroup) (map[string]any, error) {
	out := make([]map[string]any, 0, len(groups))
	for _, sg := range groups {
		v, err := g.groupView(sg)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		return cmp.Or(cmp.Compare(a["tenant_id"].(string), b["tenant_id"].(string)), cmp.Compare(a["name"].(string), b["name"].(string)))
	})
	return map[string]any{"security_groups": out}, nil
}

func (s *Service) listSecurityGroups(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "get")
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	offset, err := nonNegativeParam(q["offset"], "offset")
	if err != nil {
		return httpapi.Response{}, err
	}
	limit, err := nonNegativeParam(q["limit"], "limit")
	if err != nil {
		return httpapi.Response{}, err
	}
	creds := auth.FromContext(r.Context())
	filter := SecurityGroupFilter{ProjectID: creds.ProjectID}
	if q.Has("all_tenants") && isAdmin(creds) {
		filter.ProjectID = "" // the network service shows an admin every project's
	}
	groups, err := s.opts.Network.SecurityGroups(r.Context(), token, filter)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("list security groups: %w", err)
	}
	// upstream's common.limited, applied before the sort as upstream does.
	if limit <= 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	groups = groups[min(offset, len(groups)):min(offset+limit, len(groups))]
	body, err := s.newGroupRefs(r.Context(), token, groups).groupsView(groups)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(body), nil
}

// maxListLimit is upstream's [api] max_limit.
const maxListLimit = 1000

// nonNegativeParam checks every value of a repeated query parameter against
// upstream's non_negative_integer and gives the last one (0 when absent), as
// webob reads it.
func nonNegativeParam(values []string, name string) (int, error) {
	n := 0
	for _, v := range values {
		if v == "" {
			return 0, badRequest("Invalid input for query parameters %s. Value: . '' is too short", name)
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || v[0] == '+' || v[0] == '-' {
			return 0, badRequest("Invalid input for query parameters %s. Value: %s. '%s' does not match '^[0-9]*$'", name, v, v)
		}
		n = i
	}
	return n, nil
}

func (s *Service) showSecurityGroup(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "show")
	if err != nil {
		return httpapi.Response{}, err
	}
	sg, err := s.loadSecurityGroup(r.Context(), token, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.groupResponse(r.Context(), token, sg)
}

func (s *Service) loadSecurityGroup(ctx context.Context, token, id string) (SecurityGroup, error) {
	if err := checkGroupID(id); err != nil {
		return SecurityGroup{}, err
	}
	sg, err := s.opts.Network.GetSecurityGroup(ctx, token, id)
	if err != nil {
		return SecurityGroup{}, networkError(err, "security group "+id, groupNotFound)
	}
	return sg, nil
}

func (s *Service) groupResponse(ctx context.Context, token string, sg SecurityGroup) (httpapi.Response, error) {
	v, err := s.newGroupRefs(ctx, token, []SecurityGroup{sg}).groupView(sg)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"security_group": v}), nil
}

// securityGroupBody reads a create or update body as upstream's schema: a
// security_group with name and description, strings of at most 255
// characters; other keys are allowed.
func securityGroupBody(r *http.Request) (name, description string, err error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return "", "", err
	}
	raw, ok := body["security_group"]
	if !ok {
		return "", "", badRequest("'security_group' is a required property")
	}
	var group map[string]json.RawMessage
	if err := json.Unmarshal(raw, &group); err != nil || group == nil {
		return "", "", badRequest("Invalid input for field/attribute security_group. Value: %s. %s is not of type 'object'", raw, raw)
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"name", &name}, {"description", &description}} {
		v, ok := group[f.key]
		if !ok {
			return "", "", badRequest("Invalid input for field/attribute security_group. '%s' is a required property", f.key)
		}
		if err := json.Unmarshal(v, f.dst); err != nil || string(v) == "null" {
			return "", "", badRequest("Invalid input for field/attribute %s. Value: %s. %s is not of type 'string'", f.key, v, v)
		}
		if utf8.RuneCountInString(*f.dst) > 255 {
			return "", "", badRequest("Invalid input for field/attribute %s. Value: %s. '%s' is too long", f.key, *f.dst, *f.dst)
		}
	}
	return name, description, nil
}

func (s *Service) createSecurityGroup(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	name, description, err := securityGroupBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "create")
	if err != nil {
		return httpapi.Response{}, err
	}
	sg, err := s.opts.Network.CreateSecurityGroup(r.Context(), token, name, description)
	if err != nil {
		// The network's 409 (over quota, a second "default") is upstream's
		// SecurityGroupLimitExceeded.
		return httpapi.Response{}, networkError(err, "create security group",
			map[int]int{http.StatusBadRequest: http.StatusBadRequest, http.StatusConflict: http.StatusForbidden})
	}
	return s.groupResponse(r.Context(), token, sg)
}

func (s *Service) updateSecurityGroup(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	name, description, err := securityGroupBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "update")
	if err != nil {
		return httpapi.Response{}, err
	}
	sg, err := s.loadSecurityGroup(r.Context(), token, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if sg, err = s.opts.Network.UpdateSecurityGroup(r.Context(), token, sg.ID, name, description); err != nil {
		return httpapi.Response{}, networkError(err, "update security group "+sg.ID,
			map[int]int{http.StatusNotFound: http.StatusNotFound, http.StatusBadRequest: http.StatusBadRequest})
	}
	return s.groupResponse(r.Context(), token, sg)
}

func (s *Service) deleteSecurityGroup(r *http.Request) (httpapi.Response, error) {
	if err := proxyAvailable(r); err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.proxyCaller(r, "delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	sg, err := s.loadSecurityGroup(r.Context(), token, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.opts.Network.DeleteSecurityGroup(r.Context(), token, sg.ID); err != nil {
		// In use, or the project's default: upstream's Invalid, 400.
		return httpapi.Response{}, networkError(err, "delete security group "+sg.ID,
			map[int]int{http.StatusNotFound: http.StatusNotFound, http.StatusConflict: http.StatusBadRequest})
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
