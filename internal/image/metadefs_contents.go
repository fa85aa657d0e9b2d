package image

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// The contents of a metadef namespace: objects, properties, tags and resource
// type associations (glance/api/v2/metadef_objects.py, metadef_properties.py,
// metadef_tags.py, metadef_resource_types.py).

func credentials(r *http.Request) map[string]any {
	if c := auth.FromContext(r.Context()); c != nil {
		return c.PolicyCredentials()
	}
	return map[string]any{}
}

// --- objects

type objectRow struct {
	Name                 string
	Description          *string
	Required             []string
	Properties           map[string]any
	CreatedAt, UpdatedAt string
}

func (s *Service) objects(ctx context.Context, n *namespaceRow) ([]objectRow, error) {
	return db.QueryAll(ctx, s.db, scanObject, `SELECT name, description, required, properties, created_at, updated_at
		FROM metadef_objects WHERE namespace_id = ? ORDER BY created_at, name`, n.ID)
}

func scanObject(sc db.Scanner) (objectRow, error) {
	var o objectRow
	var required, props string
	if err := sc.Scan(&o.Name, &o.Description, &required, &props, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return o, err
	}
	_ = json.Unmarshal([]byte(required), &o.Required)
	_ = json.Unmarshal([]byte(props), &o.Properties)
	return o, nil
}

func objectJSON(n *namespaceRow, o objectRow) map[string]any {
	m := map[string]any{"name": o.Name, "created_at": o.CreatedAt, "updated_at": o.UpdatedAt,
		"schema": "/v2/schemas/metadefs/object", "self": "/v2/metadefs/namespaces/" + n.Namespace + "/objects/" + o.Name}
	if o.Description != nil {
		m["description"] = *o.Description
	}
	if len(o.Required) > 0 {
		m["required"] = o.Required
	}
	if len(o.Properties) > 0 {
		props := map[string]any{}
		for k, v := range o.Properties {
			props[k] = propertyType(v)
		}
		m["properties"] = props
	}
	return m
}

func objectFromBody(body map[string]any) objectRow {
	o := objectRow{Description: optString(body, "description"), Properties: map[string]any{}, Required: []string{}}
	o.Name, _ = body["name"].(string)
	if req, ok := body["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				o.Required = append(o.Required, s)
			}
		}
	}
	if props, ok := body["properties"].(map[string]any); ok {
		o.Properties = props
	}
	return o
}

func (s *Service) insertObject(ctx context.Context, tx *db.Tx, n *namespaceRow, body map[string]any) (objectRow, error) {
	o := objectFromBody(body)
	o.CreatedAt = stamp(s.now())
	o.UpdatedAt = o.CreatedAt
	_, err := tx.ExecContext(ctx, `INSERT INTO metadef_objects (namespace_id, name, description, required, properties, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, n.ID, o.Name, o.Description, jsonText(o.Required), jsonText(o.Properties), o.CreatedAt, o.UpdatedAt)
	if db.IsUniqueViolation(err) {
		return o, httpapi.Conflict("A metadata definition object with name=%s already exists in namespace=%s.", o.Name, n.Namespace)
	}
	return o, err
}

func (s *Service) getObject(ctx context.Context, q db.Querier, n *namespaceRow, name string) (objectRow, error) {
	o, err := scanObject(q.QueryRowContext(ctx, `SELECT name, description, required, properties, created_at, updated_at
		FROM metadef_objects WHERE namespace_id = ? AND name = ?`, n.ID, name))
	if db.IsNoRows(err) {
		return o, httpapi.NotFound("The metadata definition object with name=%s was not found in namespace=%s.", name, n.Namespace)
	}
	return o, err
}

func (s *Service) listObjects(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	objects, err := s.objects(r.Context(), n)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]any, len(objects))
	for i, o := range objects {
		list[i] = objectJSON(n, o)
	}
	// upstream's link lacks the leading slash
	return httpapi.OK(map[string]any{"objects": list, "schema": "v2/schemas/metadefs/objects"}), nil
}

func (s *Service) createObject(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/object", "self", "schema", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	var n *namespaceRow
	var o objectRow
	err = s.changeInNamespace(r, "", func(tx *db.Tx, ns *namespaceRow) error {
		n = ns
		o, err = s.insertObject(r.Context(), tx, ns, body)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(objectJSON(n, o)), nil
}

func (s *Service) showObject(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	o, err := s.getObject(r.Context(), s.db, n, r.PathValue("name"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(objectJSON(n, o)), nil
}

func (s *Service) updateObject(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/object", "self", "schema", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	var n *namespaceRow
	var o objectRow
	err = s.changeInNamespace(r, "", func(tx *db.Tx, ns *namespaceRow) error {
		n = ns
		old, err := s.getObject(r.Context(), tx, ns, r.PathValue("name"))
		if err != nil {
			return err
		}
		o = objectFromBody(body)
		o.CreatedAt, o.UpdatedAt = old.CreatedAt, stamp(s.now())
		_, err = tx.ExecContext(r.Context(), `UPDATE metadef_objects SET name = ?, description = ?, required = ?, properties = ?,
			updated_at = ? WHERE namespace_id = ? AND name = ?`, o.Name, o.Description, jsonText(o.Required), jsonText(o.Properties),
			o.UpdatedAt, ns.ID, old.Name)
		if db.IsUniqueViolation(err) {
			return httpapi.Conflict("A metadata definition object with name=%s already exists in namespace=%s.", o.Name, ns.Namespace)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(objectJSON(n, o)), nil
}

func (s *Service) deleteObject(r *http.Request) (httpapi.Response, error) {
	err := s.changeInNamespace(r, "object", func(tx *db.Tx, n *namespaceRow) error {
		if _, err := s.getObject(r.Context(), tx, n, r.PathValue("name")); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `DELETE FROM metadef_objects WHERE namespace_id = ? AND name = ?`, n.ID, r.PathValue("name"))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// --- properties

// propertyKeys are the attributes of upstream's PropertyType model: a stored
// definition is answered with these only.
var propertyKeys = []string{"name", "type", "title", "description", "operators", "default", "readonly", "minimum", "maximum",
	"enum", "pattern", "minLength", "maxLength", "confidential", "items", "uniqueItems", "minItems", "maxItems", "additionalItems"}

func propertyType(v any) map[string]any {
	def, _ := v.(map[string]any)
	out := map[string]any{}
	for k, x := range def {
		if slices.Contains(propertyKeys, k) && x != nil {
			out[k] = x
		}
	}
	if items, ok := out["items"].(map[string]any); ok {
		kept := map[string]any{}
		for _, k := range []string{"type", "enum"} {
			if x, ok := items[k]; ok && x != nil {
				kept[k] = x
			}
		}
		out["items"] = kept
	}
	return out
}

func (s *Service) properties(ctx context.Context, n *namespaceRow) (map[string]any, error) {
	rows, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) ([2]string, error) {
		var p [2]string
		err := sc.Scan(&p[0], &p[1])
		return p, err
	}, `SELECT name, json_schema FROM metadef_properties WHERE namespace_id = ?`, n.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, p := range rows {
		var def map[string]any
		_ = json.Unmarshal([]byte(p[1]), &def)
		out[p[0]] = propertyType(def)
	}
	return out, nil
}

func (s *Service) insertProperty(ctx context.Context, tx *db.Tx, n *namespaceRow, name string, def map[string]any) (map[string]any, error) {
	def = propertyType(def)
	delete(def, "name")
	now := stamp(s.now())
	_, err := tx.ExecContext(ctx, `INSERT INTO metadef_properties (namespace_id, name, json_schema, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)`, n.ID, name, jsonText(def), now, now)
	if db.IsUniqueViolation(err) {
		return nil, httpapi.Conflict("A metadata definition property with name=%s already exists in namespace=%s.", name, n.Namespace)
	}
	def["name"] = name
	return def, err
}

func (s *Service) getProperty(ctx context.Context, q db.Querier, n *namespaceRow, name string) (map[string]any, error) {
	var text string
	err := q.QueryRowContext(ctx, `SELECT json_schema FROM metadef_properties WHERE namespace_id = ? AND name = ?`, n.ID, name).Scan(&text)
	if db.IsNoRows(err) {
		return nil, httpapi.NotFound("The metadata definition property with name=%s was not found in namespace=%s.", name, n.Namespace)
	}
	if err != nil {
		return nil, err
	}
	var def map[string]any
	_ = json.Unmarshal([]byte(text), &def)
	def = propertyType(def)
	def["name"] = name
	return def, nil
}

func (s *Service) listProperties(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	props, err := s.properties(r.Context(), n)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"properties": props}), nil
}

func (s *Service) createProperty(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/property")
	if err != nil {
		return httpapi.Response{}, err
	}
	var def map[string]any
	err = s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		name, _ := body["name"].(string)
		def, err = s.insertProperty(r.Context(), tx, n, name, body)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(def), nil
}

// showProperty answers a property by its name, or, with ?resource_type=, by the
// name the resource type's prefix gives it.
func (s *Service) showProperty(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	name := r.PathValue("name")
	if rt := r.URL.Query().Get("resource_type"); rt != "" {
		target, _ := s.namespaceTarget(r)
		if err := s.enforceAlso(r, target, "get_metadef_resource_type"); err != nil {
			return httpapi.Response{}, err
		}
		assocs, err := s.associations(r.Context(), n.ID)
		if err != nil {
			return httpapi.Response{}, err
		}
		i := slices.IndexFunc(assocs[n.ID], func(a association) bool { return a.Name == rt })
		if i < 0 {
			return httpapi.Response{}, httpapi.NotFound("The metadata definition resource-type association of resource-type=%s to namespace=%s, was not found.", rt, n.Namespace)
		}
		prefix := assocs[n.ID][i].Prefix
		if prefix == nil || !strings.HasPrefix(name, *prefix) {
			return httpapi.Response{}, httpapi.NotFound("Property %s does not start with the expected resource type association prefix of '%s'.", name, deref(prefix))
		}
		name = strings.TrimPrefix(name, *prefix)
	}
	def, err := s.getProperty(r.Context(), s.db, n, name)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(def), nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s *Service) updateProperty(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/property")
	if err != nil {
		return httpapi.Response{}, err
	}
	var def map[string]any
	err = s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		old := r.PathValue("name")
		if _, err := s.getProperty(r.Context(), tx, n, old); err != nil {
			return err
		}
		name, _ := body["name"].(string)
		def = propertyType(body)
		delete(def, "name")
		_, err := tx.ExecContext(r.Context(), `UPDATE metadef_properties SET name = ?, json_schema = ?, updated_at = ?
			WHERE namespace_id = ? AND name = ?`, name, jsonText(def), stamp(s.now()), n.ID, old)
		if db.IsUniqueViolation(err) {
			return httpapi.Conflict("A metadata definition property with name=%s already exists in namespace=%s.", name, n.Namespace)
		}
		def["name"] = name
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(def), nil
}

func (s *Service) deleteProperty(r *http.Request) (httpapi.Response, error) {
	err := s.changeInNamespace(r, "property", func(tx *db.Tx, n *namespaceRow) error {
		if _, err := s.getProperty(r.Context(), tx, n, r.PathValue("name")); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `DELETE FROM metadef_properties WHERE namespace_id = ? AND name = ?`, n.ID, r.PathValue("name"))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// --- tags

type tagRow struct{ Name, CreatedAt, UpdatedAt string }

func tagJSON(t tagRow) map[string]any {
	return map[string]any{"name": t.Name, "created_at": t.CreatedAt, "updated_at": t.UpdatedAt}
}

func (s *Service) tags(ctx context.Context, n *namespaceRow) ([]tagRow, error) {
	return db.QueryAll(ctx, s.db, scanTag, `SELECT name, created_at, updated_at FROM metadef_tags WHERE namespace_id = ? ORDER BY created_at, name`, n.ID)
}

func scanTag(sc db.Scanner) (tagRow, error) {
	var t tagRow
	err := sc.Scan(&t.Name, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

func (s *Service) insertTag(ctx context.Context, tx *db.Tx, n *namespaceRow, name string) (tagRow, error) {
	now := stamp(s.now())
	t := tagRow{Name: name, CreatedAt: now, UpdatedAt: now}
	_, err := tx.ExecContext(ctx, `INSERT INTO metadef_tags (namespace_id, name, folded_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
		n.ID, name, strings.ToLower(name), now, now)
	if db.IsUniqueViolation(err) {
		return t, tagExists(name, n)
	}
	return t, err
}

func tagExists(name string, n *namespaceRow) error {
	return httpapi.Conflict("A metadata tag with name=%s already exists in namespace=%s. (Please note that metadata tag names are case insensitive).", name, n.Namespace)
}

func (s *Service) getTag(ctx context.Context, q db.Querier, n *namespaceRow, name string) (tagRow, error) {
	t, err := scanTag(q.QueryRowContext(ctx, `SELECT name, created_at, updated_at FROM metadef_tags WHERE namespace_id = ? AND name = ?`, n.ID, name))
	if db.IsNoRows(err) {
		return t, httpapi.NotFound("The metadata definition tag with name=%s was not found in namespace=%s.", name, n.Namespace)
	}
	return t, err
}

func (s *Service) listTags(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	tags, err := s.tags(r.Context(), n)
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]any, len(tags))
	for i, t := range tags {
		list[i] = tagJSON(t)
	}
	return httpapi.OK(map[string]any{"tags": list}), nil
}

// createTags sets the namespace's tags to the body's, or adds them with
// X-Openstack-Append: true, as upstream.
func (s *Service) createTags(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/tags")
	if err != nil {
		return httpapi.Response{}, err
	}
	appendTags, _ := strconv.ParseBool(r.Header.Get("X-Openstack-Append"))
	var names []string
	if list, ok := body["tags"].([]any); ok {
		for _, item := range list {
			t, _ := item.(map[string]any)
			name, _ := t["name"].(string)
			names = append(names, name)
		}
	}
	var created []tagRow
	err = s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		created = nil
		seen := map[string]bool{}
		for _, name := range names {
			if seen[strings.ToLower(name)] {
				return tagExists(name, n)
			}
			seen[strings.ToLower(name)] = true
		}
		if !appendTags {
			if _, err := tx.ExecContext(r.Context(), `DELETE FROM metadef_tags WHERE namespace_id = ?`, n.ID); err != nil {
				return err
			}
		}
		for _, name := range names {
			t, err := s.insertTag(r.Context(), tx, n, name)
			if err != nil {
				return err
			}
			created = append(created, t)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	list := make([]any, len(created))
	for i, t := range created {
		list[i] = map[string]any{"name": t.Name}
	}
	return httpapi.Created(map[string]any{"tags": list}), nil
}

func (s *Service) showTag(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.getTag(r.Context(), s.db, n, r.PathValue("name"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(tagJSON(t)), nil
}

func (s *Service) createTag(r *http.Request) (httpapi.Response, error) {
	var t tagRow
	err := s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		var err error
		t, err = s.insertTag(r.Context(), tx, n, r.PathValue("name"))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(tagJSON(t)), nil
}

func (s *Service) updateTag(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/tag", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	var t tagRow
	err = s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		old, err := s.getTag(r.Context(), tx, n, r.PathValue("name"))
		if err != nil {
			return err
		}
		t = tagRow{CreatedAt: old.CreatedAt, UpdatedAt: stamp(s.now())}
		t.Name, _ = body["name"].(string)
		_, err = tx.ExecContext(r.Context(), `UPDATE metadef_tags SET name = ?, folded_name = ?, updated_at = ?
			WHERE namespace_id = ? AND name = ?`, t.Name, strings.ToLower(t.Name), t.UpdatedAt, n.ID, old.Name)
		if db.IsUniqueViolation(err) {
			return tagExists(t.Name, n)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(tagJSON(t)), nil
}

func (s *Service) deleteTagDef(r *http.Request) (httpapi.Response, error) {
	err := s.changeInNamespace(r, "tag", func(tx *db.Tx, n *namespaceRow) error {
		if _, err := s.getTag(r.Context(), tx, n, r.PathValue("name")); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), `DELETE FROM metadef_tags WHERE namespace_id = ? AND name = ?`, n.ID, r.PathValue("name"))
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// --- resource types and their associations

type association struct {
	Name                     string
	Prefix, PropertiesTarget *string
	CreatedAt, UpdatedAt     string
	namespaceID              string
}

func associationsJSON(list []association) []any {
	out := make([]any, len(list))
	for i, a := range list {
		out[i] = associationJSON(a)
	}
	return out
}

func associationJSON(a association) map[string]any {
	m := map[string]any{"name": a.Name, "created_at": a.CreatedAt, "updated_at": a.UpdatedAt}
	if a.Prefix != nil {
		m["prefix"] = *a.Prefix
	}
	if a.PropertiesTarget != nil {
		m["properties_target"] = *a.PropertiesTarget
	}
	return m
}

// associations are the resource type associations by namespace id, of one
// namespace or (id "") of all.
func (s *Service) associations(ctx context.Context, namespaceID string) (map[string][]association, error) {
	q := `SELECT namespace_id, resource_type, prefix, properties_target, created_at, updated_at FROM metadef_namespace_resource_types`
	var args []any
	if namespaceID != "" {
		q += ` WHERE namespace_id = ?`
		args = append(args, namespaceID)
	}
	list, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (association, error) {
		var a association
		err := sc.Scan(&a.namespaceID, &a.Name, &a.Prefix, &a.PropertiesTarget, &a.CreatedAt, &a.UpdatedAt)
		return a, err
	}, q+` ORDER BY created_at, resource_type`, args...)
	if err != nil {
		return nil, err
	}
	out := map[string][]association{}
	for _, a := range list {
		out[a.namespaceID] = append(out[a.namespaceID], a)
	}
	return out, nil
}

// insertAssociation associates a resource type (created, unprotected, when
// new, as upstream) with the namespace.
func (s *Service) insertAssociation(ctx context.Context, tx *db.Tx, n *namespaceRow, body map[string]any) (association, error) {
	now := stamp(s.now())
	a := association{Prefix: optString(body, "prefix"), PropertiesTarget: optString(body, "properties_target"), CreatedAt: now, UpdatedAt: now}
	a.Name, _ = body["name"].(string)
	var exists int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM metadef_resource_types WHERE name = ?`, a.Name).Scan(&exists); err != nil {
		return a, err
	}
	if exists == 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			a.Name, false, now, now); err != nil {
			return a, fmt.Errorf("create resource type: %w", err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO metadef_namespace_resource_types (namespace_id, resource_type, prefix, properties_target,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, n.ID, a.Name, a.Prefix, a.PropertiesTarget, now, now)
	if db.IsUniqueViolation(err) {
		return a, httpapi.Conflict("The metadata definition resource-type association of resource-type=%s to namespace=%s already exists.", a.Name, n.Namespace)
	}
	return a, err
}

func (s *Service) listResourceTypes(r *http.Request) (httpapi.Response, error) {
	list, err := db.QueryAll(r.Context(), s.db, func(sc db.Scanner) (map[string]any, error) {
		var name, created, updated string
		err := sc.Scan(&name, &created, &updated)
		return map[string]any{"name": name, "created_at": created, "updated_at": updated}, err
	}, `SELECT name, created_at, updated_at FROM metadef_resource_types ORDER BY name`)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"resource_types": list}), nil
}

func (s *Service) listAssociations(r *http.Request) (httpapi.Response, error) {
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	assocs, err := s.associations(r.Context(), n.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"resource_type_associations": associationsJSON(assocs[n.ID])}), nil
}

func (s *Service) createAssociation(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/resource_type", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	var a association
	err = s.changeInNamespace(r, "", func(tx *db.Tx, n *namespaceRow) error {
		a, err = s.insertAssociation(r.Context(), tx, n, body)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(associationJSON(a)), nil
}

func (s *Service) deleteAssociation(r *http.Request) (httpapi.Response, error) {
	name := r.PathValue("name")
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		n, err := s.getNamespace(r.Context(), tx, r.PathValue("namespace"))
		if err != nil {
			return err
		}
		if n.Protected {
			return httpapi.Forbidden("Metadata definition resource-type-association %s is protected and cannot be deleted.", name)
		}
		res, err := tx.ExecContext(r.Context(), `DELETE FROM metadef_namespace_resource_types WHERE namespace_id = ? AND resource_type = ?`, n.ID, name)
		if err != nil {
			return err
		}
		if rows, _ := res.RowsAffected(); rows == 0 {
			return httpapi.NotFound("The metadata definition resource-type association of resource-type=%s to namespace=%s, was not found.", name, n.Namespace)
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
