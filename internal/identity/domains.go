package identity

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) domainRoutes() []httpapi.Route {
	target := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.domain.id": pathParam(r, "domain_id")}, nil
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/domains", Policy: "identity:list_domains", Target: domainScopedListTarget("target.domain.id"), Handler: s.listDomains},
		{Method: "POST", Path: "/v3/domains", Policy: "identity:create_domain", Handler: s.createDomain},
		{Method: "GET", Path: "/v3/domains/{domain_id}", Policy: "identity:get_domain", Target: target, Handler: s.showDomain},
		{Method: "PATCH", Path: "/v3/domains/{domain_id}", Policy: "identity:update_domain", Target: target, Handler: s.updateDomain},
		{Method: "DELETE", Path: "/v3/domains/{domain_id}", Policy: "identity:delete_domain", Target: target, Handler: s.deleteDomain},
	}
}

func (s *Service) domainJSON(d *projectRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": d.ID, "name": d.Name, "description": d.Description, "enabled": d.Enabled,
		"options": unmarshalObject(d.Options), "tags": []string{},
		"links": s.links("/v3/domains/" + d.ID),
	}, d.Extra)
}

func (s *Service) loadDomain(ctx context.Context, id string) (*projectRow, error) {
	d, err := s.getDomain(ctx, id)
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

// readProjectUpdate applies the attributes a domain or project update shares (name,
// description, enabled, options) from f to p.
func readProjectUpdate(f *fields, p *projectRow) {
	if name, ok := f.Name("name", false); ok {
		p.Name = name
	}
	if desc, ok := f.String("description", 0); ok {
		p.Description = desc
	}
	if enabled, ok := f.Bool("enabled"); ok {
		p.Enabled = enabled
	}
	if options, ok := f.Object("options"); ok {
		p.Options = marshalJSON(options)
	}
}

// updateProjectRow stores the updatable attributes of a domain or project.
func updateProjectRow(ctx context.Context, q db.Querier, p *projectRow) error {
	_, err := q.ExecContext(ctx, `UPDATE projects SET name = ?, description = ?, enabled = ?, options = ?, extra = ?
		WHERE id = ?`, p.Name, p.Description, p.Enabled, p.Options, p.Extra, p.ID)
	return err
}

func (s *Service) showDomain(r *http.Request) (httpapi.Response, error) {
	d, err := s.loadDomain(r.Context(), pathParam(r, "domain_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"domain": s.domainJSON(d)}), nil
}

func (s *Service) updateDomain(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	d, err := s.loadDomain(ctx, pathParam(r, "domain_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "domain")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	wasEnabled := d.Enabled
	readProjectUpdate(f, d)
	f.Drop("id", "links", "tags")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	d.Extra = extraMerged(d.Extra, f.Extra())
	if err := updateProjectRow(ctx, s.db, d); err != nil {
		if db.IsUniqueViolation(err) {
			return httpapi.Response{}, conflict("domain", "name", d.Name)
		}
		return httpapi.Response{}, err
	}
	s.changed()
	if wasEnabled && !d.Enabled {
		if err := s.revoke(ctx, auth.RevocationEvent{DomainID: d.ID}); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"domain": s.domainJSON(d)}), nil
}

func (s *Service) deleteDomain(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	d, err := s.loadDomain(ctx, pathParam(r, "domain_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.removeDomain(ctx, d); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// removeDomain deletes a disabled domain and everything it owns, as upstream.
func (s *Service) removeDomain(ctx context.Context, d *projectRow) error {
	if d.Enabled {
		return httpapi.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
	}
	if err := s.revoke(ctx, auth.RevocationEvent{DomainID: d.ID}); err != nil {
		return err
	}
	// Everything owned by the domain goes with it, as upstream.
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, q := range []string{
			`DELETE FROM assignments WHERE target_id = ? OR target_id IN (SELECT id FROM projects WHERE domain_id = ?)`,
			`DELETE FROM assignments WHERE actor_id IN (SELECT id FROM users WHERE domain_id = ?) OR actor_id IN (SELECT id FROM groups WHERE domain_id = ?)`,
			`DELETE FROM users WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM groups WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM roles WHERE domain_id = ? AND id <> ?`,
			`DELETE FROM projects WHERE domain_id = ? AND id <> ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, d.ID, d.ID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, d.ID)
		return err
	})
	if err != nil {
		return err
	}
	s.changed()
	return nil
}
