package image

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Metadata definitions (Glance's /v2/metadefs): namespaces of property
// definitions, the resource types they apply to (with the prefix a property
// takes there: "hw_" on an image, "hw:" in a flavor's extra specs), and their
// objects, properties and tags. Horizon's property pickers read them. Reads are
// for the namespace's project or public namespaces, writes admin's
// (glance/policies/metadef.py); a namespace the caller may not see is a 404.

func (s *Service) metadefRoutes() []httpapi.Route {
	const ns = "/v2/metadefs/namespaces/{namespace}"
	return []httpapi.Route{
		{Method: "GET", Path: "/v2/metadefs/namespaces", Policy: "get_metadef_namespaces", Target: s.ownTarget, Handler: s.listNamespaces,
			Schemas: responses(http.StatusOK, "metadefs/namespaces")},
		{Method: "POST", Path: "/v2/metadefs/namespaces", Policy: "add_metadef_namespace", Target: s.ownTarget, Handler: s.createNamespace,
			Schemas: responses(http.StatusCreated, "metadefs/namespace")},
		{Method: "GET", Path: ns, Policy: "get_metadef_namespace", Target: s.namespaceTarget, Handler: s.showNamespace,
			Schemas: responses(http.StatusOK, "metadefs/namespace")},
		{Method: "PUT", Path: ns, Policy: "modify_metadef_namespace", Target: s.namespaceTarget, Handler: s.updateNamespace,
			Schemas: responses(http.StatusOK, "metadefs/namespace")},
		{Method: "DELETE", Path: ns, Policy: "delete_metadef_namespace", Target: s.namespaceTarget, Handler: s.deleteNamespace, Schemas: noContent},

		{Method: "GET", Path: ns + "/objects", Policy: "get_metadef_objects", Target: s.namespaceTarget, Handler: s.listObjects,
			Schemas: responses(http.StatusOK, "metadefs/objects")},
		{Method: "POST", Path: ns + "/objects", Policy: "add_metadef_object", Target: s.namespaceTarget, Handler: s.createObject,
			Schemas: responses(http.StatusCreated, "metadefs/object")},
		// upstream checks delete_metadef_namespace on the delete-all routes
		{Method: "DELETE", Path: ns + "/objects", Policy: "delete_metadef_namespace", Target: s.namespaceTarget, Handler: s.deleteChildren("metadef_objects"), Schemas: noContent},
		{Method: "GET", Path: ns + "/objects/{name}", Policy: "get_metadef_object", Target: s.namespaceTarget, Handler: s.showObject,
			Schemas: responses(http.StatusOK, "metadefs/object")},
		{Method: "PUT", Path: ns + "/objects/{name}", Policy: "modify_metadef_object", Target: s.namespaceTarget, Handler: s.updateObject,
			Schemas: responses(http.StatusOK, "metadefs/object")},
		{Method: "DELETE", Path: ns + "/objects/{name}", Policy: "delete_metadef_object", Target: s.namespaceTarget, Handler: s.deleteObject, Schemas: noContent},

		{Method: "GET", Path: ns + "/properties", Policy: "get_metadef_properties", Target: s.namespaceTarget, Handler: s.listProperties,
			Schemas: responses(http.StatusOK, "metadefs/properties")},
		{Method: "POST", Path: ns + "/properties", Policy: "add_metadef_property", Target: s.namespaceTarget, Handler: s.createProperty,
			Schemas: responses(http.StatusCreated, "metadefs/property")},
		{Method: "DELETE", Path: ns + "/properties", Policy: "delete_metadef_namespace", Target: s.namespaceTarget, Handler: s.deleteChildren("metadef_properties"), Schemas: noContent},
		{Method: "GET", Path: ns + "/properties/{name}", Policy: "get_metadef_property", Target: s.namespaceTarget, Handler: s.showProperty,
			Schemas: responses(http.StatusOK, "metadefs/property")},
		{Method: "PUT", Path: ns + "/properties/{name}", Policy: "modify_metadef_property", Target: s.namespaceTarget, Handler: s.updateProperty,
			Schemas: responses(http.StatusOK, "metadefs/property")},
		{Method: "DELETE", Path: ns + "/properties/{name}", Policy: "remove_metadef_property", Target: s.namespaceTarget, Handler: s.deleteProperty, Schemas: noContent},

		{Method: "GET", Path: ns + "/tags", Policy: "get_metadef_tags", Target: s.namespaceTarget, Handler: s.listTags,
			Schemas: responses(http.StatusOK, "metadefs/tags")},
		{Method: "POST", Path: ns + "/tags", Policy: "add_metadef_tags", Target: s.namespaceTarget, Handler: s.createTags,
			Schemas: responses(http.StatusCreated, "metadefs/tags")},
		{Method: "DELETE", Path: ns + "/tags", Policy: "delete_metadef_tags", Target: s.namespaceTarget, Handler: s.deleteChildren("metadef_tags"), Schemas: noContent},
		{Method: "GET", Path: ns + "/tags/{name}", Policy: "get_metadef_tag", Target: s.namespaceTarget, Handler: s.showTag,
			Schemas: responses(http.StatusOK, "metadefs/tag")},
		{Method: "POST", Path: ns + "/tags/{name}", Policy: "add_metadef_tag", Target: s.namespaceTarget, Handler: s.createTag,
			Schemas: responses(http.StatusCreated, "metadefs/tag")},
		{Method: "PUT", Path: ns + "/tags/{name}", Policy: "modify_metadef_tag", Target: s.namespaceTarget, Handler: s.updateTag,
			Schemas: responses(http.StatusOK, "metadefs/tag")},
		{Method: "DELETE", Path: ns + "/tags/{name}", Policy: "delete_metadef_tag", Target: s.namespaceTarget, Handler: s.deleteTagDef, Schemas: noContent},

		{Method: "GET", Path: "/v2/metadefs/resource_types", Policy: "list_metadef_resource_types", Target: s.ownTarget, Handler: s.listResourceTypes,
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: resourceTypesResponse})},
		{Method: "GET", Path: ns + "/resource_types", Policy: "list_metadef_resource_types", Target: s.namespaceTarget, Handler: s.listAssociations,
			Schemas: responses(http.StatusOK, "metadefs/resource_types")},
		{Method: "POST", Path: ns + "/resource_types", Policy: "add_metadef_resource_type_association", Target: s.namespaceTarget, Handler: s.createAssociation,
			Schemas: responses(http.StatusCreated, "metadefs/resource_type")},
		{Method: "DELETE", Path: ns + "/resource_types/{name}", Policy: "remove_metadef_resource_type_association", Target: s.namespaceTarget, Handler: s.deleteAssociation, Schemas: noContent},
	}
}

// responses is a route's response schema: one of upstream's served schemas.
func responses(status int, name string) []httpapi.Schema {
	return []httpapi.Schema{{Responses: map[int]jsonschema.Schema{status: validationSchema(name)}}}
}

// namespaceRow is one namespace as stored.
type namespaceRow struct {
	ID, Namespace, Visibility, Owner string
	DisplayName, Description         *string
	Protected                        bool
	CreatedAt, UpdatedAt             string
}

const namespaceColumns = `id, namespace, display_name, description, visibility, protected, owner, created_at, updated_at`

func scanNamespace(sc db.Scanner) (*namespaceRow, error) {
	var n namespaceRow
	err := sc.Scan(&n.ID, &n.Namespace, &n.DisplayName, &n.Description, &n.Visibility, &n.Protected, &n.Owner, &n.CreatedAt, &n.UpdatedAt)
	return &n, err
}

func namespaceNotFound(name string) error { return httpapi.NotFound("Namespace %s not found", name) }

// getNamespace loads a namespace by name through q.
func (s *Service) getNamespace(ctx context.Context, q db.Querier, name string) (*namespaceRow, error) {
	n, err := scanNamespace(q.QueryRowContext(ctx, `SELECT `+namespaceColumns+` FROM metadef_namespaces WHERE namespace = ?`, name))
	if db.IsNoRows(err) {
		return nil, namespaceNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("load namespace %s: %w", name, err)
	}
	return n, nil
}

// namespaceVisible is upstream's database filter: admins see every namespace,
// others public ones and their project's.
func namespaceVisible(c caller, n *namespaceRow) bool {
	return c.admin || n.Visibility == "public" || c.project != "" && n.Owner == c.project
}

func namespaceTarget(n *namespaceRow) map[string]any {
	return map[string]any{"project_id": n.Owner, "visibility": n.Visibility}
}

// namespaceTarget is the policy target of a route about a namespace (upstream's
// MetadefAPIPolicy): its owner and visibility. A namespace the caller may not
// see, or may not get_metadef_namespace, is a 404 from every route, as upstream.
func (s *Service) namespaceTarget(r *http.Request) (map[string]any, error) {
	name := r.PathValue("namespace")
	n, err := s.getNamespace(r.Context(), s.db, name)
	if err != nil {
		return nil, err
	}
	if !namespaceVisible(s.caller(r), n) {
		return nil, namespaceNotFound(name)
	}
	target := namespaceTarget(n)
	if err := httpapi.Enforce(r, s.policy, "get_metadef_namespace", target); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return nil, namespaceNotFound(name)
		}
		return nil, err
	}
	return target, nil
}

// enforceAlso checks further rules upstream checks on a route beside its own.
func (s *Service) enforceAlso(r *http.Request, target map[string]any, rules ...string) error {
	for _, rule := range rules {
		if err := httpapi.Enforce(r, s.policy, rule, target); err != nil {
			return err
		}
	}
	return nil
}

// namespaceJSON renders a namespace as upstream's wsme model does (unset
// attributes left out).
func namespaceJSON(n *namespaceRow) map[string]any {
	m := map[string]any{"namespace": n.Namespace, "visibility": n.Visibility, "protected": n.Protected, "owner": n.Owner,
		"created_at": n.CreatedAt, "updated_at": n.UpdatedAt,
		"self": "/v2/metadefs/namespaces/" + n.Namespace, "schema": "/v2/schemas/metadefs/namespace"}
	if n.DisplayName != nil {
		m["display_name"] = *n.DisplayName
	}
	if n.Description != nil {
		m["description"] = *n.Description
	}
	return m
}

// decodeMetadef reads a metadef create or update body in upstream's order:
// read-only attributes (403), then the schema (400, "Provided object does not
// match schema '<name>': ...").
func decodeMetadef(r *http.Request, schema string, readOnly ...string) (map[string]any, error) {
	doc, err := decodeDocument(r)
	if err != nil {
		return nil, err
	}
	body, ok := doc.(map[string]any)
	if !ok {
		return nil, httpapi.BadRequest("Provided object does not match schema '%s': %s is not of type 'object'",
			strings.TrimPrefix(schema, "metadefs/"), jsonschema.Repr(doc))
	}
	for _, key := range readOnly {
		if _, ok := body[key]; ok {
			return nil, httpapi.Forbidden("Attribute '%s' is read-only.", key)
		}
	}
	sc := validationSchema(schema)
	if verr := jsonschema.Validate(sc, doc); verr != nil {
		return nil, httpapi.BadRequest("Provided object does not match schema '%s': %s", sc["name"], verr.Message)
	}
	return plainJSON(body).(map[string]any), nil
}

func optString(body map[string]any, key string) *string {
	if v, ok := body[key].(string); ok {
		return &v
	}
	return nil
}

func (s *Service) listNamespaces(r *http.Request) (httpapi.Response, error) {
	q := r.URL.Query()
	c := s.caller(r)
	if err := s.enforceAlso(r, map[string]any{"project_id": nullableString(c.project)}, "list_metadef_resource_types"); err != nil {
		return httpapi.Response{}, err
	}
	visibility := q.Get("visibility")
	if visibility != "" && visibility != "public" && visibility != "private" {
		return httpapi.Response{}, httpapi.BadRequest("Invalid visibility value: %s", visibility)
	}
	sortDir := "desc"
	if q.Has("sort_dir") {
		sortDir = q.Get("sort_dir")
	}
	if sortDir != "asc" && sortDir != "desc" {
		return httpapi.Response{}, httpapi.BadRequest("Invalid sort direction: %s", sortDir)
	}
	sortKey := "created_at"
	if q.Has("sort_key") {
		sortKey = q.Get("sort_key")
	}
	if !slices.Contains([]string{"namespace", "display_name", "description", "visibility", "protected", "owner", "created_at", "updated_at"}, sortKey) {
		return httpapi.Response{}, httpapi.BadRequest("Invalid sort key: %s", sortKey)
	}
	limit := 25
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			return httpapi.Response{}, httpapi.BadRequest("limit param must be an integer")
		}
		if n < 0 {
			return httpapi.Response{}, httpapi.BadRequest("limit param must be positive")
		}
		limit = min(n, 1000)
	}
	all, err := db.QueryAll(r.Context(), s.db, scanNamespace, `SELECT `+namespaceColumns+` FROM metadef_namespaces`)
	if err != nil {
		return httpapi.Response{}, err
	}
	assocs, err := s.associations(r.Context(), "")
	if err != nil {
		return httpapi.Response{}, err
	}
	var resourceTypes []string
	if v := q.Get("resource_types"); v != "" {
		for _, rt := range strings.Split(v, ",") {
			resourceTypes = append(resourceTypes, strings.TrimSpace(rt))
		}
	}
	all = slices.DeleteFunc(all, func(n *namespaceRow) bool {
		if !namespaceVisible(c, n) || visibility != "" && n.Visibility != visibility ||
			!s.policy.Allowed("get_metadef_namespace", namespaceTarget(n), credentials(r)) {
			return true
		}
		return resourceTypes != nil && !slices.ContainsFunc(assocs[n.ID], func(a association) bool {
			return slices.Contains(resourceTypes, a.Name)
		})
	})
	slices.SortFunc(all, func(a, b *namespaceRow) int {
		n := strings.Compare(namespaceSortValue(a, sortKey), namespaceSortValue(b, sortKey))
		if n == 0 {
			n = strings.Compare(a.ID, b.ID)
		}
		if sortDir == "desc" {
			return -n
		}
		return n
	})
	if marker := q.Get("marker"); marker != "" {
		at := slices.IndexFunc(all, func(n *namespaceRow) bool { return n.Namespace == marker })
		if at < 0 {
			return httpapi.Response{}, httpapi.NotFound("Metadata definition namespace=%s was not found.", marker)
		}
		all = all[at+1:]
	}
	if len(all) > limit {
		all = all[:limit]
	}
	list := make([]any, 0, len(all))
	for _, n := range all {
		m := namespaceJSON(n)
		if a := assocs[n.ID]; len(a) > 0 {
			m["resource_type_associations"] = associationsJSON(a)
		}
		list = append(list, m)
	}
	params := url.Values{}
	for k, v := range q {
		if k != "marker" {
			params[k] = v
		}
	}
	body := map[string]any{"namespaces": list, "first": withQuery("/v2/metadefs/namespaces", params),
		"schema": "/v2/schemas/metadefs/namespaces"}
	if len(list) != 0 && len(list) == limit {
		params.Set("marker", all[len(all)-1].Namespace)
		body["next"] = withQuery("/v2/metadefs/namespaces", params)
	}
	return httpapi.OK(body), nil
}

func namespaceSortValue(n *namespaceRow, key string) string {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	switch key {
	case "namespace":
		return n.Namespace
	case "display_name":
		return deref(n.DisplayName)
	case "description":
		return deref(n.Description)
	case "visibility":
		return n.Visibility
	case "protected":
		return strconv.FormatBool(n.Protected)
	case "owner":
		return n.Owner
	case "updated_at":
		return n.UpdatedAt
	}
	return n.CreatedAt
}

// createNamespace creates a namespace with whatever objects, properties, tags
// and resource type associations its body holds, all in one transaction.
func (s *Service) createNamespace(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/namespace", "self", "schema", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	target, _ := s.ownTarget(r)
	for key, rule := range map[string]string{"resource_type_associations": "add_metadef_resource_type_association",
		"objects": "add_metadef_object", "properties": "add_metadef_property", "tags": "add_metadef_tag"} {
		if v, ok := body[key]; ok && !isEmpty(v) {
			if err := s.enforceAlso(r, target, rule); err != nil {
				return httpapi.Response{}, err
			}
		}
	}
	if body["owner"] == nil || body["owner"] == "" {
		body["owner"] = s.caller(r).project
	}
	var created *namespaceRow
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		created, err = s.insertNamespace(r.Context(), tx, body)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	n, err := s.namespaceDetail(r.Context(), created, "")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(n).WithHeader("Location", "/v2/metadefs/namespaces/"+created.Namespace), nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// insertNamespace writes a namespace document (as the API's create body, or one
// of the standard files) with its contents, through tx.
func (s *Service) insertNamespace(ctx context.Context, tx *db.Tx, body map[string]any) (*namespaceRow, error) {
	now := stamp(s.now())
	n := &namespaceRow{ID: newID(), Visibility: "private", CreatedAt: now, UpdatedAt: now,
		DisplayName: optString(body, "display_name"), Description: optString(body, "description")}
	n.Namespace, _ = body["namespace"].(string)
	n.Owner, _ = body["owner"].(string)
	if v, ok := body["visibility"].(string); ok {
		n.Visibility = v
	}
	n.Protected, _ = body["protected"].(bool)
	_, err := tx.ExecContext(ctx, `INSERT INTO metadef_namespaces (`+namespaceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.Namespace, n.DisplayName, n.Description, n.Visibility, n.Protected, n.Owner, n.CreatedAt, n.UpdatedAt)
	if db.IsUniqueViolation(err) {
		return nil, httpapi.Conflict("The metadata definition namespace=%s already exists.", n.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("create namespace: %w", err)
	}
	if list, ok := body["resource_type_associations"].([]any); ok {
		for _, item := range list {
			a, _ := item.(map[string]any)
			if _, err := s.insertAssociation(ctx, tx, n, a); err != nil {
				return nil, err
			}
		}
	}
	if list, ok := body["objects"].([]any); ok {
		for _, item := range list {
			o, _ := item.(map[string]any)
			if _, err := s.insertObject(ctx, tx, n, o); err != nil {
				return nil, err
			}
		}
	}
	if props, ok := body["properties"].(map[string]any); ok {
		for name, p := range props {
			def, _ := p.(map[string]any)
			if _, err := s.insertProperty(ctx, tx, n, name, def); err != nil {
				return nil, err
			}
		}
	}
	if list, ok := body["tags"].([]any); ok {
		for _, item := range list {
			t, _ := item.(map[string]any)
			name, _ := t["name"].(string)
			if _, err := s.insertTag(ctx, tx, n, name); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// namespaceDetail is a namespace with its contents, the property names prefixed
// as the resource type asked for (?resource_type=) takes them.
func (s *Service) namespaceDetail(ctx context.Context, n *namespaceRow, resourceType string) (map[string]any, error) {
	m := namespaceJSON(n)
	assocs, err := s.associations(ctx, n.ID)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if a := assocs[n.ID]; len(a) > 0 {
		m["resource_type_associations"] = associationsJSON(a)
		for _, x := range a {
			if x.Name == resourceType && x.Prefix != nil {
				prefix = *x.Prefix
			}
		}
	}
	objects, err := s.objects(ctx, n)
	if err != nil {
		return nil, err
	}
	if len(objects) > 0 {
		list := make([]any, len(objects))
		for i, o := range objects {
			j := objectJSON(n, o)
			if prefix != "" {
				j["properties"] = prefixed(o.Properties, prefix)
				req := make([]string, len(o.Required))
				for k, name := range o.Required {
					req[k] = prefix + name
				}
				if len(req) > 0 {
					j["required"] = req
				}
			}
			list[i] = j
		}
		m["objects"] = list
	}
	props, err := s.properties(ctx, n)
	if err != nil {
		return nil, err
	}
	if len(props) > 0 {
		m["properties"] = prefixed(props, prefix)
	}
	tags, err := s.tags(ctx, n)
	if err != nil {
		return nil, err
	}
	if len(tags) > 0 {
		list := make([]any, len(tags))
		for i, t := range tags {
			list[i] = map[string]any{"name": t.Name}
		}
		m["tags"] = list
	}
	return m, nil
}

func prefixed(props map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		out[prefix+k] = v
	}
	return out
}

func (s *Service) showNamespace(r *http.Request) (httpapi.Response, error) {
	target, _ := s.namespaceTarget(r)
	if err := s.enforceAlso(r, target, "list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties", "get_metadef_tags"); err != nil {
		return httpapi.Response{}, err
	}
	n, err := s.getNamespace(r.Context(), s.db, r.PathValue("namespace"))
	if err != nil {
		return httpapi.Response{}, err
	}
	detail, err := s.namespaceDetail(r.Context(), n, r.URL.Query().Get("resource_type"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(detail), nil
}

// updateNamespace replaces the namespace's own attributes (not its contents),
// as upstream: what the body leaves out goes back to its default.
func (s *Service) updateNamespace(r *http.Request) (httpapi.Response, error) {
	body, err := decodeMetadef(r, "metadefs/namespace", "self", "schema", "created_at", "updated_at")
	if err != nil {
		return httpapi.Response{}, err
	}
	name := r.PathValue("namespace")
	var n *namespaceRow
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if n, err = s.getNamespace(r.Context(), tx, name); err != nil {
			return err
		}
		n.Namespace, _ = body["namespace"].(string)
		n.DisplayName, n.Description = optString(body, "display_name"), optString(body, "description")
		n.Visibility = "private"
		if v, _ := body["visibility"].(string); v != "" {
			n.Visibility = v
		}
		n.Protected, _ = body["protected"].(bool)
		if v, _ := body["owner"].(string); v != "" {
			n.Owner = v
		} else {
			n.Owner = s.caller(r).project
		}
		n.UpdatedAt = stamp(s.now())
		_, err = tx.ExecContext(r.Context(), `UPDATE metadef_namespaces SET namespace = ?, display_name = ?, description = ?,
			visibility = ?, protected = ?, owner = ?, updated_at = ? WHERE id = ?`,
			n.Namespace, n.DisplayName, n.Description, n.Visibility, n.Protected, n.Owner, n.UpdatedAt, n.ID)
		if db.IsUniqueViolation(err) {
			return httpapi.Conflict("The metadata definition namespace=%s already exists.", n.Namespace)
		}
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(namespaceJSON(n)), nil
}

func (s *Service) deleteNamespace(r *http.Request) (httpapi.Response, error) {
	name := r.PathValue("namespace")
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		n, err := s.getNamespace(r.Context(), tx, name)
		if err != nil {
			return err
		}
		if n.Protected {
			return httpapi.Forbidden("Metadata definition namespace %s is protected and cannot be deleted.", n.Namespace)
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM metadef_namespaces WHERE id = ?`, n.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// deleteChildren deletes every object, property or tag of a namespace that is
// not protected (upstream's delete_objects, delete_properties, delete_tags).
func (s *Service) deleteChildren(table string) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		if table == "metadef_tags" {
			target, _ := s.namespaceTarget(r)
			if err := s.enforceAlso(r, target, "delete_metadef_namespace"); err != nil {
				return httpapi.Response{}, err
			}
		}
		name := r.PathValue("namespace")
		err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
			n, err := s.getNamespace(r.Context(), tx, name)
			if err != nil {
				return err
			}
			if n.Protected {
				return httpapi.Forbidden("Metadata definition namespace %s is protected and cannot be deleted.", n.Namespace)
			}
			_, err = tx.ExecContext(r.Context(), `DELETE FROM `+table+` WHERE namespace_id = ?`, n.ID)
			return err
		})
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.NoContent(), nil
	}
}

// changeInNamespace runs fn on the namespace of the path, in one transaction,
// refusing changes to a protected namespace's contents when protect is set.
func (s *Service) changeInNamespace(r *http.Request, protect string, fn func(tx *db.Tx, n *namespaceRow) error) error {
	return s.db.InTx(r.Context(), func(tx *db.Tx) error {
		n, err := s.getNamespace(r.Context(), tx, r.PathValue("namespace"))
		if err != nil {
			return err
		}
		if protect != "" && n.Protected {
			return httpapi.Forbidden("Metadata definition %s %s is protected and cannot be deleted.", protect, r.PathValue("name"))
		}
		return fn(tx, n)
	})
}

func nullableString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonText(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
