package identity

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Endpoint filtering (OS-EP-FILTER): endpoints associated with a project. Upstream
// restricts a project-scoped token's catalog to the project's endpoints when it has
// any (see projectEndpointFilter).

func (s *Service) endpointFilterRoutes() []httpapi.Route {
	pe := "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}"
	return []httpapi.Route{
		{Method: "PUT", Path: pe, Policy: "identity:add_endpoint_to_project", Handler: s.addEndpointToProject, Schemas: noContent},
		{Method: "GET", Path: pe, Policy: "identity:check_endpoint_in_project", Handler: s.checkEndpointInProject, Schemas: noContent},
		{Method: "HEAD", Path: pe, Policy: "identity:check_endpoint_in_project", Handler: s.checkEndpointInProject, Schemas: noContent},
		{Method: "DELETE", Path: pe, Policy: "identity:remove_endpoint_from_project", Handler: s.removeEndpointFromProject, Schemas: noContent},
		{Method: "GET", Path: "/v3/OS-EP-FILTER/projects/{project_id}/endpoints", Policy: "identity:list_endpoints_for_project", Handler: s.listEndpointsForProject,
			Schemas: okBody(endpointIndexResponse)},
		{Method: "GET", Path: "/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", Policy: "identity:list_projects_for_endpoint", Handler: s.listProjectsForEndpoint,
			Schemas: okBody(projectIndexResponse)},
	}
}

// endpointAndProject checks that both ends of an association exist (404 otherwise).
func (s *Service) endpointAndProject(r *http.Request, q db.Querier) (endpointID, projectID string, err error) {
	ctx := r.Context()
	ep, err := s.loadEndpoint(ctx, q, pathParam(r, "endpoint_id"))
	if err != nil {
		return "", "", err
	}
	p, err := s.loadProject(ctx, q, pathParam(r, "project_id"))
	if err != nil {
		return "", "", err
	}
	return ep.ID, p.ID, nil
}

func endpointNotInProject(endpointID, projectID string) error {
	return httpapi.NotFound("Endpoint %s not found in project %s", endpointID, projectID)
}

// addEndpointToProject associates the endpoint in the transaction that finds both
// ends, so that neither is deleted in between.
func (s *Service) addEndpointToProject(r *http.Request) (httpapi.Response, error) {
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		endpointID, projectID, err := s.endpointAndProject(r, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `INSERT INTO project_endpoints (project_id, endpoint_id) VALUES (?, ?)`,
			projectID, endpointID)
		if db.IsUniqueViolation(err) {
			return httpapi.Conflict("Conflict occurred attempting to store project_endpoint - Duplicate entry.")
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) checkEndpointInProject(r *http.Request) (httpapi.Response, error) {
	endpointID, projectID, err := s.endpointAndProject(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var n int
	if err := s.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM project_endpoints WHERE project_id = ? AND endpoint_id = ?`,
		projectID, endpointID).Scan(&n); err != nil {
		return httpapi.Response{}, err
	}
	if n == 0 {
		return httpapi.Response{}, endpointNotInProject(endpointID, projectID)
	}
	return httpapi.NoContent(), nil
}

func (s *Service) removeEndpointFromProject(r *http.Request) (httpapi.Response, error) {
	endpointID, projectID := pathParam(r, "endpoint_id"), pathParam(r, "project_id")
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM project_endpoints WHERE project_id = ? AND endpoint_id = ?`,
		projectID, endpointID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, endpointNotInProject(endpointID, projectID)
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) listEndpointsForProject(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	p, err := s.loadProject(ctx, s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	endpoints, err := db.QueryAll(ctx, s.db, scanEndpoint, `SELECT `+extPrefixColumns("e.", endpointColumns)+`
		FROM endpoints e JOIN project_endpoints pe ON pe.endpoint_id = e.id WHERE pe.project_id = ? ORDER BY e.id`, p.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	// As upstream's list_endpoints_for_project: the endpoints of the project's
	// endpoint groups too.
	groups, err := s.projectEndpointGroups(ctx, p.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	fromGroups, err := s.endpointsMatching(ctx, groups)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	seen := map[string]bool{}
	for _, ep := range append(endpoints, fromGroups...) {
		if !seen[ep.ID] {
			seen[ep.ID] = true
			out = append(out, s.endpointJSON(ep))
		}
	}
	return httpapi.OK(map[string]any{"endpoints": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) listProjectsForEndpoint(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	ep, err := s.loadEndpoint(ctx, s.db, pathParam(r, "endpoint_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	ps, err := db.QueryAll(ctx, s.db, scanProject, `SELECT `+extPrefixColumns("p.", projectColumns)+`
		FROM projects p JOIN project_endpoints pe ON pe.project_id = p.id WHERE pe.endpoint_id = ? ORDER BY p.name, p.id`, ep.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, p := range ps {
		out = append(out, s.projectJSON(ctx, p))
	}
	return httpapi.OK(map[string]any{"projects": out, "links": s.collectionLinks(r)}), nil
}

// projectEndpointFilter returns the endpoints associated with a project, one by
// one or through its endpoint groups, and whether the project has any: upstream
// then restricts the project's catalog to them.
func (s *Service) projectEndpointFilter(ctx context.Context, projectID string) (map[string]bool, bool, error) {
	if projectID == "" {
		return nil, false, nil
	}
	ids, err := db.QueryStrings(ctx, s.db, `SELECT endpoint_id FROM project_endpoints WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, false, err
	}
	groups, err := s.projectEndpointGroups(ctx, projectID)
	if err != nil {
		return nil, false, err
	}
	fromGroups, err := s.endpointsMatching(ctx, groups)
	if err != nil {
		return nil, false, err
	}
	for _, ep := range fromGroups {
		ids = append(ids, ep.ID)
	}
	if len(ids) == 0 {
		return nil, false, nil
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, true, nil
}
