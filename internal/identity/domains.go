package identity

import (
	"context"
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func (s *Service) domainRoutes() []httpapi.Route {
	target := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.domain.id": pathParam(r, "domain_id")}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/domains", Policy: "identity:list_domains", Target: domainScopedListTarget("target.domain.id"), Handler: s.listDomains,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: domainIndexResponse})},
		{Method: "POST", Path: "/v3/domains", Policy: "identity:create_domain", Handler: s.createDomain,
			Schemas: schemas(domainCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: domainResponse})},
		{Method: "GET", Path: "/v3/domains/{domain_id}", Policy: "identity:get_domain", Target: target, Handler: s.showDomain,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: domainResponse})},
		{Method: "PATCH", Path: "/v3/domains/{domain_id}", Policy: "identity:update_domain", Target: target, Handler: s.updateDomain,
			Schemas: schemas(domainUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: domainResponse})},
		{Method: "DELETE", Path: "/v3/domains/{domain_id}", Policy: "identity:delete_domain", Target: target, Handler: s.deleteDomain, Schemas: noContent},
	}
}

func (s *Service) domainJSON(d *projectRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": d.ID, "name": d.Name, "description": d.Description, "enabled": d.Enabled,
		"options": unmarshalObject(d.Options), "tags": []string{},
		"links": s.links("/v3/domains/" + d.ID),
	}, d.Extra)
}

func (s *Service) loadDomain(ctx context.Context, q db.Querier, id string) (*projectRow, error) {
	d, err := s.getDomain(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, notFound("domain", id)
	}
	return d, nil
}

func (s *Service) listDomains(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	where, args := "is_domain = TRUE", []any{}
	if c := auth.FromContext(r.Context()); c.DomainID != "" { // as upstream, its own domain only
		where, args = where+" AND id = ?", append(args, c.DomainID)
	}
	if v := q.Get("name"); v != "" {
		where += " AND name = ?"
		args = append(args, v)
	}
	if q.Has("enabled") {
		where += " AND enabled = ?"
		args = append(args, queryBool(q.Get("enabled")))
	}
	domains, err := db.QueryAll(r.Context(), s.db, scanProject, `SELECT `+projectColumns+` FROM projects WHERE `+where+` ORDER BY name`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := []map[string]any{}
	for _, d := range domains {
		if inexactFiltersMatch(q, map[string]string{"name": d.Name}) {
			list = append(list, s.domainJSON(d))
		}
	}
	return httpapi.OK(map[string]any{"domains": list, "links": s.collectionLinks(r)}), nil
}

func (s *Service) createDomain(r *http.Request) (httpapi.Response, error) {
	obj, err := decodeEnvelope(r, "domain")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled")
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.String("description", 0)
	enabled, hasEnabled := f.Bool("enabled")
	options, _ := f.Object("options")
	explicitID, _ := f.String("explicit_domain_id", 64)
	f.Drop("id", "links", "tags")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	if !hasEnabled {
		enabled = true
	}
	d := &projectRow{ID: firstNonEmpty(explicitID, newID()), Name: name, DomainID: rootDomainID, Description: desc,
		Enabled: enabled, IsDomain: true, Extra: marshalJSON(f.Extra()), Options: marshalJSON(options)}
	if err := s.insertProject(r.Context(), d); err != nil {
		if db.IsUniqueViolation(err) {
			return httpapi.Response{}, conflict("domain", "name", name)
		}
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"domain": s.domainJSON(d)}), nil
}

func (s *Service) insertProject(ctx context.Context, p *projectRow) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		p.ID, p.Name, p.DomainID, p.ParentID, p.Description, p.Enabled, p.IsDomain, p.Extra, p.Options)
	return err
}

// projectUpdate is what a domain or project update asks to change of the
// attributes they share (name, description, enabled, options, extra), read from
// the request before the row, so that it applies to the row as stored.
type projectUpdate struct {
	name, description   string
	hasName, hasDesc    bool
	enabled, hasEnabled bool
	options             map[string]any
	hasOptions          bool
	extra               map[string]any
}

func readProjectUpdate(f *fields) projectUpdate {
	var u projectUpdate
	u.name, u.hasName = f.Name("name", false)
	u.description, u.hasDesc = f.String("description", 0)
	u.enabled, u.hasEnabled = f.Bool("enabled")
	u.options, u.hasOptions = f.Object("options")
	return u
}

func (u projectUpdate) apply(p *projectRow) {
	if u.hasName {
		p.Name = u.name
	}
	if u.hasDesc {
		p.Description = u.description
	}
	if u.hasEnabled {
		p.Enabled = u.enabled
	}
	if u.hasOptions {
		p.Options = marshalJSON(u.options)
	}
	p.Extra = extraMerged(p.Extra, u.extra)
}

// updateProjectRow stores the updatable attributes of a domain or project.
func updateProjectRow(ctx context.Context, q db.Querier, p *projectRow) error {
	_, err := q.ExecContext(ctx, `UPDATE projects SET name = ?, description = ?, enabled = ?, options = ?, extra = ?
		WHERE id = ?`, p.Name, p.Description, p.Enabled, p.Options, p.Extra, p.ID)
	if err != nil {
		return fmt.Errorf("update project %s: %w", p.ID, err)
	}
	return nil
}

// changeProject applies u to the domain or project id as stored when it writes, in
// one transaction that also runs then (when not nil), and returns the row as it
// was and as it is: an update racing another (a disable) never writes back what
// it read before. load finds the row (a domain, or a project or domain) and
// answers its 404.
func (s *Service) changeProject(ctx context.Context, id, kind string, u projectUpdate,
	load func(context.Context, db.Querier, string) (*projectRow, error),
	then func(*db.Tx) error) (before, after projectRow, err error) {
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		p, err := load(ctx, tx, id)
		if err != nil {
			return err
		}
		before = *p
		u.apply(p)
		if err := updateProjectRow(ctx, tx, p); err != nil {
			if db.IsUniqueViolation(err) {
				return conflict(kind, "name", p.Name)
			}
			return err
		}
		after = *p
		if then != nil {
			return then(tx)
		}
		return nil
	})
	return before, after, err
}

func (s *Service) showDomain(r *http.Request) (httpapi.Response, error) {
	d, err := s.loadDomain(r.Context(), s.db, pathParam(r, "domain_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"domain": s.domainJSON(d)}), nil
}

func (s *Service) updateDomain(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "domain_id")
	if _, err := s.loadDomain(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "domain")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled")
	f := &fields{m: obj}
	u := readProjectUpdate(f)
	f.Drop("id", "links", "tags")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	u.extra = f.Extra()
	before, d, err := s.changeProject(ctx, id, "domain", u, s.loadDomain, nil)
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if before.Enabled && !d.Enabled {
		if err := s.revoke(ctx, auth.RevocationEvent{DomainID: d.ID}); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"domain": s.domainJSON(&d)}), nil
}

func (s *Service) deleteDomain(r *http.Request) (httpapi.Response, error) {
	if err := s.removeDomain(r.Context(), pathParam(r, "domain_id"), s.loadDomain); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// removeDomain deletes a disabled domain and everything it owns, as upstream,
// deciding on the domain as stored when it deletes (one enabled meanwhile stays),
// then revokes the tokens scoped to it: after the delete, so that no token
// issued in between survives it. load finds the domain and answers its 404.
func (s *Service) removeDomain(ctx context.Context, id string, load func(context.Context, db.Querier, string) (*projectRow, error)) error {
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		d, err := load(ctx, tx, id)
		if err != nil {
			return err
		}
		if d.Enabled {
			return httpapi.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
		}
		// Everything owned by the domain goes with it, as upstream.
		for _, q := range []string{
			`DELETE FROM assignments WHERE target_id = ? OR target_id IN (SELECT id FROM projects WHERE domain_id = ?)`,
			`DELETE FROM assignments WHERE actor_id IN (SELECT id FROM users WHERE domain_id = ?) OR actor_id IN (SELECT id FROM groups WHERE domain_id = ?)`,
			`DELETE FROM users WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM groups WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM roles WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM projects WHERE domain_id = ? AND id <> ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id, id); err != nil {
				return fmt.Errorf("delete domain %s: %w", id, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete domain %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.changed()
	return s.revoke(ctx, auth.RevocationEvent{DomainID: id})
}
