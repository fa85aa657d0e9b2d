package identity

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The catalog API: regions, services and endpoints. Token bodies embed the catalog,
// so every write calls s.changed().

func (s *Service) catalogRoutes() []httpapi.Route {
	ok := func(body jsonschema.Schema) []httpapi.Schema {
		return schemas(nil, map[int]jsonschema.Schema{http.StatusOK: body})
	}
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/regions", Policy: "identity:list_regions", Handler: s.listRegions,
			Schemas: ok(regionIndexResponse)},
		{Method: "POST", Path: "/v3/regions", Policy: "identity:create_region", Handler: s.createRegion,
			Schemas: schemas(regionCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: regionResponse})},
		{Method: "GET", Path: "/v3/regions/{region_id}", Policy: "identity:get_region", Handler: s.showRegion,
			Schemas: ok(regionResponse)},
		{Method: "PUT", Path: "/v3/regions/{region_id}", Policy: "identity:create_region", Handler: s.createRegion,
			Schemas: schemas(regionCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: regionResponse})},
		{Method: "PATCH", Path: "/v3/regions/{region_id}", Policy: "identity:update_region", Handler: s.updateRegion,
			Schemas: schemas(regionUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: regionResponse})},
		{Method: "DELETE", Path: "/v3/regions/{region_id}", Policy: "identity:delete_region", Handler: s.deleteRegion, Schemas: noContent},

		{Method: "GET", Path: "/v3/services", Policy: "identity:list_services", Handler: s.listServices,
			Schemas: ok(serviceIndexResponse)},
		{Method: "POST", Path: "/v3/services", Policy: "identity:create_service", Handler: s.createService,
			Schemas: schemas(serviceCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: serviceResponse})},
		{Method: "GET", Path: "/v3/services/{service_id}", Policy: "identity:get_service", Handler: s.showService,
			Schemas: ok(serviceResponse)},
		{Method: "PATCH", Path: "/v3/services/{service_id}", Policy: "identity:update_service", Handler: s.updateService,
			Schemas: schemas(serviceUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: serviceResponse})},
		{Method: "DELETE", Path: "/v3/services/{service_id}", Policy: "identity:delete_service", Handler: s.deleteService, Schemas: noContent},

		{Method: "GET", Path: "/v3/endpoints", Policy: "identity:list_endpoints", Handler: s.listEndpoints,
			Schemas: ok(endpointIndexResponse)},
		{Method: "POST", Path: "/v3/endpoints", Policy: "identity:create_endpoint", Handler: s.createEndpoint,
			Schemas: schemas(endpointCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: endpointResponse})},
		{Method: "GET", Path: "/v3/endpoints/{endpoint_id}", Policy: "identity:get_endpoint", Handler: s.showEndpoint,
			Schemas: ok(endpointResponse)},
		{Method: "PATCH", Path: "/v3/endpoints/{endpoint_id}", Policy: "identity:update_endpoint", Handler: s.updateEndpoint,
			Schemas: schemas(endpointUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: endpointResponse})},
		{Method: "DELETE", Path: "/v3/endpoints/{endpoint_id}", Policy: "identity:delete_endpoint", Handler: s.deleteEndpoint, Schemas: noContent},
	}
}

func nullStringJSON(ns sql.NullString) any {
	if ns.Valid {
		return ns.String
	}
	return nil
}

// --- Regions ----------------------------------------------------------------

type regionRow struct {
	ID, Description string
	ParentID        sql.NullString
	Extra           string
}

const regionColumns = `id, description, parent_region_id, extra`

func scanRegion(row db.Scanner) (*regionRow, error) {
	g := &regionRow{}
	err := row.Scan(&g.ID, &g.Description, &g.ParentID, &g.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load region: %w", err)
	}
	return g, nil
}

func (s *Service) getRegion(ctx context.Context, q db.Querier, id string) (*regionRow, error) {
	return scanRegion(q.QueryRowContext(ctx, `SELECT `+regionColumns+` FROM regions WHERE id = ?`, id))
}

func (s *Service) loadRegion(ctx context.Context, q db.Querier, id string) (*regionRow, error) {
	g, err := s.getRegion(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, notFound("region", id)
	}
	return g, nil
}

func (s *Service) regionJSON(g *regionRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": g.ID, "description": g.Description, "parent_region_id": nullStringJSON(g.ParentID),
		"links": s.links("/v3/regions/" + g.ID),
	}, g.Extra)
}

func (s *Service) listRegions(r *http.Request) (httpapi.Response, error) {
	where, args := "1 = 1", []any{}
	if q := r.URL.Query(); q.Has("parent_region_id") {
		where, args = "parent_region_id = ?", append(args, q.Get("parent_region_id"))
	}
	regions, err := db.QueryAll(r.Context(), s.db, scanRegion, `SELECT `+regionColumns+` FROM regions WHERE `+where+` ORDER BY id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, g := range regions {
		out = append(out, s.regionJSON(g))
	}
	return httpapi.OK(map[string]any{"regions": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showRegion(r *http.Request) (httpapi.Response, error) {
	g, err := s.loadRegion(r.Context(), s.db, pathParam(r, "region_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"region": s.regionJSON(g)}), nil
}

// createRegion serves POST /v3/regions (id optional) and PUT /v3/regions/{region_id}.
func (s *Service) createRegion(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "region")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	id, hasID := f.String("id", 255)
	desc, _ := f.NullableString("description")
	parent, _ := f.NullableString("parent_region_id")
	f.Drop("links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	if pathID := pathParam(r, "region_id"); pathID != "" {
		if hasID && id != pathID {
			return httpapi.Response{}, httpapi.BadRequest("Conflicting region IDs specified: \"%s\" != \"%s\"", pathID, id)
		}
		id = pathID
	}
	if id == "" {
		id = newID()
	}
	g := &regionRow{ID: id, Extra: marshalJSON(f.Extra())}
	if desc != nil {
		g.Description = *desc
	}
	if parent != nil && *parent != "" {
		g.ParentID = sql.NullString{String: *parent, Valid: true}
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if existing, err := s.getRegion(ctx, tx, g.ID); err != nil {
			return err
		} else if existing != nil {
			return httpapi.Conflict("Conflict occurred attempting to store region - Duplicate ID, %s.", g.ID)
		}
		if g.ParentID.Valid {
			p, err := s.getRegion(ctx, tx, g.ParentID.String)
			if err != nil {
				return err
			}
			if p == nil {
				return notFound("region", g.ParentID.String)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO regions (`+regionColumns+`) VALUES (?,?,?,?)`,
			g.ID, g.Description, g.ParentID, g.Extra)
		return err
	})
	if err != nil {
		if db.IsUniqueViolation(err) {
			return httpapi.Response{}, httpapi.Conflict("Conflict occurred attempting to store region - Duplicate ID, %s.", g.ID)
		}
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"region": s.regionJSON(g)}), nil
}

// updateRegion applies the request to the region as stored when it writes; the
// walk up from the new parent happens in the same transaction, so two updates at
// once cannot close a cycle.
func (s *Service) updateRegion(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "region_id")
	if _, err := s.loadRegion(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "region")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "region"); err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.requireSameID(id, "region")
	desc, hasDesc := f.NullableString("description")
	parent, hasParent := f.NullableString("parent_region_id")
	f.Drop("links")
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	extra := f.Extra()
	var updated *regionRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		g, err := s.loadRegion(ctx, tx, id)
		if err != nil {
			return err
		}
		if hasDesc {
			g.Description = ""
			if desc != nil {
				g.Description = *desc
			}
		}
		if hasParent {
			g.ParentID = sql.NullString{}
			if parent != nil && *parent != "" {
				g.ParentID = sql.NullString{String: *parent, Valid: true}
			}
		}
		g.Extra = extraMerged(g.Extra, extra)
		// The parent must exist, and walking up from it must not lead back here.
		for cur, seen := g.ParentID, map[string]bool{}; cur.Valid && cur.String != ""; {
			if cur.String == g.ID {
				return httpapi.BadRequest("The specified parent region %s would create a circular region hierarchy.", g.ParentID.String)
			}
			if seen[cur.String] {
				break
			}
			seen[cur.String] = true
			p, err := s.getRegion(ctx, tx, cur.String)
			if err != nil {
				return err
			}
			if p == nil {
				return notFound("region", cur.String)
			}
			cur = p.ParentID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE regions SET description = ?, parent_region_id = ?, extra = ? WHERE id = ?`,
			g.Description, g.ParentID, g.Extra, g.ID); err != nil {
			return fmt.Errorf("update region: %w", err)
		}
		updated = g
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"region": s.regionJSON(updated)}), nil
}

// deleteRegion deletes a region and, as upstream, all its child regions; none of
// them may have endpoints (403 otherwise).
func (s *Service) deleteRegion(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		g, err := s.loadRegion(ctx, tx, pathParam(r, "region_id"))
		if err != nil {
			return err
		}
		subtree := []string{g.ID}
		seen := map[string]bool{g.ID: true}
		for i := 0; i < len(subtree); i++ {
			children, err := db.QueryStrings(ctx, tx, `SELECT id FROM regions WHERE parent_region_id = ?`, subtree[i])
			if err != nil {
				return err
			}
			for _, c := range children {
				if !seen[c] {
					seen[c] = true
					subtree = append(subtree, c)
				}
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoints WHERE region_id IN (`+placeholders(len(subtree))+`)`,
			anySlice(subtree)...).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return httpapi.Forbidden("Unable to delete region %s because it or its child regions have associated endpoints.", g.ID)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM regions WHERE id IN (`+placeholders(len(subtree))+`)`, anySlice(subtree)...)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// --- Services ---------------------------------------------------------------

// serviceRow is a catalog service; its name and description live in extra, as
// upstream stores them.
type serviceRow struct {
	ID, Type string
	Enabled  bool
	Extra    string
}

const serviceColumns = `id, type, enabled, extra`

func scanService(row db.Scanner) (*serviceRow, error) {
	v := &serviceRow{}
	err := row.Scan(&v.ID, &v.Type, &v.Enabled, &v.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load service: %w", err)
	}
	return v, nil
}

func (s *Service) getService(ctx context.Context, q db.Querier, id string) (*serviceRow, error) {
	return scanService(q.QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM services WHERE id = ?`, id))
}

func (s *Service) loadService(ctx context.Context, q db.Querier, id string) (*serviceRow, error) {
	v, err := s.getService(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, notFound("service", id)
	}
	return v, nil
}

func (s *Service) serviceJSON(v *serviceRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": v.ID, "type": v.Type, "enabled": v.Enabled, "links": s.links("/v3/services/" + v.ID),
	}, v.Extra)
}

func (s *Service) listServices(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	where, args := "1 = 1", []any{}
	if q.Has("type") {
		where, args = "type = ?", append(args, q.Get("type"))
	}
	services, err := db.QueryAll(r.Context(), s.db, scanService, `SELECT `+serviceColumns+` FROM services WHERE `+where+` ORDER BY type, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, v := range services {
		j := s.serviceJSON(v)
		if q.Has("name") && j["name"] != q.Get("name") {
			continue
		}
		out = append(out, j)
	}
	return httpapi.OK(map[string]any{"services": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showService(r *http.Request) (httpapi.Response, error) {
	v, err := s.loadService(r.Context(), s.db, pathParam(r, "service_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"service": s.serviceJSON(v)}), nil
}

// serviceFields reads the typed attributes of a service body into v and its extra.
func serviceFields(f *fields, v *serviceRow, extra map[string]any, create bool) {
	if typ, ok := f.Name("type", create); ok {
		v.Type = typ
	}
	if name, ok := f.Name("name", false); ok {
		extra["name"] = name
	}
	if enabled, ok := f.Bool("enabled"); ok {
		v.Enabled = enabled
	}
	f.Drop("links")
}

func (s *Service) createService(r *http.Request) (httpapi.Response, error) {
	obj, err := decodeEnvelope(r, "service")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.Drop("id")
	v := &serviceRow{ID: newID(), Enabled: true}
	extra := map[string]any{"name": ""} // as upstream: name defaults to ""
	serviceFields(f, v, extra, true)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	for k, val := range f.Extra() {
		extra[k] = val
	}
	v.Extra = marshalJSON(extra)
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO services (`+serviceColumns+`) VALUES (?,?,?,?)`,
		v.ID, v.Type, v.Enabled, v.Extra); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"service": s.serviceJSON(v)}), nil
}

// updateService applies the request to the service as stored when it writes.
func (s *Service) updateService(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "service_id")
	if _, err := s.loadService(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "service")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "service"); err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.requireSameID(id, "service")
	_, hasType := obj["type"]
	_, hasEnabled := obj["enabled"]
	var change serviceRow
	changedExtra := map[string]any{}
	serviceFields(f, &change, changedExtra, false)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	for k, val := range f.Extra() {
		changedExtra[k] = val
	}
	var updated *serviceRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.loadService(ctx, tx, id)
		if err != nil {
			return err
		}
		if hasType {
			v.Type = change.Type
		}
		if hasEnabled {
			v.Enabled = change.Enabled
		}
		v.Extra = extraMerged(v.Extra, changedExtra)
		if _, err := tx.ExecContext(ctx, `UPDATE services SET type = ?, enabled = ?, extra = ? WHERE id = ?`,
			v.Type, v.Enabled, v.Extra, v.ID); err != nil {
			return fmt.Errorf("update service: %w", err)
		}
		updated = v
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"service": s.serviceJSON(updated)}), nil
}

// deleteService deletes a service and its endpoints, as upstream.
func (s *Service) deleteService(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		v, err := s.loadService(ctx, tx, pathParam(r, "service_id"))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE service_id = ?`, v.ID); err != nil {
			return fmt.Errorf("delete service endpoints: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM services WHERE id = ?`, v.ID); err != nil {
			return fmt.Errorf("delete service: %w", err)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// --- Endpoints --------------------------------------------------------------

type endpointRow struct {
	ID, ServiceID, Interface, URL string
	RegionID                      sql.NullString
	Enabled                       bool
	Extra                         string
}

const endpointColumns = `id, service_id, interface, url, region_id, enabled, extra`

func scanEndpoint(row db.Scanner) (*endpointRow, error) {
	ep := &endpointRow{}
	err := row.Scan(&ep.ID, &ep.ServiceID, &ep.Interface, &ep.URL, &ep.RegionID, &ep.Enabled, &ep.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load endpoint: %w", err)
	}
	return ep, nil
}

func (s *Service) loadEndpoint(ctx context.Context, q db.Querier, id string) (*endpointRow, error) {
	ep, err := scanEndpoint(q.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM endpoints WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if ep == nil {
		return nil, notFound("endpoint", id)
	}
	return ep, nil
}

// endpointJSON carries both region_id and the legacy region, as upstream.
func (s *Service) endpointJSON(ep *endpointRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": ep.ID, "service_id": ep.ServiceID, "interface": ep.Interface, "url": ep.URL,
		"region_id": nullStringJSON(ep.RegionID), "region": nullStringJSON(ep.RegionID), "enabled": ep.Enabled,
		"links": s.links("/v3/endpoints/" + ep.ID),
	}, ep.Extra)
}

var (
	endpointInterfaces = []string{"admin", "internal", "public"}
	endpointURLPattern = regexp.MustCompile(`^[a-zA-Z0-9+.-]+:.+`)
	urlSubstitution    = regexp.MustCompile(`[$%]\(([^)]*)\)`)
	// urlSubstitutions are the keys upstream allows in endpoint URL templates.
	urlSubstitutions = []string{"tenant_id", "project_id", "user_id", "public_bind_host", "admin_bind_host",
		"compute_host", "admin_port", "public_port", "public_endpoint", "admin_endpoint"}
)

func validateEndpointURL(url string) error {
	if len(url) > 225 || !endpointURLPattern.MatchString(url) {
		return httpapi.BadRequest("Invalid input for field 'url': %q is not a valid URL.", url)
	}
	for _, m := range urlSubstitution.FindAllStringSubmatch(url, -1) {
		if !slices.Contains(urlSubstitutions, m[1]) {
			return httpapi.BadRequest("The URL %s has an invalid substitution: %s.", url, m[1])
		}
	}
	return nil
}

// endpointFields reads an endpoint body into ep. The legacy "region" is returned
// separately: upstream creates that region when it does not exist.
func endpointFields(f *fields, ep *endpointRow, create bool) (legacyRegion string) {
	required := func(name string) {
		if _, ok := f.m[name]; !ok && create && f.err == nil {
			f.err = httpapi.BadRequest("'%s' is a required property", name)
		}
	}
	required("interface")
	required("service_id")
	required("url")
	if v, ok := f.String("interface", 0); ok {
		if !slices.Contains(endpointInterfaces, v) && f.err == nil {
			f.err = httpapi.BadRequest("Invalid input for field 'interface': %q is not one of ['admin', 'internal', 'public'].", v)
		}
		ep.Interface = v
	}
	if v, ok := f.String("service_id", 64); ok {
		ep.ServiceID = v
	}
	if v, ok := f.String("url", 0); ok {
		if err := validateEndpointURL(v); err != nil && f.err == nil {
			f.err = err
		}
		ep.URL = v
	}
	if v, ok := f.Bool("enabled"); ok {
		ep.Enabled = v
	}
	regionID, hasRegionID := f.NullableString("region_id")
	region, _ := f.NullableString("region")
	switch {
	case regionID != nil && *regionID != "":
		ep.RegionID = sql.NullString{String: *regionID, Valid: true}
	case region != nil && *region != "":
		ep.RegionID = sql.NullString{String: *region, Valid: true}
		legacyRegion = *region
	case hasRegionID:
		ep.RegionID = sql.NullString{}
	}
	f.Drop("links", "legacy_endpoint_id")
	return legacyRegion
}

// checkEndpointRefs verifies the endpoint's service and region, creating a region
// named by the legacy attribute when it is missing (upstream's compatibility rule).
func (s *Service) checkEndpointRefs(ctx context.Context, tx *db.Tx, ep *endpointRow, legacyRegion string) error {
	svc, err := s.getService(ctx, tx, ep.ServiceID)
	if err != nil {
		return err
	}
	if svc == nil {
		return httpapi.BadRequest("Expecting to find endpoint service_id in service table. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
	}
	if !ep.RegionID.Valid {
		return nil
	}
	g, err := s.getRegion(ctx, tx, ep.RegionID.String)
	if err != nil || g != nil {
		return err
	}
	if legacyRegion != "" { // two endpoints may name it at once: one creates it
		_, err := tx.ExecContext(ctx, `INSERT INTO regions (`+regionColumns+`) VALUES (?, '', NULL, '{}')
			ON CONFLICT DO NOTHING`, legacyRegion)
		return err
	}
	return httpapi.BadRequest("Expecting to find endpoint region_id in region table. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.")
}

func (s *Service) listEndpoints(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	where, args := "1 = 1", []any{}
	for _, col := range []string{"interface", "service_id", "region_id"} {
		if q.Has(col) {
			where += " AND " + col + " = ?"
			args = append(args, q.Get(col))
		}
	}
	endpoints, err := db.QueryAll(r.Context(), s.db, scanEndpoint, `SELECT `+endpointColumns+` FROM endpoints WHERE `+where+
		` ORDER BY service_id, interface, id`, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := []map[string]any{}
	for _, ep := range endpoints {
		out = append(out, s.endpointJSON(ep))
	}
	return httpapi.OK(map[string]any{"endpoints": out, "links": s.collectionLinks(r)}), nil
}

func (s *Service) showEndpoint(r *http.Request) (httpapi.Response, error) {
	ep, err := s.loadEndpoint(r.Context(), s.db, pathParam(r, "endpoint_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"endpoint": s.endpointJSON(ep)}), nil
}

func (s *Service) createEndpoint(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	obj, err := decodeEnvelope(r, "endpoint")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.Drop("id") // upstream always assigns the id
	ep := &endpointRow{ID: newID(), Enabled: true}
	legacy := endpointFields(f, ep, true)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	ep.Extra = marshalJSON(f.Extra())
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.checkEndpointRefs(ctx, tx, ep, legacy); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (`+endpointColumns+`) VALUES (?,?,?,?,?,?,?)`,
			ep.ID, ep.ServiceID, ep.Interface, ep.URL, ep.RegionID, ep.Enabled, ep.Extra)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"endpoint": s.endpointJSON(ep)}), nil
}

// updateEndpoint applies the request to the endpoint as stored when it writes.
func (s *Service) updateEndpoint(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "endpoint_id")
	if _, err := s.loadEndpoint(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "endpoint")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "endpoint"); err != nil {
		return httpapi.Response{}, err
	}
	var updated *endpointRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		ep, err := s.loadEndpoint(ctx, tx, id)
		if err != nil {
			return err
		}
		f := &fields{m: maps.Clone(obj)} // fields consume the map: a run again needs it whole
		f.requireSameID(ep.ID, "endpoint")
		legacy := endpointFields(f, ep, false)
		if f.err != nil {
			return f.err
		}
		ep.Extra = extraMerged(ep.Extra, f.Extra())
		if err := s.checkEndpointRefs(ctx, tx, ep, legacy); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET service_id = ?, interface = ?, url = ?, region_id = ?,
			enabled = ?, extra = ? WHERE id = ?`, ep.ServiceID, ep.Interface, ep.URL, ep.RegionID, ep.Enabled, ep.Extra, ep.ID); err != nil {
			return fmt.Errorf("update endpoint: %w", err)
		}
		updated = ep
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"endpoint": s.endpointJSON(updated)}), nil
}

func (s *Service) deleteEndpoint(r *http.Request) (httpapi.Response, error) {
	id := pathParam(r, "endpoint_id")
	res, err := s.db.ExecContext(r.Context(), `DELETE FROM endpoints WHERE id = ?`, id)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete endpoint: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return httpapi.Response{}, notFound("endpoint", id)
	}
	s.changed()
	return httpapi.NoContent(), nil
}
