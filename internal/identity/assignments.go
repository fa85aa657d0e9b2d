package identity

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// grantKind is one family of grant URLs: who (user or group) holds a role where
// (project, domain or system), and whether it is inherited to projects (OS-INHERIT).
type grantKind struct {
	actor     string // "user" or "group"
	target    string // "project", "domain" or "system"
	inherited bool
}

// grantTarget is what upstream's rules on a grant refer to
// (_build_enforcement_target_attr): the role the path names, the user or group
// and the project or domain, each with its domain, so that a domain's manager
// grants only the lesser roles, and only within its domain. As upstream
// (keystone/api/projects.py, domains.py), what the path names is loaded before
// the policy and a missing one answers 404, in upstream's order (a domain, the
// role, the user or group, a project), except a missing user or group of a
// revoke (allow_non_existing); the OS-INHERIT APIs (os_inherit.py) instead
// leave a missing one out of the target, and let the policy decide.
func (s *Service) grantTarget(actor, on string) func(r *http.Request) (map[string]any, error) {
	return func(r *http.Request) (map[string]any, error) {
		ctx := r.Context()
		strict := !strings.Contains(r.Pattern, "/OS-INHERIT/")
		t := map[string]any{}
		if on == "domain" {
			id := pathParam(r, "domain_id")
			t["target.domain.id"] = id
			if strict {
				if _, err := s.loadDomain(ctx, s.db, id); err != nil {
					return nil, err
				}
			}
		}
		if id := pathParam(r, "role_id"); id != "" {
			role, err := s.getRole(ctx, s.db, id)
			switch {
			case err != nil && strict:
				return nil, err
			case role == nil && strict:
				return nil, notFound("role", id)
			case role != nil:
				t["target.role.id"], t["target.role.name"] = role.ID, role.Name
				t["target.role.domain_id"] = nil // a global role's, as upstream renders it
				if role.DomainID != nullDomainID {
					t["target.role.domain_id"] = role.DomainID
				}
			}
		}
		actorID := pathParam(r, actor+"_id")
		t["target."+actor+".id"] = actorID
		actorDomain, err := s.actorDomain(ctx, actor, actorID)
		switch {
		case err != nil && strict:
			return nil, err
		case actorDomain == "" && strict && r.Method != http.MethodDelete:
			return nil, notFound(actor, actorID)
		case actorDomain != "":
			t["target."+actor+".domain_id"] = actorDomain
		}
		if on == "domain" {
			return t, nil
		}
		id := pathParam(r, "project_id")
		t["target.project.id"] = id
		p, err := s.getProject(ctx, s.db, id)
		switch {
		case err != nil && strict:
			return nil, err
		case p == nil && strict:
			return nil, notFound("project", id)
		case p != nil:
			t["target.project.domain_id"] = p.DomainID
		}
		return t, nil
	}
}

// actorDomain is the domain of the user or group a grant names, empty when it
// does not exist.
func (s *Service) actorDomain(ctx context.Context, actor, id string) (string, error) {
	if actor == "user" {
		u, err := s.getUser(ctx, s.db, id)
		if err != nil || u == nil {
			return "", err
		}
		return u.DomainID, nil
	}
	g, err := s.getGroup(ctx, s.db, id)
	if err != nil || g == nil {
		return "", err
	}
	return g.DomainID, nil
}

// systemGrantTarget loads, before the policy, what a system grant's path names
// (keystone/api/system.py _build_enforcement_target): a missing role answers
// 404, and so does a missing user or group, except to a revoke.
func (s *Service) systemGrantTarget(actor string) func(r *http.Request) (map[string]any, error) {
	return func(r *http.Request) (map[string]any, error) {
		ctx := r.Context()
		t := map[string]any{}
		if id := pathParam(r, "role_id"); id != "" {
			role, err := s.requireRole(ctx, s.db, id)
			if err != nil {
				return nil, err
			}
			t["target.role.id"], t["target.role.name"] = role.ID, role.Name
		}
		id := pathParam(r, actor+"_id")
		t["target."+actor+".id"] = id
		domain, err := s.actorDomain(ctx, actor, id)
		if err != nil {
			return nil, err
		}
		if domain == "" && r.Method != http.MethodDelete {
			return nil, notFound(actor, id)
		}
		if domain != "" {
			t["target."+actor+".domain_id"] = domain
		}
		return t, nil
	}
}

// typ is the assignments.type of the kind: UserProject, GroupDomain, ...
func (k grantKind) typ() string {
	return strings.ToUpper(k.actor[:1]) + k.actor[1:] + strings.ToUpper(k.target[:1]) + k.target[1:]
}

func (s *Service) assignmentRoutes() []httpapi.Route {
	var routes []httpapi.Route
	for _, actor := range []string{"user", "group"} {
		for _, target := range []string{"project", "domain"} {
			policyTarget := s.grantTarget(actor, target)
			k := grantKind{actor: actor, target: target}
			ik := grantKind{actor: actor, target: target, inherited: true}
			base := "/v3/" + target + "s/{" + target + "_id}/" + actor + "s/{" + actor + "_id}/roles"
			inh := "/v3/OS-INHERIT/" + target + "s/{" + target + "_id}/" + actor + "s/{" + actor + "_id}/roles"
			for _, v := range []struct {
				kind        grantKind
				list, grant string
			}{
				{k, base, base + "/{role_id}"},
				{ik, inh + "/inherited_to_projects", inh + "/{role_id}/inherited_to_projects"},
			} {
				routes = append(routes,
					httpapi.Route{Method: "GET", Path: v.list, Policy: "identity:list_grants", Target: policyTarget, Handler: s.listGrants(v.kind), Schemas: okBody(grantsResponse)},
					httpapi.Route{Method: "PUT", Path: v.grant, Policy: "identity:create_grant", Target: policyTarget, Handler: s.createGrant(v.kind), Schemas: noContent},
					httpapi.Route{Method: "GET", Path: v.grant, Policy: "identity:check_grant", Target: policyTarget, Handler: s.checkGrant(v.kind), Schemas: noContent},
					httpapi.Route{Method: "HEAD", Path: v.grant, Policy: "identity:check_grant", Target: policyTarget, Handler: s.checkGrant(v.kind), Schemas: noContent},
					httpapi.Route{Method: "DELETE", Path: v.grant, Policy: "identity:revoke_grant", Target: policyTarget, Handler: s.revokeGrant(v.kind), Schemas: noContent},
				)
			}
		}
		k := grantKind{actor: actor, target: "system"}
		base := "/v3/system/" + actor + "s/{" + actor + "_id}/roles"
		systemTarget := s.systemGrantTarget(actor)
		routes = append(routes,
			httpapi.Route{Method: "GET", Path: base, Policy: "identity:list_system_grants_for_" + actor, Target: systemTarget, Handler: s.listGrants(k), Schemas: okBody(grantsResponse)},
			httpapi.Route{Method: "PUT", Path: base + "/{role_id}", Policy: "identity:create_system_grant_for_" + actor, Target: systemTarget, Handler: s.createGrant(k), Schemas: noContent},
			httpapi.Route{Method: "GET", Path: base + "/{role_id}", Policy: "identity:check_system_grant_for_" + actor, Target: systemTarget, Handler: s.checkGrant(k), Schemas: noContent},
			httpapi.Route{Method: "HEAD", Path: base + "/{role_id}", Policy: "identity:check_system_grant_for_" + actor, Target: systemTarget, Handler: s.checkGrant(k), Schemas: noContent},
			httpapi.Route{Method: "DELETE", Path: base + "/{role_id}", Policy: "identity:revoke_system_grant_for_" + actor, Target: systemTarget, Handler: s.revokeGrant(k), Schemas: noContent},
		)
	}
	routes = append(routes, httpapi.Route{Method: "GET", Path: "/v3/role_assignments", Handler: s.listRoleAssignments,
		Schemas: okBody(roleAssignmentIndexResponse)})
	return routes
}

// assignmentRow is one row of the assignments table.
type assignmentRow struct {
	Type, ActorID, TargetID, RoleID string
	Inherited                       bool
}

func (a assignmentRow) isGroup() bool { return strings.HasPrefix(a.Type, "Group") }

func (s *Service) queryAssignments(ctx context.Context, q db.Querier, where string, args ...any) ([]assignmentRow, error) {
	if where == "" {
		where = "TRUE"
	}
	rows, err := q.QueryContext(ctx, `SELECT type, actor_id, target_id, role_id, inherited FROM assignments WHERE `+
		where+` ORDER BY type, actor_id, target_id, role_id, inherited`, args...)
	if err != nil {
		return nil, fmt.Errorf("list assignments: %w", err)
	}
	defer rows.Close()
	var out []assignmentRow
	for rows.Next() {
		var a assignmentRow
		if err := rows.Scan(&a.Type, &a.ActorID, &a.TargetID, &a.RoleID, &a.Inherited); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// groupMemberIDs lists the users in a group.
func (s *Service) groupMemberIDs(ctx context.Context, q db.Querier, groupID string) ([]string, error) {
	ids, err := db.QueryStrings(ctx, q, `SELECT user_id FROM user_group_membership WHERE group_id = ? ORDER BY user_id`, groupID)
	if err != nil {
		return nil, fmt.Errorf("list group members: %w", err)
	}
	return ids, nil
}

// assignmentRevocationEvents revoke the tokens an assignment may have fed: those of
// the user (or of every member of the group) on its scope. Tokens carry no trace of
// system or inherited scopes, so those revoke all of the user's tokens.
func (s *Service) assignmentRevocationEvents(ctx context.Context, q db.Querier, a assignmentRow) ([]auth.RevocationEvent, error) {
	users := []string{a.ActorID}
	if a.isGroup() {
		var err error
		if users, err = s.groupMemberIDs(ctx, q, a.ActorID); err != nil {
			return nil, err
		}
	}
	events := make([]auth.RevocationEvent, 0, len(users))
	for _, u := range users {
		e := auth.RevocationEvent{UserID: u}
		switch {
		case a.Inherited || strings.HasSuffix(a.Type, "System"):
		case strings.HasSuffix(a.Type, "Project"):
			e.ProjectID = a.TargetID
		case strings.HasSuffix(a.Type, "Domain"):
			e.DomainID = a.TargetID
		}
		events = append(events, e)
	}
	return events, nil
}

// grantRequest is a grant URL's parts.
type grantRequest struct {
	kind                      grantKind
	actorID, targetID, roleID string
}

func (g grantRequest) row() assignmentRow {
	return assignmentRow{Type: g.kind.typ(), ActorID: g.actorID, TargetID: g.targetID, RoleID: g.roleID, Inherited: g.kind.inherited}
}

func (k grantKind) request(r *http.Request) grantRequest {
	g := grantRequest{kind: k, actorID: pathParam(r, k.actor+"_id"), roleID: pathParam(r, "role_id"), targetID: systemTarget}
	if k.target != "system" {
		g.targetID = pathParam(r, k.target+"_id")
	}
	return g
}

// requireActor fails with UserNotFound or GroupNotFound.
func (s *Service) requireActor(ctx context.Context, q db.Querier, kind, id string) error {
	var n int
	table := "users"
	if kind == "group" {
		table = "groups"
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return notFound(kind, id)
	}
	return nil
}

// requireTarget loads the grant's project or domain (nil for the system), failing
// with ProjectNotFound or DomainNotFound.
func (s *Service) requireTarget(ctx context.Context, q db.Querier, g grantRequest) (*projectRow, error) {
	var p *projectRow
	var err error
	switch g.kind.target {
	case "project":
		p, err = s.getProject(ctx, q, g.targetID)
	case "domain":
		p, err = s.getDomain(ctx, q, g.targetID)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound(g.kind.target, g.targetID)
	}
	return p, nil
}

func (s *Service) grantExists(ctx context.Context, a assignmentRow) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM assignments WHERE type = ? AND actor_id = ? AND target_id = ?
		AND role_id = ? AND inherited = ?`, a.Type, a.ActorID, a.TargetID, a.RoleID, a.Inherited).Scan(&n)
	return n > 0, err
}

func assignmentNotFound(g grantRequest) error {
	return httpapi.NotFound("Could not find role assignment with role: %s, user or group: %s, project, domain, or system: %s.",
		g.roleID, g.actorID, g.targetID)
}

// createGrant assigns a role, in the transaction that finds the role, the actor
// and the target: none of them is deleted in between, so no assignment outlives
// what it names.
func (s *Service) createGrant(k grantKind) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		g := k.request(r)
		a := g.row()
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			role, err := s.requireRole(ctx, tx, g.roleID)
			if err != nil {
				return err
			}
			if err := s.requireActor(ctx, tx, k.actor, g.actorID); err != nil {
				return err
			}
			target, err := s.requireTarget(ctx, tx, g)
			if err != nil {
				return err
			}
			if k.target == "project" && role.DomainID != nullDomainID && target.DomainID != role.DomainID {
				return httpapi.Forbidden("Project %s must be in the same domain as the role %s being assigned.", target.ID, role.ID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO assignments (type, actor_id, target_id, role_id, inherited)
				VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`, a.Type, a.ActorID, a.TargetID, a.RoleID, a.Inherited); err != nil {
				return fmt.Errorf("create grant: %w", err)
			}
			return nil
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		s.changed()
		return httpapi.NoContent(), nil
	}
}

func (s *Service) checkGrant(k grantKind) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		g := k.request(r)
		if _, err := s.requireRole(ctx, s.db, g.roleID); err != nil {
			return httpapi.Response{}, err
		}
		if err := s.requireActor(ctx, s.db, k.actor, g.actorID); err != nil {
			return httpapi.Response{}, err
		}
		if _, err := s.requireTarget(ctx, s.db, g); err != nil {
			return httpapi.Response{}, err
		}
		ok, err := s.grantExists(ctx, g.row())
		if err != nil {
			return httpapi.Response{}, err
		}
		if !ok {
			return httpapi.Response{}, assignmentNotFound(g)
		}
		return httpapi.NoContent(), nil
	}
}

// revokeGrant removes an assignment. As upstream, the actor need not exist any more
// (so that dangling grants can be cleaned up), but the role and target must.
func (s *Service) revokeGrant(k grantKind) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		g := k.request(r)
		a := g.row()
		// The tokens to revoke are those of the group's members as the assignment
		// goes: read in the transaction that deletes it.
		var events []auth.RevocationEvent
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			if _, err := s.requireRole(ctx, tx, g.roleID); err != nil {
				return err
			}
			if _, err := s.requireTarget(ctx, tx, g); err != nil {
				return err
			}
			var err error
			if events, err = s.assignmentRevocationEvents(ctx, tx, a); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM assignments WHERE type = ? AND actor_id = ? AND target_id = ?
				AND role_id = ? AND inherited = ?`, a.Type, a.ActorID, a.TargetID, a.RoleID, a.Inherited)
			if err != nil {
				return fmt.Errorf("revoke grant: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return assignmentNotFound(g)
			}
			return nil
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		s.changed()
		if err := s.revoke(ctx, events...); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.NoContent(), nil
	}
}

func (s *Service) listGrants(k grantKind) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		ctx := r.Context()
		g := k.request(r)
		if err := s.requireActor(ctx, s.db, k.actor, g.actorID); err != nil {
			return httpapi.Response{}, err
		}
		if _, err := s.requireTarget(ctx, s.db, g); err != nil {
			return httpapi.Response{}, err
		}
		roles, err := s.queryRoles(ctx, `id IN (SELECT role_id FROM assignments WHERE type = ? AND actor_id = ?
			AND target_id = ? AND inherited = ?)`, k.typ(), g.actorID, g.targetID, k.inherited)
		if err != nil {
			return httpapi.Response{}, err
		}
		out := make([]map[string]any, 0, len(roles))
		for _, role := range roles {
			out = append(out, s.roleJSON(role))
		}
		return httpapi.OK(map[string]any{"roles": out, "links": s.collectionLinks(r)}), nil
	}
}

// ---- GET /v3/role_assignments ----

// raEntry is one role assignment as listed: the actor, the scope and the role, and
// for effective listings how it was derived (upstream's "indirect").
type raEntry struct {
	userID, groupID     string
	projectID, domainID string
	system              bool
	roleID              string
	inherited           bool // a stored inherited assignment, listed as such

	viaGroup   string // effective: the user holds it through this group
	viaDomain  string // effective: inherited from this domain
	viaProject string // effective: inherited from this parent project
	viaRole    string // effective: implied by this prior role
}

func entryOf(a assignmentRow) raEntry {
	e := raEntry{roleID: a.RoleID, inherited: a.Inherited}
	if a.isGroup() {
		e.groupID = a.ActorID
	} else {
		e.userID = a.ActorID
	}
	switch {
	case strings.HasSuffix(a.Type, "Project"):
		e.projectID = a.TargetID
	case strings.HasSuffix(a.Type, "Domain"):
		e.domainID = a.TargetID
	default:
		e.system = true
	}
	return e
}

// queryFlag is upstream's query_filter_is_true: present and not "0" means true, so
// that "?effective" alone turns it on.
func queryFlag(r *http.Request, name string) bool {
	q := r.URL.Query()
	return q.Has(name) && q.Get(name) != "0"
}

// projectTree is the project hierarchy, for inheritance and subtrees.
type projectTree struct {
	children map[string][]string // parent id (project or domain) -> child projects
	inDomain map[string][]string // domain id -> all its projects
}

func (s *Service) loadProjectTree(ctx context.Context) (*projectTree, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, parent_id, domain_id FROM projects WHERE is_domain = FALSE ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("load projects: %w", err)
	}
	defer rows.Close()
	t := &projectTree{children: map[string][]string{}, inDomain: map[string][]string{}}
	for rows.Next() {
		var id, domainID string
		var parent *string
		if err := rows.Scan(&id, &parent, &domainID); err != nil {
			return nil, err
		}
		if parent != nil {
			t.children[*parent] = append(t.children[*parent], id)
		}
		t.inDomain[domainID] = append(t.inDomain[domainID], id)
	}
	return t, rows.Err()
}

// descendants lists the projects below id, not id itself.
func (t *projectTree) descendants(id string) []string {
	var out []string
	seen := map[string]bool{id: true}
	queue := append([]string(nil), t.children[id]...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, t.children[p]...)
	}
	return out
}

// raQuery is a parsed role assignment listing request.
type raQuery struct {
	userID, groupID, roleID     string
	projectID, domainID, system string
	inherited                   *bool
	effective, names, subtree   bool
}

func parseRAQuery(r *http.Request) (raQuery, error) {
	q := r.URL.Query()
	rq := raQuery{
		userID: q.Get("user.id"), groupID: q.Get("group.id"), roleID: q.Get("role.id"),
		projectID: q.Get("scope.project.id"), domainID: q.Get("scope.domain.id"), system: q.Get("scope.system"),
		effective: queryFlag(r, "effective"), names: queryFlag(r, "include_names"), subtree: queryFlag(r, "include_subtree"),
	}
	if q.Has("scope.OS-INHERIT:inherited_to") {
		v := q.Get("scope.OS-INHERIT:inherited_to") == "projects"
		rq.inherited = &v
	}
	switch {
	case rq.domainID != "" && rq.projectID != "":
		return rq, httpapi.BadRequest("Specify a domain or project, not both")
	case rq.domainID != "" && rq.system != "":
		return rq, httpapi.BadRequest("Specify system or domain, not both")
	case rq.projectID != "" && rq.system != "":
		return rq, httpapi.BadRequest("Specify system or project, not both")
	case rq.userID != "" && rq.groupID != "":
		return rq, httpapi.BadRequest("Specify a user or group, not both")
	case rq.effective && rq.groupID != "":
		return rq, httpapi.BadRequest("Combining effective and group filter will always result in an empty list.")
	case rq.effective && rq.inherited != nil && *rq.inherited && rq.domainID != "":
		return rq, httpapi.BadRequest("Combining effective, domain and inherited filters will always result in an empty list.")
	}
	return rq, nil
}

func (s *Service) listRoleAssignments(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	creds := auth.FromContext(ctx)
	rq, err := parseRAQuery(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if rq.subtree {
		target := map[string]any{}
		if rq.projectID != "" {
			// Upstream's projects include domains: a domain's subtree is all its projects.
			p, err := s.getProject(ctx, s.db, rq.projectID)
			if err == nil && p == nil {
				p, err = s.getDomain(ctx, s.db, rq.projectID)
			}
			if err != nil {
				return httpapi.Response{}, err
			}
			if p == nil {
				return httpapi.Response{}, notFound("project", rq.projectID)
			}
			target["target.project.id"], target["target.project.domain_id"] = p.ID, p.DomainID
			target["target.domain_id"] = p.DomainID // as upstream, for domain-scoped callers
		}
		if err := httpapi.Enforce(r, s.policy, "identity:list_role_assignments_for_tree", target); err != nil {
			return httpapi.Response{}, err
		}
		if rq.projectID == "" {
			return httpapi.Response{}, httpapi.BadRequest("scope.project.id must be specified if include_subtree is also specified")
		}
	} else {
		target, _ := domainScopedListTarget("target.domain_id")(r)
		if err := httpapi.Enforce(r, s.policy, "identity:list_role_assignments", target); err != nil {
			return httpapi.Response{}, err
		}
	}

	var entries []raEntry
	if rq.effective {
		entries, err = s.effectiveAssignments(ctx, rq)
	} else {
		entries, err = s.directAssignments(ctx, rq)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	names := &raNames{s: s, ctx: ctx, cache: map[string]map[string]any{}, projects: map[string]*projectRow{}}
	// A domain-scoped caller sees only what concerns its domain, as upstream.
	if creds.DomainID != "" && !creds.System {
		kept := entries[:0]
		for _, e := range entries {
			if e.domainID == creds.DomainID {
				kept = append(kept, e)
			} else if e.projectID != "" {
				if p := names.projectRow(e.projectID); p != nil && p.DomainID == creds.DomainID {
					kept = append(kept, e)
				}
			}
		}
		entries = kept
	}
	out := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, s.formatAssignment(e, names, rq.names))
	}
	if err := names.err; err != nil {
		return httpapi.Response{}, err
	}
	self := s.selfURL(r.URL.Path)
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	return httpapi.OK(map[string]any{"role_assignments": out,
		"links": map[string]any{"self": self, "previous": nil, "next": nil}}), nil
}

var (
	asgUserTypes    = []any{"UserProject", "UserDomain", "UserSystem"}
	asgGroupTypes   = []any{"GroupProject", "GroupDomain", "GroupSystem"}
	asgProjectTypes = []any{"UserProject", "GroupProject"}
	asgDomainTypes  = []any{"UserDomain", "GroupDomain"}
	asgSystemTypes  = []any{"UserSystem", "GroupSystem"}
)

// sqlWhere accumulates SQL conditions.
type sqlWhere struct {
	conds []string
	args  []any
}

func (w *sqlWhere) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *sqlWhere) in(col string, vals []any) {
	w.add(col+` IN (`+placeholders(len(vals))+`)`, vals...)
}

func (w *sqlWhere) String() string { return strings.Join(w.conds, " AND ") }

// directAssignments lists stored assignments matching the filters.
func (s *Service) directAssignments(ctx context.Context, rq raQuery) ([]raEntry, error) {
	w := &sqlWhere{}
	if rq.roleID != "" {
		w.add(`role_id = ?`, rq.roleID)
	}
	if rq.userID != "" {
		w.add(`actor_id = ?`, rq.userID)
		w.in("type", asgUserTypes)
	}
	if rq.groupID != "" {
		w.add(`actor_id = ?`, rq.groupID)
		w.in("type", asgGroupTypes)
	}
	switch {
	case rq.projectID != "":
		w.in("type", asgProjectTypes)
		targets := []string{rq.projectID}
		if rq.subtree {
			tree, err := s.loadProjectTree(ctx)
			if err != nil {
				return nil, err
			}
			targets = append(targets, tree.descendants(rq.projectID)...)
		}
		w.in("target_id", anySlice(targets))
	case rq.domainID != "":
		w.in("type", asgDomainTypes)
		w.add(`target_id = ?`, rq.domainID)
	case rq.system != "":
		w.in("type", asgSystemTypes)
	}
	if rq.inherited != nil {
		w.add(`inherited = ?`, *rq.inherited)
	}
	rows, err := s.queryAssignments(ctx, s.db, w.String(), w.args...)
	if err != nil {
		return nil, err
	}
	out := make([]raEntry, 0, len(rows))
	for _, a := range rows {
		out = append(out, entryOf(a))
	}
	return out, nil
}

// effectiveAssignments lists what users effectively hold: group assignments become
// one per member, inherited ones one per project below their target, implied roles
// are added and domain-specific roles (which tokens never carry) dropped.
func (s *Service) effectiveAssignments(ctx context.Context, rq raQuery) ([]raEntry, error) {
	var tree *projectTree
	needTree := func() (*projectTree, error) {
		if tree == nil {
			var err error
			tree, err = s.loadProjectTree(ctx)
			return tree, err
		}
		return tree, nil
	}
	// Narrow the stored rows that can matter.
	w := &sqlWhere{}
	if rq.userID != "" {
		groups, err := s.groupIDsOfUser(ctx, s.db, rq.userID)
		if err != nil {
			return nil, err
		}
		w.in("actor_id", anySlice(append([]string{rq.userID}, groups...)))
	}
	// wantProject says whether an (expanded) project scope is asked for.
	wantProject := func(string) bool { return true }
	switch {
	case rq.projectID != "":
		scope := map[string]bool{rq.projectID: true}
		if rq.subtree {
			t, err := needTree()
			if err != nil {
				return nil, err
			}
			for _, id := range t.descendants(rq.projectID) {
				scope[id] = true
			}
		} else if p, err := s.getProject(ctx, s.db, rq.projectID); err != nil {
			return nil, err
		} else if p != nil {
			// Only the project itself and what it inherits from can matter.
			ancestors, err := s.projectAncestors(ctx, s.db, p)
			if err != nil {
				return nil, err
			}
			w.in("target_id", anySlice(append([]string{p.ID}, ancestors...)))
		}
		// Project assignments, and domain ones inherited to the domain's projects.
		w.add(`(type IN (?,?) OR (type IN (?,?) AND inherited = TRUE))`,
			append(append([]any{}, asgProjectTypes...), asgDomainTypes...)...)
		wantProject = func(id string) bool { return scope[id] }
	case rq.domainID != "":
		w.in("type", asgDomainTypes)
		w.add(`target_id = ? AND inherited = FALSE`, rq.domainID)
	case rq.system != "":
		w.in("type", asgSystemTypes)
	}
	rows, err := s.queryAssignments(ctx, s.db, w.String(), w.args...)
	if err != nil {
		return nil, err
	}

	// 1. Groups to their members.
	members := map[string][]string{}
	var byUser []raEntry
	for _, a := range rows {
		e := entryOf(a)
		if e.groupID == "" {
			byUser = append(byUser, e)
			continue
		}
		users, ok := members[e.groupID]
		if !ok {
			if rq.userID != "" {
				users = []string{rq.userID} // the user is in the group: that is why the row was loaded
			} else if users, err = s.groupMemberIDs(ctx, s.db, e.groupID); err != nil {
				return nil, err
			}
			members[e.groupID] = users
		}
		for _, u := range users {
			ue := e
			ue.userID, ue.groupID, ue.viaGroup = u, "", e.groupID
			byUser = append(byUser, ue)
		}
	}

	// 2. Inherited assignments down to the projects below their target.
	var scoped []raEntry
	for _, e := range byUser {
		if !e.inherited {
			if e.projectID != "" && !wantProject(e.projectID) {
				continue
			}
			scoped = append(scoped, e)
			continue
		}
		t, err := needTree()
		if err != nil {
			return nil, err
		}
		var projects []string
		from := e
		from.inherited = false
		if e.domainID != "" {
			projects = t.inDomain[e.domainID]
			from.viaDomain, from.domainID = e.domainID, ""
		} else {
			projects = t.descendants(e.projectID)
			from.viaProject = e.projectID
		}
		for _, p := range projects {
			if wantProject(p) {
				pe := from
				pe.projectID = p
				scoped = append(scoped, pe)
			}
		}
	}

	// 3. Implied roles, then drop domain-specific roles.
	rules, err := s.impliedRules(ctx, s.db)
	if err != nil {
		return nil, err
	}
	implies := map[string][]string{}
	for _, rule := range rules {
		implies[rule[0]] = append(implies[rule[0]], rule[1])
	}
	var expanded []raEntry
	for _, e := range scoped {
		seen := map[string]bool{}
		queue := []raEntry{e}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			if seen[cur.roleID] {
				continue
			}
			seen[cur.roleID] = true
			expanded = append(expanded, cur)
			for _, id := range implies[cur.roleID] {
				next := cur
				next.roleID, next.viaRole = id, cur.roleID
				queue = append(queue, next)
			}
		}
	}
	var roleIDs []string
	for _, e := range expanded {
		roleIDs = append(roleIDs, e.roleID)
	}
	roles, err := s.rolesByID(ctx, roleIDs)
	if err != nil {
		return nil, err
	}

	// 4. The filters that only apply after expansion.
	seen := map[raEntry]bool{}
	out := []raEntry{}
	for _, e := range expanded {
		role := roles[e.roleID]
		if role == nil || role.DomainID != nullDomainID || seen[e] {
			continue
		}
		if rq.roleID != "" && e.roleID != rq.roleID {
			continue
		}
		if rq.inherited != nil && *rq.inherited != (e.viaDomain != "" || e.viaProject != "") {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out, nil
}

// raNames renders the actors, scopes and roles of assignments, with their names
// when include_names is asked for; lookups are cached for the request.
type raNames struct {
	s        *Service
	ctx      context.Context
	cache    map[string]map[string]any
	projects map[string]*projectRow
	err      error
}

func (n *raNames) fail(err error) {
	if n.err == nil && err != nil {
		n.err = err
	}
}

func (n *raNames) projectRow(id string) *projectRow {
	if p, ok := n.projects[id]; ok {
		return p
	}
	p, err := n.s.getProject(n.ctx, n.s.db, id)
	n.fail(err)
	n.projects[id] = p
	return p
}

func (n *raNames) cached(key string, build func() map[string]any) map[string]any {
	if v, ok := n.cache[key]; ok {
		return v
	}
	v := build()
	n.cache[key] = v
	return v
}

func (n *raNames) domain(id string) map[string]any {
	return n.cached("domain:"+id, func() map[string]any {
		d, err := n.s.getDomain(n.ctx, n.s.db, id)
		n.fail(err)
		name := ""
		if d != nil {
			name = d.Name
		}
		return map[string]any{"id": id, "name": name}
	})
}

func (n *raNames) project(id string) map[string]any {
	return n.cached("project:"+id, func() map[string]any {
		out := map[string]any{"id": id, "name": ""}
		if p := n.projectRow(id); p != nil {
			out["name"], out["domain"] = p.Name, n.domain(p.DomainID)
		}
		return out
	})
}

func (n *raNames) user(id string) map[string]any {
	return n.cached("user:"+id, func() map[string]any {
		out := map[string]any{"id": id, "name": ""}
		u, err := n.s.getUser(n.ctx, n.s.db, id)
		n.fail(err)
		if u != nil {
			out["name"], out["domain"] = u.Name, n.domain(u.DomainID)
		}
		return out
	})
}

func (n *raNames) group(id string) map[string]any {
	return n.cached("group:"+id, func() map[string]any {
		out := map[string]any{"id": id, "name": ""}
		var name, domainID string
		err := n.s.db.QueryRowContext(n.ctx, `SELECT name, domain_id FROM groups WHERE id = ?`, id).Scan(&name, &domainID)
		if err == nil {
			out["name"], out["domain"] = name, n.domain(domainID)
		} else if !db.IsNoRows(err) {
			n.fail(err)
		}
		return out
	})
}

func (n *raNames) role(id string) map[string]any {
	return n.cached("role:"+id, func() map[string]any {
		out := map[string]any{"id": id, "name": ""}
		role, err := n.s.getRole(n.ctx, n.s.db, id)
		n.fail(err)
		if role != nil {
			out["name"] = role.Name
			if role.DomainID != nullDomainID {
				out["domain"] = n.domain(role.DomainID)
			}
		}
		return out
	})
}

// formatAssignment renders an entry in upstream's shape, links included: the
// assignment link names the grant that produced the entry.
func (s *Service) formatAssignment(e raEntry, n *raNames, names bool) map[string]any {
	ref := func(kind, id string) map[string]any {
		if !names {
			return map[string]any{"id": id}
		}
		switch kind {
		case "project":
			return n.project(id)
		case "domain":
			return n.domain(id)
		case "user":
			return n.user(id)
		case "group":
			return n.group(id)
		}
		return n.role(id)
	}
	out := map[string]any{}
	links := map[string]any{}
	scope := map[string]any{}
	inherited := e.inherited
	var link string
	switch {
	case e.projectID != "":
		scope["project"] = ref("project", e.projectID)
		switch {
		case e.viaDomain != "":
			inherited, link = true, "/domains/"+e.viaDomain
		case e.viaProject != "":
			inherited, link = true, "/projects/"+e.viaProject
		default:
			link = "/projects/" + e.projectID
		}
	case e.domainID != "":
		scope["domain"] = ref("domain", e.domainID)
		link = "/domains/" + e.domainID
	default:
		scope["system"] = map[string]any{"all": true}
		link = "/system"
	}
	switch {
	case e.userID != "" && e.viaGroup != "":
		out["user"] = ref("user", e.userID)
		links["membership"] = s.selfURL("/v3/groups/" + e.viaGroup + "/users/" + e.userID)
		link += "/groups/" + e.viaGroup
	case e.userID != "":
		out["user"] = ref("user", e.userID)
		link += "/users/" + e.userID
	default:
		out["group"] = ref("group", e.groupID)
		link += "/groups/" + e.groupID
	}
	out["role"] = ref("role", e.roleID)
	if e.viaRole != "" {
		link += "/roles/" + e.viaRole
		links["prior_role"] = s.selfURL("/v3/roles/" + e.viaRole + "/implies/" + e.roleID)
	} else {
		link += "/roles/" + e.roleID
	}
	if inherited {
		scope["OS-INHERIT:inherited_to"] = "projects"
		link = "/OS-INHERIT" + link + "/inherited_to_projects"
	}
	links["assignment"] = s.selfURL("/v3" + link)
	out["scope"], out["links"] = scope, links
	return out
}
