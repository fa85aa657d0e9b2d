package identity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Endpoint groups (OS-EP-FILTER, keystone/api/os_ep_filter.py): a filter on the
// endpoints' interface, service and region. A project associated with groups
// sees, in its catalog and its endpoint list, the endpoints they match besides
// those associated with it one by one (projectEndpointFilter).

func (s *Service) endpointGroupRoutes() []httpapi.Route {
	groups := "/v3/OS-EP-FILTER/endpoint_groups"
	group := groups + "/{endpoint_group_id}"
	inProject := group + "/projects/{project_id}"
	one := schemas(nil, map[int]jsonschema.Schema{http.StatusOK: endpointGroupResponse})
	association := schemas(nil, map[int]jsonschema.Schema{http.StatusOK: projectEndpointGroupResponse})
	return []httpapi.Route{
		{Method: "GET", Path: groups, Policy: "identity:list_endpoint_groups", Handler: s.listEndpointGroups,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: endpointGroupIndexResponse})},
		{Method: "POST", Path: groups, Policy: "identity:create_endpoint_group", Handler: s.createEndpointGroup,
			Schemas: schemas(endpointGroupCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: endpointGroupResponse})},
		{Method: "GET", Path: group, Policy: "identity:get_endpoint_group", Handler: s.showEndpointGroup, Schemas: one},
		{Method: "HEAD", Path: group, Policy: "identity:get_endpoint_group", Handler: s.showEndpointGroup, Schemas: okBody(nil)},
		{Method: "PATCH", Path: group, Policy: "identity:update_endpoint_group", Handler: s.updateEndpointGroup,
			Schemas: schemas(endpointGroupUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: endpointGroupResponse})},
		{Method: "DELETE", Path: group, Policy: "identity:delete_endpoint_group", Handler: s.deleteEndpointGroup, Schemas: noContent},
		{Method: "GET", Path: group + "/projects", Policy: "identity:list_projects_associated_with_endpoint_group", Handler: s.listEndpointGroupProjects,
			Schemas: okBody(projectIndexResponse)},
		{Method: "GET", Path: group + "/endpoints", Policy: "identity:list_endpoints_associated_with_endpoint_group", Handler: s.listEndpointGroupEndpoints,
			Schemas: okBody(endpointIndexResponse)},
		{Method: "GET", Path: inProject, Policy: "identity:get_endpoint_group_in_project", Handler: s.showEndpointGroupInProject, Schemas: association},
		{Method: "HEAD", Path: inProject, Policy: "identity:get_endpoint_group_in_project", Handler: s.showEndpointGroupInProject, Schemas: okBody(nil)},
		{Method: "PUT", Path: inProject, Policy: "identity:add_endpoint_group_to_project", Handler: s.addEndpointGroupToProject, Schemas: noContent},
		{Method: "DELETE", Path: inProject, Policy: "identity:remove_endpoint_group_from_project", Handler: s.removeEndpointGroupFromProject, Schemas: noContent},
		{Method: "GET", Path: "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", Policy: "identity:list_endpoint_groups_for_project", Handler: s.listProjectEndpointGroups,
			Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusOK: endpointGroupIndexResponse})},
	}
}

type endpointGroupRow struct {
	ID, Name    string
	Description sql.NullString
	Filters     string // a JSON object
}

const endpointGroupColumns = `id, name, description, filters`

func scanEndpointGroup(row db.Scanner) (*endpointGroupRow, error) {
	g := &endpointGroupRow{}
	err := row.Scan(&g.ID, &g.Name, &g.Description, &g.Filters)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load endpoint group: %w", err)
	}
	return g, nil
}

func (s *Service) loadEndpointGroup(ctx context.Context, q db.Querier, id string) (*endpointGroupRow, error) {
	g, err := scanEndpointGroup(q.QueryRowContext(ctx, `SELECT `+endpointGroupColumns+` FROM endpoint_groups WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, httpapi.NotFound("Could not find Endpoint Group: %s.", id)
	}
	return g, nil
}

func (s *Service) endpointGroupJSON(g *endpointGroupRow) map[string]any {
	return map[string]any{
		"id": g.ID, "name": g.Name, "description": nullStringJSON(g.Description),
		"filters": unmarshalObject(g.Filters), "links": s.links("/v3/OS-EP-FILTER/endpoint_groups/" + g.ID),
	}
}

// endpointGroupFilterKeys are the filters upstream's _require_valid_filter allows
// (its schema also lets "enabled" through, which the check then refuses).
var endpointGroupFilterKeys = []string{"service_id", "region_id", "interface"}

func requireValidFilters(filters map[string]any) error {
	for key := range filters {
		valid := false
		for _, k := range endpointGroupFilterKeys {
			valid = valid || k == key
		}
		if !valid {
			return httpapi.BadRequest("Expecting to find %s in endpoint_group. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
				strings.Join(endpointGroupFilterKeys, " or "))
		}
	}
	return nil
}

// endpointGroupBody is the request's endpoint_group object (its schema checked).
func endpointGroupBody(r *http.Request) (map[string]any, error) {
	var body struct {
		EndpointGroup map[string]any `json:"endpoint_group"`
	}
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.EndpointGroup == nil {
		body.EndpointGroup = map[string]any{}
	}
	return body.EndpointGroup, nil
}

func (s *Service) createEndpointGroup(r *http.Request) (httpapi.Response, error) {
	in, err := endpointGroupBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	filters, _ := in["filters"].(map[string]any)
	if len(filters) == 0 {
		return httpapi.Response{}, httpapi.BadRequest("filters field is required and cannot be empty")
	}
	if err := requireValidFilters(filters); err != nil {
		return httpapi.Response{}, err
	}
	g := &endpointGroupRow{ID: newID(), Name: fmt.Sprint(in["name"])}
	if d, ok := in["description"].(string); ok {
		g.Description = sql.NullString{String: d, Valid: true}
	}
	data, err := json.Marshal(filters)
	if err != nil {
		return httpapi.Response{}, err
	}
	g.Filters = string(data)
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO endpoint_groups (`+endpointGroupColumns+`) VALUES (?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, g.Filters); err != nil {
		return httpapi.Response{}, fmt.Errorf("create endpoint group: %w", err)
	}
	s.changed()
	return httpapi.Created(map[string]any{"endpoint_group": s.endpointGroupJSON(g)}), nil
}

func (s *Service) listEndpointGroups(r *http.Request) (httpapi.Response, error) {
	where, args := "1 = 1", []any{}
	if q := r.URL.Query(); q.Has("name") {
		where, args = "name = ?", append(args, q.Get("name"))
	}
	return s.endpointGroupList(r, where, args...)
}

func (s *Service) endpointGroupList(r *http.Request, where string, args ...any) (httpapi.Response, error) {
	groups, err := db.QueryAll(r.Context(), s.db, scanEndpointGroup,
		`SELECT `+endpointGroupColumns+` FROM endpoint_groups WHERE `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, g := range groups {
		out = append(out, s.endpointGroupJSON(g))
	}
	return httpapi.OK(map[string]any{"endpoint_groups": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showEndpointGroup(r *http.Request) (httpapi.Response, error) {
	g, err := s.loadEndpointGroup(r.Context(), s.db, pathParam(r, "endpoint_group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"endpoint_group": s.endpointGroupJSON(g)}), nil
}

// updateEndpointGroup changes the given attributes, in the transaction that
// reads the group, as upstream's update_endpoint_group.
func (s *Service) updateEndpointGroup(r *http.Request) (httpapi.Response, error) {
	in, err := endpointGroupBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var filters string
	if raw, ok := in["filters"]; ok {
		f, _ := raw.(map[string]any)
		if err := requireValidFilters(f); err != nil {
			return httpapi.Response{}, err
		}
		data, err := json.Marshal(f)
		if err != nil {
			return httpapi.Response{}, err
		}
		filters = string(data)
	}
	ctx := r.Context()
	var g *endpointGroupRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if g, err = s.loadEndpointGroup(ctx, tx, pathParam(r, "endpoint_group_id")); err != nil {
			return err
		}
		if name, ok := in["name"].(string); ok {
			g.Name = name
		}
		if d, ok := in["description"]; ok {
			str, isStr := d.(string)
			g.Description = sql.NullString{String: str, Valid: isStr}
		}
		if filters != "" {
			g.Filters = filters
		}
		_, err = tx.ExecContext(ctx, `UPDATE endpoint_groups SET name = ?, description = ?, filters = ? WHERE id = ?`,
			g.Name, g.Description, g.Filters, g.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"endpoint_group": s.endpointGroupJSON(g)}), nil
}

func (s *Service) deleteEndpointGroup(r *http.Request) (httpapi.Response, error) {
	id := pathParam(r, "endpoint_group_id")
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM endpoint_groups WHERE id = ?`, id)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete endpoint group: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, httpapi.NotFound("Could not find Endpoint Group: %s.", id)
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// groupAndProject checks that both ends of an association exist (404 otherwise),
// the project first, as upstream.
func (s *Service) groupAndProject(r *http.Request, q db.Querier) (groupID, projectID string, err error) {
	ctx := r.Context()
	p, err := s.loadProject(ctx, q, pathParam(r, "project_id"))
	if err != nil {
		return "", "", err
	}
	g, err := s.loadEndpointGroup(ctx, q, pathParam(r, "endpoint_group_id"))
	if err != nil {
		return "", "", err
	}
	return g.ID, p.ID, nil
}

var errEndpointGroupNotInProject = httpapi.NotFound("Endpoint Group Project Association not found")

func (s *Service) addEndpointGroupToProject(r *http.Request) (httpapi.Response, error) {
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		groupID, projectID, err := s.groupAndProject(r, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `INSERT INTO project_endpoint_groups (endpoint_group_id, project_id) VALUES (?, ?)`,
			groupID, projectID)
		if db.IsUniqueViolation(err) {
			return httpapi.Conflict("Conflict occurred attempting to store project_endpoint_group - Duplicate entry.")
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) showEndpointGroupInProject(r *http.Request) (httpapi.Response, error) {
	groupID, projectID, err := s.groupAndProject(r, s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var n int
	if err := s.db.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM project_endpoint_groups
		WHERE endpoint_group_id = ? AND project_id = ?`, groupID, projectID).Scan(&n); err != nil {
		return httpapi.Response{}, err
	}
	if n == 0 {
		return httpapi.Response{}, errEndpointGroupNotInProject
	}
	// As upstream's _add_self_referential_link, the link is a path without the
	// service's base URL.
	return httpapi.OK(map[string]any{"project_endpoint_group": map[string]any{
		"endpoint_group_id": groupID, "project_id": projectID,
		"links": map[string]any{"self": "/OS-EP-FILTER/endpoint_groups/" + groupID + "/projects/" + projectID},
	}}), nil
}

func (s *Service) removeEndpointGroupFromProject(r *http.Request) (httpapi.Response, error) {
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		groupID, projectID, err := s.groupAndProject(r, tx)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(r.Context(), `DELETE FROM project_endpoint_groups WHERE endpoint_group_id = ? AND project_id = ?`,
			groupID, projectID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errEndpointGroupNotInProject
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

func (s *Service) listEndpointGroupProjects(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	g, err := s.loadEndpointGroup(ctx, s.db, pathParam(r, "endpoint_group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	ps, err := db.QueryAll(ctx, s.db, scanProject, `SELECT `+extPrefixColumns("p.", projectColumns)+`
		FROM projects p JOIN project_endpoint_groups pg ON pg.project_id = p.id WHERE pg.endpoint_group_id = ? ORDER BY p.name, p.id`, g.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, p := range ps {
		out = append(out, s.projectJSON(ctx, p))
	}
	return httpapi.OK(map[string]any{"projects": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) listEndpointGroupEndpoints(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	g, err := s.loadEndpointGroup(ctx, s.db, pathParam(r, "endpoint_group_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	endpoints, err := s.endpointsMatching(ctx, []*endpointGroupRow{g})
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, ep := range endpoints {
		out = append(out, s.endpointJSON(ep))
	}
	return httpapi.OK(map[string]any{"endpoints": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) listProjectEndpointGroups(r *http.Request) (httpapi.Response, error) {
	p, err := s.loadProject(r.Context(), s.db, pathParam(r, "project_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return s.endpointGroupList(r, `id IN (SELECT endpoint_group_id FROM project_endpoint_groups WHERE project_id = ?)`, p.ID)
}

// projectEndpointGroups loads the groups associated with a project.
func (s *Service) projectEndpointGroups(ctx context.Context, projectID string) ([]*endpointGroupRow, error) {
	return db.QueryAll(ctx, s.db, scanEndpointGroup, `SELECT `+endpointGroupColumns+` FROM endpoint_groups
		WHERE id IN (SELECT endpoint_group_id FROM project_endpoint_groups WHERE project_id = ?) ORDER BY id`, projectID)
}

// endpointsMatching lists the endpoints any of the groups matches: every filter
// of a group equal to the endpoint's attribute (upstream's
// get_endpoints_filtered_by_endpoint_group).
func (s *Service) endpointsMatching(ctx context.Context, groups []*endpointGroupRow) ([]*endpointRow, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	all, err := db.QueryAll(ctx, s.db, scanEndpoint, `SELECT `+endpointColumns+` FROM endpoints ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []*endpointRow
	for _, ep := range all {
		attrs := map[string]any{"service_id": ep.ServiceID, "interface": ep.Interface, "region_id": nullStringJSON(ep.RegionID)}
		for _, g := range groups {
			match := true
			for key, want := range unmarshalObject(g.Filters) {
				if attrs[key] != want {
					match = false
					break
				}
			}
			if match {
				out = append(out, ep)
				break
			}
		}
	}
	return out, nil
}
