package compute

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/scheduler"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// os-server-groups at 2.1: a project's groups with one policy each, shown as
// `policies: [policy]`; servers join one with the `group` scheduler hint.
func (s *Service) serverGroupRoutes() []httpapi.Route {
	own := func(r *http.Request) (map[string]any, error) {
		creds := auth.FromContext(r.Context())
		return map[string]any{"target.project_id": creds.ProjectID, "target.user_id": creds.UserID}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/os-server-groups", Policy: "os_compute_api:os-server-groups:index", Target: own, Handler: s.listServerGroups},
		{Method: "POST", Path: "/v2.1/os-server-groups", Policy: "os_compute_api:os-server-groups:create", Target: own, Handler: s.createServerGroup},
		{Method: "GET", Path: "/v2.1/os-server-groups/{id}", Handler: s.showServerGroup},
		{Method: "DELETE", Path: "/v2.1/os-server-groups/{id}", Handler: s.deleteServerGroup},
	}
}

type serverGroup struct {
	ID, Name, ProjectID, UserID, Policy string
	// Rules are 2.64's policy rules: max_server_per_host for anti-affinity.
	Rules     groupRules
	Members   []string
	CreatedAt string
}

type groupRules struct {
	MaxServerPerHost int `json:"max_server_per_host,omitempty"`
}

const serverGroupColumns = `id, name, project_id, user_id, policy, rules, members, created_at`

func scanServerGroup(sc db.Scanner) (*serverGroup, error) {
	var g serverGroup
	var rules, members string
	if err := sc.Scan(&g.ID, &g.Name, &g.ProjectID, &g.UserID, &g.Policy, &rules, &members, &g.CreatedAt); err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(rules, &g.Rules); err != nil {
		return nil, err
	}
	if err := jsonUnmarshal(members, &g.Members); err != nil {
		return nil, err
	}
	return &g, nil
}

func loadServerGroup(ctx context.Context, q querier, id string) (*serverGroup, error) {
	g, err := scanServerGroup(q.QueryRowContext(ctx, `SELECT `+serverGroupColumns+` FROM server_groups WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, notFound("Instance group %s could not be found.", id)
	}
	return g, err
}

// liveMembers drops members whose instance is deleted: upstream removes them
// from the group when they go; here the instance row says so.
func liveMembers(ctx context.Context, q querier, members []string) ([]string, error) {
	out := []string{}
	for _, m := range members {
		var deleted bool
		err := q.QueryRowContext(ctx, `SELECT deleted FROM instances WHERE uuid = ?`, m).Scan(&deleted)
		if db.IsNoRows(err) || (err == nil && deleted) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// serverGroupView is a group as the request's microversion shows it: owner ids
// from 2.13; from 2.64 one `policy` with its `rules` instead of `policies` and
// `metadata`.
func (s *Service) serverGroupView(r *http.Request, g *serverGroup) (map[string]any, error) {
	members, err := liveMembers(r.Context(), s.db, g.Members)
	if err != nil {
		return nil, err
	}
	v := map[string]any{"id": g.ID, "name": g.Name, "members": members}
	if since(r, 64) {
		rules := map[string]any{}
		if g.Rules.MaxServerPerHost > 0 {
			rules["max_server_per_host"] = g.Rules.MaxServerPerHost
		}
		v["policy"], v["rules"] = g.Policy, rules
	} else {
		v["policies"], v["metadata"] = []string{g.Policy}, map[string]string{}
	}
	if since(r, 13) {
		v["user_id"], v["project_id"] = g.UserID, g.ProjectID
	}
	return v, nil
}

// visibleServerGroup loads a group the caller may act on under rule; another
// project's is 404.
func (s *Service) visibleServerGroup(r *http.Request, rule string) (*serverGroup, error) {
	id := r.PathValue("id")
	g, err := loadServerGroup(r.Context(), s.db, id)
	if err != nil {
		return nil, err
	}
	if err := s.enforce(r, rule, map[string]any{"target.project_id": g.ProjectID, "target.user_id": g.UserID}); err != nil {
		if g.ProjectID != auth.FromContext(r.Context()).ProjectID {
			return nil, notFound("Instance group %s could not be found.", id)
		}
		return nil, err
	}
	return g, nil
}

func (s *Service) listServerGroups(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	query, args := `SELECT `+serverGroupColumns+` FROM server_groups WHERE project_id = ? ORDER BY created_at, id`, []any{creds.ProjectID}
	if v := r.URL.Query().Get("all_projects"); v != "" {
		all, err := boolField("all_projects", v)
		if err != nil {
			return httpapi.Response{}, err
		}
		// As upstream: a caller without the rule sees its own project's.
		if all && s.policy.Allowed("os_compute_api:os-server-groups:index:all_projects", nil, creds.PolicyCredentials()) {
			query, args = `SELECT `+serverGroupColumns+` FROM server_groups ORDER BY created_at, id`, nil
		}
	}
	groups, err := db.QueryAll(ctx, s.db, scanServerGroup, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	page, err := offsetPage(r, len(groups))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, g := range groups[page[0]:page[1]] {
		v, err := s.serverGroupView(r, g)
		if err != nil {
			return httpapi.Response{}, err
		}
		out = append(out, v)
	}
	return httpapi.OK(map[string]any{"server_groups": out}), nil
}

// offsetPage is upstream's limit/offset paging of a list of n: the [from, to) slice.
func offsetPage(r *http.Request, n int) ([2]int, error) {
	q := r.URL.Query()
	from, to := 0, n
	for _, f := range []struct {
		name string
		dst  *int
		min  int
	}{{"offset", &from, 0}, {"limit", &to, 1}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < f.min {
			return [2]int{}, badRequest("Invalid input for query parameters %s. Value: %s. '%s' does not match '^[0-9]*$'", f.name, v, v)
		}
		*f.dst = i
	}
	from = min(from, n)
	if q.Get("limit") != "" {
		to = min(from+to, n)
	}
	return [2]int{from, to}, nil
}

func (s *Service) showServerGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.visibleServerGroup(r, "os_compute_api:os-server-groups:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	v, err := s.serverGroupView(r, g)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"server_group": v}), nil
}

// groupPolicies are the policies the request's microversion accepts: the soft
// ones came with 2.15.
func groupPolicies(r *http.Request) []string {
	p := []string{scheduler.PolicyAntiAffinity, scheduler.PolicyAffinity}
	if versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 15}) {
		p = append(p, scheduler.PolicySoftAntiAffinity, scheduler.PolicySoftAffinity)
	}
	return p
}

// groupPolicyOf reads the create request's policy: before 2.64 a `policies` list
// of exactly one; from 2.64 a `policy` and, for anti-affinity only, `rules` with
// max_server_per_host.
func groupPolicyOf(r *http.Request, policies []any, policy *string, rawRules json.RawMessage) (string, groupRules, error) {
	allowed := groupPolicies(r)
	var rules groupRules
	if !since(r, 64) {
		if policy != nil || rawRules != nil {
			return "", rules, badRequest("Invalid input for field/attribute server_group. Additional properties are not allowed")
		}
		if policies == nil {
			return "", rules, badRequest("Invalid input for field/attribute server_group. 'policies' is a required property")
		}
		if len(policies) != 1 {
			return "", rules, badRequest("Invalid input for field/attribute policies. Value: %v. It must hold exactly one of %s", policies, strings.Join(allowed, ", "))
		}
		p, _ := policies[0].(string)
		if !slices.Contains(allowed, p) {
			return "", rules, badRequest("Invalid input for field/attribute 0. Value: %v. '%v' is not one of ['%s']", policies[0], policies[0], strings.Join(allowed, "', '"))
		}
		return p, rules, nil
	}
	if policies != nil {
		return "", rules, badRequest("Invalid input for field/attribute server_group. Additional properties are not allowed ('policies' was unexpected)")
	}
	if policy == nil {
		return "", rules, badRequest("Invalid input for field/attribute server_group. 'policy' is a required property")
	}
	if !slices.Contains(allowed, *policy) {
		return "", rules, badRequest("Invalid input for field/attribute policy. Value: %s. '%s' is not one of ['%s']", *policy, *policy, strings.Join(allowed, "', '"))
	}
	if rawRules != nil && string(rawRules) != "null" {
		var given map[string]any
		if err := json.Unmarshal(rawRules, &given); err != nil {
			return "", rules, badRequest("Invalid input for field/attribute rules. Value: %s. It is not of type 'object'", rawRules)
		}
		for k, v := range given {
			if k != "max_server_per_host" {
				return "", rules, badRequest("Invalid input for field/attribute rules. Additional properties are not allowed ('%s' was unexpected)", k)
			}
			// A positive_integer: a number or a string of digits, as
			// upstream's schema allows and InstanceGroup.rules coerces.
			n, ok := v.(float64)
			if str, isString := v.(string); isString {
				i, err := strconv.Atoi(str)
				n, ok = float64(i), err == nil
			}
			if !ok || n < 1 || n != float64(int(n)) {
				return "", rules, badRequest("Invalid input for field/attribute max_server_per_host. Value: %v. It must be an integer of at least 1", v)
			}
			rules.MaxServerPerHost = int(n)
		}
		if len(given) > 0 && *policy != scheduler.PolicyAntiAffinity {
			return "", rules, badRequest("Only anti-affinity policy supports rules.")
		}
	}
	return *policy, rules, nil
}

// createServerGroup answers 200, as upstream; server_groups is a quota.
func (s *Service) createServerGroup(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	var req struct {
		Group *struct {
			Name     *string         `json:"name"`
			Policies []any           `json:"policies"`
			Policy   *string         `json:"policy"`
			Rules    json.RawMessage `json:"rules"`
		} `json:"server_group"`
	}
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		return httpapi.Response{}, err
	}
	if req.Group == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute server_group. 'server_group' is a required property")
	}
	if req.Group.Name == nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute server_group. 'name' is a required property")
	}
	name := *req.Group.Name
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute name. Value: %s. It must be 1-255 characters and not only spaces", name)
	}
	policy, rules, err := groupPolicyOf(r, req.Group.Policies, req.Group.Policy, req.Group.Rules)
	if err != nil {
		return httpapi.Response{}, err
	}
	g := &serverGroup{ID: newUUID(), Name: name, ProjectID: creds.ProjectID, UserID: creds.UserID, Policy: policy,
		Rules: rules, Members: []string{}, CreatedAt: stamp(s.now())}
	rulesJSON, _ := json.Marshal(rules)
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		limits, err := s.quotaLimits(ctx, tx, creds.ProjectID)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM server_groups WHERE project_id = ?`, creds.ProjectID).Scan(&n); err != nil {
			return err
		}
		if l := limits["server_groups"]; l >= 0 && n+1 > l {
			return forbidden("Quota exceeded, too many server groups.")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO server_groups (`+serverGroupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			g.ID, g.Name, g.ProjectID, g.UserID, g.Policy, string(rulesJSON), "[]", g.CreatedAt)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	v, _ := s.serverGroupView(r, g)
	return httpapi.OK(map[string]any{"server_group": v}), nil
}

func (s *Service) deleteServerGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.visibleServerGroup(r, "os_compute_api:os-server-groups:delete")
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM server_groups WHERE id = ?`, g.ID); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// joinServerGroup adds new instances to the group the create request's `group`
// hint names, within the server_group_members quota. An unknown group (or
// another project's, unless the caller is an admin) is upstream's 400.
func (s *Service) joinServerGroup(ctx context.Context, tx *db.Tx, project string, admin bool, id string, uuids []string) error {
	g, err := hintedServerGroup(ctx, tx, project, admin, id)
	if err != nil {
		return err
	}
	members, err := liveMembers(ctx, tx, g.Members)
	if err != nil {
		return err
	}
	limits, err := s.quotaLimits(ctx, tx, g.ProjectID)
	if err != nil {
		return err
	}
	if l := limits["server_group_members"]; l >= 0 && len(members)+len(uuids) > l {
		return forbidden("Quota exceeded, too many servers in group")
	}
	members = append(members, uuids...)
	_, err = tx.ExecContext(ctx, `UPDATE server_groups SET members = ? WHERE id = ?`, mustJSON(members), g.ID)
	return err
}

// hintedServerGroup is the group a create request's `group` hint names, if the
// caller may boot into it: an unknown group, or another project's unless the
// caller is an admin, is upstream's 400.
func hintedServerGroup(ctx context.Context, q querier, project string, admin bool, id string) (*serverGroup, error) {
	g, err := loadServerGroup(ctx, q, id)
	if err != nil || (g.ProjectID != project && !admin) {
		if err == nil || httpapi.IsStatus(err, http.StatusNotFound) {
			return nil, badRequest("Instance group %s could not be found.", id)
		}
		return nil, err
	}
	return g, nil
}

// schedulerGroup is the instance's group as the scheduler's group filters and
// weighers read it: its policy, and the hosts its other members run on.
func (s *Service) schedulerGroup(ctx context.Context, in *instance) (*scheduler.ServerGroup, error) {
	g, err := loadServerGroup(ctx, s.db, in.Request.ServerGroup)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return nil, nil // the group was deleted since: nothing to keep to
	}
	if err != nil {
		return nil, err
	}
	out := &scheduler.ServerGroup{ID: g.ID, Policy: g.Policy, MaxServerPerHost: g.Rules.MaxServerPerHost}
	for _, m := range g.Members {
		if m == in.UUID {
			continue
		}
		var host *string
		var deleted bool
		err := s.db.QueryRowContext(ctx, `SELECT host, deleted FROM instances WHERE uuid = ?`, m).Scan(&host, &deleted)
		if db.IsNoRows(err) || deleted {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Members = append(out.Members, m)
		if host != nil && *host != "" {
			out.Hosts = append(out.Hosts, *host)
		}
	}
	return out, nil
}
