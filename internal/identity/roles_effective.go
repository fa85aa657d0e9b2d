package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// tokenScope is what a token is scoped to; all empty means unscoped.
type tokenScope struct {
	ProjectID string
	DomainID  string
	System    bool
}

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// directRoleIDs are the roles assigned to user (directly or through its groups) on a
// scope, including roles inherited from parent projects and the owning domain.
func (s *Service) directRoleIDs(ctx context.Context, q db.Querier, userID string, sc tokenScope) ([]string, error) {
	groups, err := s.groupIDsOfUser(ctx, q, userID)
	if err != nil {
		return nil, err
	}
	actors := append([]string{userID}, groups...)
	var where string
	args := anySlice(actors)
	switch {
	case sc.System:
		where = `type IN ('UserSystem','GroupSystem') AND target_id = ?`
		args = append(args, systemTarget)
	case sc.DomainID != "":
		where = `type IN ('UserDomain','GroupDomain') AND target_id = ? AND inherited = FALSE`
		args = append(args, sc.DomainID)
	case sc.ProjectID != "":
		p, err := s.getProject(ctx, q, sc.ProjectID)
		if err != nil || p == nil {
			return nil, err
		}
		ancestors, err := s.projectAncestors(ctx, q, p)
		if err != nil {
			return nil, err
		}
		where = `((type IN ('UserProject','GroupProject') AND target_id = ? AND inherited = FALSE)`
		args = append(args, sc.ProjectID)
		if len(ancestors) > 0 {
			where += ` OR (target_id IN (` + placeholders(len(ancestors)) + `) AND inherited = TRUE)`
			args = append(args, anySlice(ancestors)...)
		}
		where += `)`
	default:
		return nil, nil
	}
	ids, err := db.QueryStrings(ctx, q, `SELECT DISTINCT role_id FROM assignments WHERE actor_id IN (`+
		placeholders(len(actors))+`) AND `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load assignments: %w", err)
	}
	return ids, nil
}

// impliedClosure expands role ids through the implied-role rules (admin implies
// member implies reader), following chains and ignoring cycles.
func (s *Service) impliedClosure(ctx context.Context, q db.Querier, ids []string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT prior_role_id, implied_role_id FROM implied_roles`)
	if err != nil {
		return nil, fmt.Errorf("load implied roles: %w", err)
	}
	defer rows.Close()
	implies := map[string][]string{}
	for rows.Next() {
		var prior, implied string
		if err := rows.Scan(&prior, &implied); err != nil {
			return nil, err
		}
		implies[prior] = append(implies[prior], implied)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	queue := slices.Clone(ids)
	var out []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
		queue = append(queue, implies[id]...)
	}
	return out, nil
}

// effectiveRoles are the global roles a token for user on sc carries: direct,
// group, inherited and implied. Domain-specific roles only serve to imply others and
// never appear in tokens, as upstream.
func (s *Service) effectiveRoles(ctx context.Context, userID string, sc tokenScope) ([]auth.Role, error) {
	direct, err := s.directRoleIDs(ctx, s.db, userID, sc)
	if err != nil || len(direct) == 0 {
		return nil, err
	}
	all, err := s.impliedClosure(ctx, s.db, direct)
	if err != nil {
		return nil, err
	}
	return s.globalRoles(ctx, all)
}

// globalRoles loads the ids' names, dropping domain-specific roles, sorted by name.
func (s *Service) globalRoles(ctx context.Context, ids []string) ([]auth.Role, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	roles, err := db.QueryAll(ctx, s.db, func(row db.Scanner) (auth.Role, error) {
		var r auth.Role
		err := row.Scan(&r.ID, &r.Name)
		return r, err
	}, `SELECT id, name FROM roles WHERE domain_id = ? AND id IN (`+placeholders(len(ids))+`) ORDER BY name`,
		append([]any{nullDomainID}, anySlice(ids)...)...)
	if err != nil {
		return nil, fmt.Errorf("load roles: %w", err)
	}
	return roles, nil
}
