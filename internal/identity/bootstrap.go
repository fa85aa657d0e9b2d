package identity

import (
	"context"
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// CatalogService is one service to publish in the catalog.
type CatalogService struct {
	Type, Name, Description string
	URL                     string // used for the public, internal and admin interfaces
}

// BootstrapOptions are what `nimbus up` ensures exists, like keystone-manage bootstrap.
type BootstrapOptions struct {
	Region        string
	AdminPassword string
	DemoPassword  string
	Services      []CatalogService
}

// Well-known ids, stable across clouds so operators and tests can rely on them.
const (
	DefaultDomainID = defaultDomain
)

// Bootstrap creates the default domain, roles, admin and demo projects and users,
// the region and the catalog. Safe to run on every start: it only adds what is
// missing and points the catalog at the URLs of this start.
func (s *Service) Bootstrap(ctx context.Context, o BootstrapOptions) error {
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		ins := func(q string, args ...any) error {
			_, err := tx.ExecContext(ctx, q+` ON CONFLICT DO NOTHING`, args...)
			return err
		}
		if err := ins(`INSERT INTO projects (`+projectColumns+`) VALUES (?,?,?,NULL,?,TRUE,TRUE,'{}','{}')`,
			defaultDomain, "Default", rootDomainID, "The default domain"); err != nil {
			return err
		}
		roleIDs := map[string]string{}
		for _, name := range []string{"admin", "manager", "member", "reader", "service"} {
			if err := ins(`INSERT INTO roles (`+roleColumns+`) VALUES (?,?,?,'','{}','{}')`, newID(), name, nullDomainID); err != nil {
				return err
			}
			var id string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM roles WHERE name = ? AND domain_id = ?`, name, nullDomainID).Scan(&id); err != nil {
				return err
			}
			roleIDs[name] = id
		}
		// As keystone-manage bootstrap: admin implies manager (a domain's
		// manager, whom upstream's default rules name), manager implies member,
		// member implies reader. Clouds bootstrapped before manager existed had
		// admin imply member directly; that rule goes, as upstream drops it.
		for _, pair := range [][2]string{{"admin", "manager"}, {"manager", "member"}, {"member", "reader"}} {
			if err := ins(`INSERT INTO implied_roles (prior_role_id, implied_role_id) VALUES (?, ?)`,
				roleIDs[pair[0]], roleIDs[pair[1]]); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM implied_roles WHERE prior_role_id = ? AND implied_role_id = ?`,
			roleIDs["admin"], roleIDs["member"]); err != nil {
			return err
		}
		users := []struct{ project, user, password, role string }{
			{"admin", "admin", o.AdminPassword, "admin"},
			{"demo", "demo", o.DemoPassword, "member"},
		}
		for _, u := range users {
			if err := ins(`INSERT INTO projects (`+projectColumns+`) VALUES (?,?,?,?,?,TRUE,FALSE,'{}','{}')`,
				newID(), u.project, defaultDomain, defaultDomain, "Bootstrap project for "+u.project); err != nil {
				return err
			}
			var projectID, userID string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM projects WHERE name = ? AND domain_id = ?`, u.project, defaultDomain).Scan(&projectID); err != nil {
				return err
			}
			err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ? AND domain_id = ?`, u.user, defaultDomain).Scan(&userID)
			if db.IsNoRows(err) {
				hash, herr := s.hashPassword(u.password)
				if herr != nil {
					return herr
				}
				userID = newID()
				now := s.now().UnixMicro()
				_, err = tx.ExecContext(ctx, `INSERT INTO users (id, name, domain_id, enabled, default_project_id, password_hash,
					password_created_at, created_at) VALUES (?,?,?,TRUE,?,?,?,?)`, userID, u.user, defaultDomain, projectID, hash, now, now)
			}
			if err != nil {
				return err
			}
			if err := ins(`INSERT INTO assignments (type, actor_id, target_id, role_id, inherited) VALUES ('UserProject',?,?,?,FALSE)`,
				userID, projectID, roleIDs[u.role]); err != nil {
				return err
			}
			if u.role == "admin" {
				if err := ins(`INSERT INTO assignments (type, actor_id, target_id, role_id, inherited) VALUES ('UserSystem',?,?,?,FALSE)`,
					userID, systemTarget, roleIDs["admin"]); err != nil {
					return err
				}
			}
		}
		if err := ins(`INSERT INTO regions (id, description, extra) VALUES (?, '', '{}')`, o.Region); err != nil {
			return err
		}
		for _, svc := range o.Services {
			if err := s.ensureCatalogService(ctx, tx, o.Region, svc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bootstrap identity: %w", err)
	}
	s.changed()
	return nil
}

// ensureCatalogService makes the service exist with exactly one endpoint per
// interface in region, pointing at svc.URL (which changes with ephemeral ports).
func (s *Service) ensureCatalogService(ctx context.Context, tx *db.Tx, region string, svc CatalogService) error {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM services WHERE type = ? ORDER BY id LIMIT 1`, svc.Type).Scan(&id)
	if db.IsNoRows(err) {
		id = newID()
		_, err = tx.ExecContext(ctx, `INSERT INTO services (id, type, enabled, extra) VALUES (?,?,TRUE,?)`, id, svc.Type,
			marshalJSON(map[string]any{"name": svc.Name, "description": svc.Description}))
	}
	if err != nil {
		return err
	}
	for _, iface := range []string{"public", "internal", "admin"} {
		res, err := tx.ExecContext(ctx, `UPDATE endpoints SET url = ? WHERE service_id = ? AND interface = ? AND region_id = ?`,
			svc.URL, id, iface, region)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO endpoints (id, service_id, interface, url, region_id, enabled, extra)
				VALUES (?,?,?,?,?,TRUE,'{}')`, newID(), id, iface, svc.URL, region); err != nil {
				return err
			}
		}
	}
	return nil
}
