package identity

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func (s *Service) projectRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/projects", Policy: "identity:list_projects", Target: domainScopedListTarget("target.domain_id"), Handler: s.listProjects,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: projectIndexResponse})},
		{Method: "POST", Path: "/v3/projects", Handler: s.createProject, // policy needs the body's domain
			Schemas: schemas(projectCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: projectResponse})},
		{Method: "GET", Path: "/v3/projects/{project_id}", Policy: "identity:get_project", Target: s.projectTarget, Handler: s.showProject,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: projectResponse})},
		{Method: "PATCH", Path: "/v3/projects/{project_id}", Policy: "identity:update_project", Target: s.projectTarget, Handler: s.updateProject,
			Schemas: schemas(projectUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: projectResponse})},
		{Method: "DELETE", Path: "/v3/projects/{project_id}", Policy: "identity:delete_project", Target: s.projectTarget, Handler: s.deleteProject, Schemas: noContent},
		{Method: "GET", Path: "/v3/projects/{project_id}/tags", Policy: "identity:list_project_tags", Target: s.projectTarget, Handler: s.listProjectTags,
			Schemas: okBody(tagsResponse)},
		{Method: "PUT", Path: "/v3/projects/{project_id}/tags", Policy: "identity:update_project_tags", Target: s.projectTarget, Handler: s.replaceProjectTags, LateValidation: lazyValidation("tags"),
			Schemas: schemas(tagsUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: tagsResponse})},
		{Method: "DELETE", Path: "/v3/projects/{project_id}/tags", Policy: "identity:delete_project_tags", Target: s.projectTarget, Handler: s.deleteProjectTags, Schemas: noContent},
		{Method: "GET", Path: "/v3/projects/{project_id}/tags/{tag}", Policy: "identity:get_project_tag", Target: s.projectTarget, Handler: s.checkProjectTag, Schemas: noContent},
		{Method: "HEAD", Path: "/v3/projects/{project_id}/tags/{tag}", Policy: "identity:get_project_tag", Target: s.projectTarget, Handler: s.checkProjectTag, Schemas: noContent},
		{Method: "PUT", Path: "/v3/projects/{project_id}/tags/{tag}", Policy: "identity:create_project_tag", Target: s.projectTarget, Handler: s.addProjectTag, Schemas: answering(http.StatusCreated, nil)},
		{Method: "DELETE", Path: "/v3/projects/{project_id}/tags/{tag}", Policy: "identity:delete_project_tag", Target: s.projectTarget, Handler: s.deleteProjectTag, Schemas: noContent},
	}
}

// projectTarget exposes the project's id and domain to policy; a missing project
// still gets a target so that non-admins learn nothing (the handler answers 404).
func (s *Service) projectTarget(r *http.Request) (map[string]any, error) {
	id := pathParam(r, "project_id")
	t := map[string]any{"target.project.id": id}
	if p, err := s.getProject(r.Context(), s.db, id); err == nil && p != nil {
		t["target.project.domain_id"] = p.DomainID
	}
	return t, nil
}

func (s *Service) projectJSON(ctx context.Context, p *projectRow) map[string]any {
	tags, _ := s.projectTags(ctx, s.db, p.ID)
	var parent, domain any = nil, p.DomainID
	if p.ParentID.Valid {
		parent = p.ParentID.String
	}
	if p.IsDomain {
		domain = nil // the root sentinel is internal; upstream shows null
	}
	return mergeExtra(map[string]any{
		"id": p.ID, "name": p.Name, "domain_id": domain, "description": p.Description, "enabled": p.Enabled,
		"parent_id": parent, "is_domain": p.IsDomain, "tags": tags, "options": unmarshalObject(p.Options),
		"links": s.links("/v3/projects/" + p.ID),
	}, p.Extra)
}

// loadProject loads a project by id; like upstream's projects API it also finds
// projects acting as domains (is_domain).
func (s *Service) loadProject(ctx context.Context, q db.Querier, id string) (*projectRow, error) {
	p, err := scanProject(q.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound("project", id)
	}
	return p, nil
}

func (s *Service) projectTags(ctx context.Context, q db.Querier, id string) ([]string, error) {
	tags, err := db.QueryStrings(ctx, q, `SELECT name FROM project_tags WHERE project_id = ? ORDER BY name`, id)
	if tags == nil {
		tags = []string{} // rendered as [], never null
	}
	return tags, err
}

func (s *Service) listProjects(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	q := r.URL.Query()
	where, args := "is_domain = FALSE", []any{}
	if q.Has("is_domain") && queryBool(q.Get("is_domain")) {
		where = "is_domain = TRUE"
	}
	for _, col := range []string{"name", "domain_id", "parent_id"} {
		if v := q.Get(col); v != "" {
			where += " AND " + col + " = ?"
			args = append(args, v)
		}
	}
	if q.Has("enabled") {
		where += " AND enabled = ?"
		args = append(args, queryBool(q.Get("enabled")))
	}
	where, args = scopeDomainFilter(ctx, where, args) // a domain-scoped caller sees its domain's
	ps, err := db.QueryAll(ctx, s.db, scanProject, `SELECT `+projectColumns+` FROM projects WHERE `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := []map[string]any{}
	for _, p := range ps {
		j := s.projectJSON(ctx, p)
		if tagsMatch(j["tags"].([]string), q.Get("tags"), q.Get("tags-any"), q.Get("not-tags"), q.Get("not-tags-any")) &&
			inexactFiltersMatch(q, map[string]string{"name": p.Name, "domain_id": p.DomainID}) {
			list = append(list, j)
		}
	}
	return httpapi.OK(map[string]any{"projects": list, "links": s.collectionLinks(r)}), nil
}

// tagsMatch applies Keystone's tag filters: tags (all of), tags-any, not-tags (not
// all of), not-tags-any (none of); each a comma-separated list.
func tagsMatch(have []string, all, anyOf, notAll, notAny string) bool {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	has := func(t string) bool { return slices.Contains(have, t) }
	if want := split(all); want != nil && !allOf(want, has) {
		return false
	}
	if want := split(anyOf); want != nil && !slices.ContainsFunc(want, has) {
		return false
	}
	if want := split(notAll); want != nil && allOf(want, has) {
		return false
	}
	if want := split(notAny); want != nil && slices.ContainsFunc(want, has) {
		return false
	}
	return true
}

func allOf(want []string, has func(string) bool) bool {
	for _, w := range want {
		if !has(w) {
			return false
		}
	}
	return true
}

func validateTags(tags []string) error {
	if len(tags) > 80 {
		return httpapi.BadRequest("Invalid input for field 'tags': at most 80 tags are allowed.")
	}
	for _, t := range tags {
		if t == "" || len(t) > 255 || strings.ContainsAny(t, ",/") {
			return httpapi.BadRequest("Invalid input for field 'tags': %q must be 1-255 characters without ',' or '/'.", t)
		}
	}
	return nil
}

func (s *Service) createProject(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "project")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled", "is_domain")
	f := &fields{m: obj}
	name, _ := f.Name("name", true)
	desc, _ := f.String("description", 0)
	enabled, hasEnabled := f.Bool("enabled")
	isDomain, _ := f.Bool("is_domain")
	domainID, _ := f.NullableString("domain_id")
	parentID, _ := f.NullableString("parent_id")
	tags, _ := f.StringList("tags")
	options, _ := f.Object("options")
	f.Drop("id", "links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	if err := validateTags(tags); err != nil {
		return httpapi.Response{}, err
	}
	if !hasEnabled {
		enabled = true
	}
	creds := auth.FromContext(ctx)
	p := &projectRow{ID: newID(), Name: name, Description: desc, Enabled: enabled, IsDomain: isDomain,
		Extra: marshalJSON(f.Extra()), Options: marshalJSON(options)}
	switch {
	case parentID != nil && *parentID != "":
		parent, err := s.getProject(ctx, s.db, *parentID)
		if err != nil {
			return httpapi.Response{}, err
		}
		if parent == nil {
			if d, _ := s.getDomain(ctx, s.db, *parentID); d != nil {
				p.DomainID = d.ID
			} else {
				return httpapi.Response{}, notFound("project", *parentID)
			}
		} else {
			p.DomainID = parent.DomainID
		}
		if domainID != nil && *domainID != "" && *domainID != p.DomainID {
			return httpapi.Response{}, httpapi.BadRequest("Cannot create project, the parent (%s) is in a different domain (%s).", *parentID, p.DomainID)
		}
		p.ParentID.String, p.ParentID.Valid = *parentID, true
	case domainID != nil && *domainID != "":
		p.DomainID = *domainID
	default:
		// As upstream: the domain of the token's scope, else the default domain.
		p.DomainID = firstNonEmpty(creds.DomainID, creds.ProjectDomainID, defaultDomain)
	}
	if isDomain {
		p.DomainID, p.ParentID.Valid = rootDomainID, false
	} else {
		if err := s.requireDomain(ctx, s.db, p.DomainID); err != nil {
			return httpapi.Response{}, err
		}
		if !p.ParentID.Valid {
			p.ParentID.String, p.ParentID.Valid = p.DomainID, true // top-level projects hang off their domain
		}
	}
	if err := httpapi.Enforce(r, s.policy, "identity:create_project",
		map[string]any{"target.project.domain_id": p.DomainID}); err != nil {
		return httpapi.Response{}, err
	}
	// The domain and the parent are read again in the transaction that inserts: a
	// project is never created into a domain or under a project being deleted.
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if !isDomain {
			if err := s.requireDomain(ctx, tx, p.DomainID); err != nil {
				return err
			}
			if _, err := s.loadProject(ctx, tx, p.ParentID.String); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO projects (`+projectColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
			p.ID, p.Name, p.DomainID, p.ParentID, p.Description, p.Enabled, p.IsDomain, p.Extra, p.Options)
		if db.IsUniqueViolation(err) {
			return conflict("project", "name", name)
		}
		if err != nil {
			return fmt.Errorf("create project: %w", err)
		}
		return replaceTags(ctx, tx, p.ID, tags)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"project": s.projectJSON(ctx, p)}), nil
}

func replaceTags(ctx context.Context, q db.Querier, projectID string, tags []string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM project_tags WHERE project_id = ?`, projectID); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		if _, err := q.ExecContext(ctx, `INSERT INTO project_tags (project_id, name) VALUES (?, ?)`, projectID, t); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) showProject(r *http.Request) (httpapi.Response, error) {
	p, err := s.loadProject(r.Context(), s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"project": s.projectJSON(r.Context(), p)}), nil
}

func (s *Service) updateProject(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	p, err := s.loadProject(ctx, s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "project")
	if err != nil {
		return httpapi.Response{}, err
	}
	normalizeBooleans(obj, "enabled", "is_domain")
	f := &fields{m: obj}
	u := readProjectUpdate(f)
	tags, hasTags := f.StringList("tags")
	// domain, parent and is_domain never change: the row read above is good for these
	if d, ok := f.NullableString("domain_id"); ok && d != nil && *d != p.DomainID {
		return httpapi.Response{}, httpapi.BadRequest("Cannot change the domain_id of a project.")
	}
	if v, ok := f.NullableString("parent_id"); ok && (v == nil || !p.ParentID.Valid || *v != p.ParentID.String) {
		return httpapi.Response{}, httpapi.Forbidden("Update of `parent_id` is not allowed.")
	}
	if v, ok := f.Bool("is_domain"); ok && v != p.IsDomain {
		return httpapi.Response{}, httpapi.BadRequest("Update of `is_domain` is not allowed.")
	}
	f.Drop("id", "links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	if err := validateTags(tags); err != nil {
		return httpapi.Response{}, err
	}
	u.extra = f.Extra()
	before, after, err := s.changeProject(ctx, p.ID, "project", u, s.loadProject, func(tx *db.Tx) error {
		if hasTags {
			return replaceTags(ctx, tx, p.ID, tags)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if before.Enabled && !after.Enabled {
		event := auth.RevocationEvent{ProjectID: after.ID}
		if after.IsDomain {
			event = auth.RevocationEvent{DomainID: after.ID}
		}
		if err := s.revoke(ctx, event); err != nil {
			return httpapi.Response{}, err
		}
	}
	return httpapi.OK(map[string]any{"project": s.projectJSON(ctx, &after)}), nil
}

// deleteProject deletes a leaf project, deciding on its children as stored when
// it deletes (a child created meanwhile either comes first and refuses the
// delete, or finds no parent), then revokes the tokens scoped to it: after the
// delete, so that no token issued in between survives it.
func (s *Service) deleteProject(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "project_id")
	p, err := s.loadProject(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	if p.IsDomain {
		if err := s.removeDomain(ctx, id, s.loadProject); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.NoContent(), nil
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadProject(ctx, tx, id); err != nil {
			return err
		}
		var children int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects WHERE parent_id = ?`, id).Scan(&children); err != nil {
			return fmt.Errorf("count child projects: %w", err)
		}
		if children > 0 {
			return httpapi.Forbidden("Cannot delete the project %s since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a whole subtree.", id)
		}
		for _, q := range []string{
			`DELETE FROM assignments WHERE target_id = ?`,
			`UPDATE users SET default_project_id = NULL WHERE default_project_id = ?`,
			`DELETE FROM projects WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete project: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if err := s.revoke(ctx, auth.RevocationEvent{ProjectID: id}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// loadProjectTags loads the path's project (404 if missing) and its tags.
func (s *Service) loadProjectTags(r *http.Request) (*projectRow, []string, error) {
	p, err := s.loadProject(r.Context(), s.db, pathParam(r, "project_id"))
	if err != nil {
		return nil, nil, err
	}
	tags, err := s.projectTags(r.Context(), s.db, p.ID)
	if err != nil {
		return nil, nil, err
	}
	return p, tags, nil
}

func tagNotFound(tag, projectID string) error {
	return httpapi.NotFound("Tag %s was not found on project %s.", tag, projectID)
}

func (s *Service) listProjectTags(r *http.Request) (httpapi.Response, error) {
	_, tags, err := s.loadProjectTags(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"tags": tags}), nil
}

func (s *Service) replaceProjectTags(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "project_id")
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return httpapi.Response{}, err
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadProject(ctx, tx, id); err != nil {
			return err
		}
		return replaceTags(ctx, tx, id, body.Tags)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return s.listProjectTags(r)
}

func (s *Service) deleteProjectTags(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	p, err := s.loadProject(ctx, s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := replaceTags(ctx, s.db, p.ID, nil); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) checkProjectTag(r *http.Request) (httpapi.Response, error) {
	p, tags, err := s.loadProjectTags(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	tag := pathParam(r, "tag")
	if !slices.Contains(tags, tag) {
		return httpapi.Response{}, tagNotFound(tag, p.ID)
	}
	return httpapi.NoContent(), nil
}

// addProjectTag adds a tag (idempotently, as upstream's PUT), counting the
// project's tags in the transaction that inserts, so that tags added at once
// never take it past 80.
func (s *Service) addProjectTag(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id, tag := pathParam(r, "project_id"), pathParam(r, "tag")
	added := false
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		added = false
		if _, err := s.loadProject(ctx, tx, id); err != nil {
			return err
		}
		tags, err := s.projectTags(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("load project tags: %w", err)
		}
		if slices.Contains(tags, tag) {
			return nil
		}
		if err := validateTags(append(tags, tag)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO project_tags (project_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			id, tag); err != nil {
			return fmt.Errorf("add project tag: %w", err)
		}
		added = true
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	if added {
		s.changed()
	}
	return httpapi.JSON(http.StatusCreated, nil).WithHeader("Location", s.selfURL("/v3/projects/"+id+"/tags/"+tag)), nil
}

func (s *Service) deleteProjectTag(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	p, err := s.loadProject(ctx, s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	tag := pathParam(r, "tag")
	res, err := s.db.ExecContext(ctx, `DELETE FROM project_tags WHERE project_id = ? AND name = ?`, p.ID, tag)
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, tagNotFound(tag, p.ID)
	}
	s.changed()
	return httpapi.NoContent(), nil
}
