package identity

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// Row types and loaders shared by the handlers. Loaders return (nil, nil) when the
// row does not exist, so callers choose the upstream error message.

type userRow struct {
	ID, Name, DomainID string
	Enabled            bool
	DefaultProjectID   sql.NullString
	PasswordHash       sql.NullString
	PasswordCreatedAt  sql.NullInt64
	PasswordExpiresAt  sql.NullInt64
	FailedAuthCount    int
	LastFailedAuthAt   sql.NullInt64
	Extra, Options     string
	CreatedAt          int64
}

const userColumns = `id, name, domain_id, enabled, default_project_id, password_hash, password_created_at,
	password_expires_at, failed_auth_count, last_failed_auth_at, extra, options, created_at`

func scanUser(row db.Scanner) (*userRow, error) {
	u := &userRow{}
	err := row.Scan(&u.ID, &u.Name, &u.DomainID, &u.Enabled, &u.DefaultProjectID, &u.PasswordHash,
		&u.PasswordCreatedAt, &u.PasswordExpiresAt, &u.FailedAuthCount, &u.LastFailedAuthAt, &u.Extra, &u.Options,
		&u.CreatedAt)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

func (s *Service) getUser(ctx context.Context, q db.Querier, id string) (*userRow, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

func (s *Service) getUserByName(ctx context.Context, q db.Querier, name, domainID string) (*userRow, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ? AND domain_id = ?`,
		name, domainID))
}

type groupRow struct {
	ID, Name, DomainID string
	Description        string
	Extra              string
}

const groupColumns = `id, name, domain_id, description, extra`

func scanGroup(row db.Scanner) (*groupRow, error) {
	g := &groupRow{}
	err := row.Scan(&g.ID, &g.Name, &g.DomainID, &g.Description, &g.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load group: %w", err)
	}
	return g, nil
}

// getGroup loads a group by id; (nil, nil) when there is none.
func (s *Service) getGroup(ctx context.Context, q db.Querier, id string) (*groupRow, error) {
	return scanGroup(q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM groups WHERE id = ?`, id))
}

func (s *Service) loadGroup(ctx context.Context, q db.Querier, id string) (*groupRow, error) {
	g, err := s.getGroup(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, notFound("group", id)
	}
	return g, nil
}

type projectRow struct {
	ID, Name, DomainID string
	ParentID           sql.NullString
	Description        string
	Enabled, IsDomain  bool
	Extra, Options     string
}

const projectColumns = `id, name, domain_id, parent_id, description, enabled, is_domain, extra, options`

func scanProject(row db.Scanner) (*projectRow, error) {
	p := &projectRow{}
	err := row.Scan(&p.ID, &p.Name, &p.DomainID, &p.ParentID, &p.Description, &p.Enabled, &p.IsDomain, &p.Extra, &p.Options)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load project: %w", err)
	}
	return p, nil
}

// getProject loads a project (not a domain) by id.
func (s *Service) getProject(ctx context.Context, q db.Querier, id string) (*projectRow, error) {
	return scanProject(q.QueryRowContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE id = ? AND is_domain = FALSE`, id))
}

func (s *Service) getProjectByName(ctx context.Context, q db.Querier, name, domainID string) (*projectRow, error) {
	return scanProject(q.QueryRowContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE name = ? AND domain_id = ? AND is_domain = FALSE`, name, domainID))
}

// getDomain loads a domain by id.
func (s *Service) getDomain(ctx context.Context, q db.Querier, id string) (*projectRow, error) {
	return scanProject(q.QueryRowContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE id = ? AND is_domain = TRUE`, id))
}

func (s *Service) getDomainByName(ctx context.Context, q db.Querier, name string) (*projectRow, error) {
	return scanProject(q.QueryRowContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE name = ? AND is_domain = TRUE`, name))
}

type roleRow struct {
	ID, Name, DomainID string
	Description        string
	Extra, Options     string
}

func scanRole(row db.Scanner) (*roleRow, error) {
	r := &roleRow{}
	err := row.Scan(&r.ID, &r.Name, &r.DomainID, &r.Description, &r.Extra, &r.Options)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load role: %w", err)
	}
	return r, nil
}

const roleColumns = `id, name, domain_id, description, extra, options`

func (s *Service) getRole(ctx context.Context, q db.Querier, id string) (*roleRow, error) {
	return scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE id = ?`, id))
}

func (s *Service) getRoleByName(ctx context.Context, q db.Querier, name, domainID string) (*roleRow, error) {
	return scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE name = ? AND domain_id = ?`,
		name, domainID))
}

// groupIDsOfUser lists the groups user is a member of.
func (s *Service) groupIDsOfUser(ctx context.Context, q db.Querier, userID string) ([]string, error) {
	ids, err := db.QueryStrings(ctx, q, `SELECT group_id FROM user_group_membership WHERE user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("list groups of user: %w", err)
	}
	return ids, nil
}

// projectAncestors returns the parent chain of a project, nearest first, ending at
// its domain.
func (s *Service) projectAncestors(ctx context.Context, q db.Querier, p *projectRow) ([]string, error) {
	var out []string
	seen := map[string]bool{p.ID: true}
	parent := p.ParentID
	for parent.Valid && parent.String != "" && !seen[parent.String] {
		seen[parent.String] = true
		out = append(out, parent.String)
		var next sql.NullString
		err := q.QueryRowContext(ctx, `SELECT parent_id FROM projects WHERE id = ?`, parent.String).Scan(&next)
		if db.IsNoRows(err) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("walk project parents: %w", err)
		}
		parent = next
	}
	if !slices.Contains(out, p.DomainID) && p.DomainID != rootDomainID {
		out = append(out, p.DomainID)
	}
	return out, nil
}
