package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Federation mappings (OS-FEDERATION/mappings): the rules that turn an identity
// provider's assertion into local users, groups and projects. Nimbus stores and
// validates them; identity providers and protocols are not implemented.

func (s *Service) federationMappingRoutes() []httpapi.Route {
	m := "/v3/OS-FEDERATION/mappings/{mapping_id}"
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/OS-FEDERATION/mappings", Policy: "identity:list_mappings", Handler: s.listMappings, Schemas: okBody(mappingIndexResponse)},
		{Method: "PUT", Path: m, Policy: "identity:create_mapping", Handler: s.createMapping, Schemas: answering(http.StatusCreated, mappingResponse)},
		{Method: "GET", Path: m, Policy: "identity:get_mapping", Handler: s.showMapping, Schemas: okBody(mappingResponse)},
		{Method: "PATCH", Path: m, Policy: "identity:update_mapping", Handler: s.updateMapping, Schemas: okBody(mappingResponse)},
		{Method: "DELETE", Path: m, Policy: "identity:delete_mapping", Handler: s.deleteMapping, Schemas: noContent},
	}
}

type mappingRow struct {
	ID, Rules, SchemaVersion string
}

// mappingSchemaVersions are upstream's attribute-mapping schema versions; 1.0 is
// the default. 2.0 adds a domain to projects, 3.0 projects_json.
var mappingSchemaVersions = []string{"1.0", "2.0", "3.0"}

func (s *Service) mappingJSON(m *mappingRow) map[string]any {
	var rules any
	_ = json.Unmarshal([]byte(m.Rules), &rules)
	return map[string]any{
		"id": m.ID, "rules": rules, "schema_version": m.SchemaVersion,
		"links": s.links("/v3/OS-FEDERATION/mappings/" + m.ID),
	}
}

func (s *Service) getMapping(ctx context.Context, id string) (*mappingRow, error) {
	m := &mappingRow{}
	err := s.db.QueryRowContext(ctx, `SELECT id, rules, schema_version FROM federation_mappings WHERE id = ?`, id).
		Scan(&m.ID, &m.Rules, &m.SchemaVersion)
	if db.IsNoRows(err) {
		return nil, notFound("mapping", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load mapping: %w", err)
	}
	return m, nil
}

func (s *Service) listMappings(r *http.Request) (httpapi.Response, error) {
	rows, err := s.db.QueryContext(r.Context(), `SELECT id, rules, schema_version FROM federation_mappings ORDER BY id`)
	if err != nil {
		return httpapi.Response{}, err
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		m := &mappingRow{}
		if err := rows.Scan(&m.ID, &m.Rules, &m.SchemaVersion); err != nil {
			return httpapi.Response{}, err
		}
		out = append(out, s.mappingJSON(m))
	}
	if err := rows.Err(); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"mappings": out, "links": s.collectionLinks(r)}), nil
}

// decodeMapping reads {"mapping": {"rules": [...], "schema_version": "..."}} and
// validates the rules against upstream's attribute-mapping schema.
func decodeMapping(r *http.Request, m *mappingRow) error {
	obj, err := decodeEnvelope(r, "mapping")
	if err != nil {
		return err
	}
	f := &fields{m: obj}
	f.Drop("id", "links")
	extRequire(f, "rules")
	version, hasVersion := f.String("schema_version", 0)
	rawRules := f.m["rules"]
	delete(f.m, "rules")
	extRejectUnknown(f)
	if f.err != nil {
		return f.err
	}
	if !hasVersion || version == "" {
		version = mappingSchemaVersions[0]
	}
	if !slices.Contains(mappingSchemaVersions, version) {
		return httpapi.BadRequest("Invalid input for field 'schema_version': %q is not one of %s.", version,
			strings.Join(mappingSchemaVersions, ", "))
	}
	if err := validateMappingRules(rawRules, version); err != nil {
		return httpapi.BadRequest("Invalid input for field 'rules': %s", err)
	}
	data, _ := json.Marshal(rawRules)
	m.Rules, m.SchemaVersion = string(data), version
	return nil
}

// validateMappingRules checks rules against upstream's IDP_ATTRIBUTE_MAPPING_SCHEMA:
// a non-empty list of {"local": [...], "remote": [...]} objects.
func validateMappingRules(raw any, version string) error {
	rules, ok := raw.([]any)
	if !ok || len(rules) == 0 {
		return fmt.Errorf("expected a non-empty array of rules")
	}
	for i, x := range rules {
		rule, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("rule %d: expected an object", i)
		}
		if err := mappingOnlyKeys(rule, "local", "remote"); err != nil {
			return fmt.Errorf("rule %d: %w", i, err)
		}
		local, ok := rule["local"].([]any)
		if !ok {
			return fmt.Errorf("rule %d: 'local' must be an array", i)
		}
		for j, l := range local {
			if err := validateMappingLocal(l, version); err != nil {
				return fmt.Errorf("rule %d, local %d: %w", i, j, err)
			}
		}
		remote, ok := rule["remote"].([]any)
		if !ok || len(remote) == 0 {
			return fmt.Errorf("rule %d: 'remote' must be a non-empty array", i)
		}
		for j, rm := range remote {
			if err := validateMappingRemote(rm); err != nil {
				return fmt.Errorf("rule %d, remote %d: %w", i, j, err)
			}
		}
	}
	return nil
}

// mappingOnlyKeys requires the listed keys (a trailing "?" marks one optional) and no others.
func mappingOnlyKeys(o map[string]any, keys ...string) error {
	allowed := map[string]bool{}
	for _, k := range keys {
		name, optional := strings.CutSuffix(k, "?")
		allowed[name] = true
		if _, ok := o[name]; !ok && !optional {
			return fmt.Errorf("'%s' is a required property", name)
		}
	}
	for k := range o {
		if !allowed[k] {
			return fmt.Errorf("additional property '%s' is not allowed", k)
		}
	}
	return nil
}

func mappingIsString(v any) bool { _, ok := v.(string); return ok }

// validateMappingDomain checks {"id"?: string, "name"?: string}.
func validateMappingDomain(v any) error {
	d, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("domain must be an object")
	}
	if err := mappingOnlyKeys(d, "id?", "name?"); err != nil {
		return fmt.Errorf("domain: %w", err)
	}
	for k, x := range d {
		if !mappingIsString(x) {
			return fmt.Errorf("domain %s must be a string", k)
		}
	}
	return nil
}

func validateMappingLocal(v any, version string) error {
	l, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("expected an object")
	}
	keys := []string{"user?", "projects?", "group?", "groups?", "group_ids?", "domain?"}
	if version == "3.0" {
		keys = append(keys, "projects_json?")
	}
	if err := mappingOnlyKeys(l, keys...); err != nil {
		return err
	}
	for _, k := range []string{"groups", "group_ids", "projects_json"} {
		if x, ok := l[k]; ok && !mappingIsString(x) {
			return fmt.Errorf("'%s' must be a string", k)
		}
	}
	if d, ok := l["domain"]; ok {
		if err := validateMappingDomain(d); err != nil {
			return err
		}
	}
	if u, ok := l["user"]; ok {
		user, isObj := u.(map[string]any)
		if !isObj {
			return fmt.Errorf("user must be an object")
		}
		if err := mappingOnlyKeys(user, "id?", "name?", "email?", "domain?", "type?"); err != nil {
			return fmt.Errorf("user: %w", err)
		}
		for _, k := range []string{"id", "name", "email"} {
			if x, ok := user[k]; ok && !mappingIsString(x) {
				return fmt.Errorf("user %s must be a string", k)
			}
		}
		if t, ok := user["type"]; ok && t != "ephemeral" && t != "local" {
			return fmt.Errorf("user type must be 'ephemeral' or 'local'")
		}
		if d, ok := user["domain"]; ok {
			if err := validateMappingDomain(d); err != nil {
				return fmt.Errorf("user %w", err)
			}
		}
	}
	if g, ok := l["group"]; ok {
		group, isObj := g.(map[string]any)
		if !isObj {
			return fmt.Errorf("group must be an object")
		}
		// A group is named by id alone, or by name within a domain.
		if mappingOnlyKeys(group, "id") == nil {
			if !mappingIsString(group["id"]) {
				return fmt.Errorf("group id must be a string")
			}
		} else if err := mappingOnlyKeys(group, "name", "domain"); err != nil {
			return fmt.Errorf("group must be {\"id\"} or {\"name\", \"domain\"}")
		} else if !mappingIsString(group["name"]) {
			return fmt.Errorf("group name must be a string")
		} else if err := validateMappingDomain(group["domain"]); err != nil {
			return fmt.Errorf("group %w", err)
		}
	}
	if p, ok := l["projects"]; ok {
		projects, isList := p.([]any)
		if !isList {
			return fmt.Errorf("projects must be an array")
		}
		for _, x := range projects {
			project, isObj := x.(map[string]any)
			if !isObj {
				return fmt.Errorf("each project must be an object")
			}
			pkeys := []string{"name", "roles"}
			if version != "1.0" {
				pkeys = append(pkeys, "domain?")
			}
			if err := mappingOnlyKeys(project, pkeys...); err != nil {
				return fmt.Errorf("project: %w", err)
			}
			if !mappingIsString(project["name"]) {
				return fmt.Errorf("project name must be a string")
			}
			if d, ok := project["domain"]; ok {
				if err := validateMappingDomain(d); err != nil {
					return fmt.Errorf("project %w", err)
				}
			}
			roles, isList := project["roles"].([]any)
			if !isList {
				return fmt.Errorf("project roles must be an array")
			}
			for _, rx := range roles {
				role, isObj := rx.(map[string]any)
				if !isObj || mappingOnlyKeys(role, "name") != nil || !mappingIsString(role["name"]) {
					return fmt.Errorf("each project role must be {\"name\": string}")
				}
			}
		}
	}
	return nil
}

// validateMappingRemote checks {"type": string} with at most one of any_one_of,
// not_any_of, blacklist and whitelist (an array), and regex (a boolean) only with one.
func validateMappingRemote(v any) error {
	rm, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("expected an object")
	}
	if err := mappingOnlyKeys(rm, "type", "any_one_of?", "not_any_of?", "blacklist?", "whitelist?", "regex?"); err != nil {
		return err
	}
	if !mappingIsString(rm["type"]) {
		return fmt.Errorf("'type' must be a string")
	}
	var matchers int
	for _, k := range []string{"any_one_of", "not_any_of", "blacklist", "whitelist"} {
		if x, ok := rm[k]; ok {
			matchers++
			if _, isList := x.([]any); !isList {
				return fmt.Errorf("'%s' must be an array", k)
			}
		}
	}
	if matchers > 1 {
		return fmt.Errorf("at most one of any_one_of, not_any_of, blacklist and whitelist is allowed")
	}
	if x, ok := rm["regex"]; ok {
		if _, isBool := x.(bool); !isBool || matchers == 0 {
			return fmt.Errorf("'regex' must be a boolean beside any_one_of, not_any_of, blacklist or whitelist")
		}
	}
	return nil
}

func (s *Service) createMapping(r *http.Request) (httpapi.Response, error) {
	m := &mappingRow{ID: pathParam(r, "mapping_id")}
	if len(m.ID) > 64 {
		return httpapi.Response{}, httpapi.BadRequest("Invalid input for field 'mapping_id': at most 64 characters.")
	}
	if err := decodeMapping(r, m); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO federation_mappings (id, rules, schema_version) VALUES (?,?,?)`,
		m.ID, m.Rules, m.SchemaVersion); err != nil {
		if db.IsUniqueViolation(err) {
			return httpapi.Response{}, conflict("mapping", "id", m.ID)
		}
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"mapping": s.mappingJSON(m)}), nil
}

func (s *Service) showMapping(r *http.Request) (httpapi.Response, error) {
	m, err := s.getMapping(r.Context(), pathParam(r, "mapping_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"mapping": s.mappingJSON(m)}), nil
}

func (s *Service) updateMapping(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	m, err := s.getMapping(ctx, pathParam(r, "mapping_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := decodeMapping(r, m); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE federation_mappings SET rules = ?, schema_version = ? WHERE id = ?`,
		m.Rules, m.SchemaVersion, m.ID); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"mapping": s.mappingJSON(m)}), nil
}

func (s *Service) deleteMapping(r *http.Request) (httpapi.Response, error) {
	return s.extDeleteByID(r, "federation_mappings", "mapping_id", "mapping")
}
