package volume

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func init() {
	extraRouteGroups = append(extraRouteGroups, (*Service).qosRoutes)
	for _, rule := range []string{policyQosCreate, policyQosGet, policyQosGetAll, policyQosUpdate, policyQosDelete} {
		defaultPolicies[rule] = ruleAdminAPI
	}
}

// Rule names of cinder/policies/qos_specs.py, all admin_api.
const (
	policyQosCreate = "volume_extension:qos_specs_manage:create"
	policyQosGet    = "volume_extension:qos_specs_manage:get"
	policyQosGetAll = "volume_extension:qos_specs_manage:get_all"
	policyQosUpdate = "volume_extension:qos_specs_manage:update"
	policyQosDelete = "volume_extension:qos_specs_manage:delete"
)

// qosConsumers are QoSConsumerValues; back-end is the default.
var qosConsumers = []string{"front-end", "back-end", "both"}

// qosRoutes are contrib/qos_specs_manage.py: CRUD, delete_keys, and the
// associations with volume types (upstream's member actions are GETs).
func (s *Service) qosRoutes() []httpapi.Route {
	return withSnapshotBackupResponses([]httpapi.Route{
		{Method: "GET", Path: "/v3/qos-specs", Handler: s.listQos},
		{Method: "POST", Path: "/v3/qos-specs", Handler: s.createQos, Schemas: []httpapi.Schema{{Request: qosCreateSchema}}},
		{Method: "GET", Path: "/v3/qos-specs/{qos_id}", Handler: s.showQos},
		{Method: "PUT", Path: "/v3/qos-specs/{qos_id}", Handler: s.updateQos, Schemas: []httpapi.Schema{{Request: qosSetSchema}}},
		{Method: "DELETE", Path: "/v3/qos-specs/{qos_id}", Handler: s.deleteQos},
		{Method: "PUT", Path: "/v3/qos-specs/{qos_id}/delete_keys", Handler: s.deleteQosKeys, Schemas: []httpapi.Schema{{Request: qosUnsetSchema}}},
		{Method: "GET", Path: "/v3/qos-specs/{qos_id}/associations", Handler: s.qosAssociations},
		{Method: "GET", Path: "/v3/qos-specs/{qos_id}/associate", Handler: s.qosAssociate},
		{Method: "GET", Path: "/v3/qos-specs/{qos_id}/disassociate", Handler: s.qosDisassociate},
		{Method: "GET", Path: "/v3/qos-specs/{qos_id}/disassociate_all", Handler: s.qosDisassociateAll},
	})
}

// Upstream's request schemas (cinder/api/schemas/qos_specs.py).
var (
	qosCreateSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
		"qos_specs": map[string]any{"type": "object", "properties": map[string]any{
			"name": map[string]any{"type": "string", "format": "name_non_mandatory_remove_white_spaces", "minLength": 1},
		}, "required": []any{"name"}, "additionalProperties": true},
	}, "required": []any{"qos_specs"}, "additionalProperties": false}
	qosSetSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
		"qos_specs": map[string]any{"type": "object", "patternProperties": map[string]any{
			"^[a-zA-Z0-9-_:. /]{1,255}$": map[string]any{"type": []any{"string", "null"}, "maxLength": 255}},
			"additionalProperties": false},
	}, "required": []any{"qos_specs"}, "additionalProperties": false}
	qosUnsetSchema = jsonschema.Schema{"type": "object", "properties": map[string]any{
		"keys": map[string]any{"type": "array", "uniqueItems": true,
			"items": map[string]any{"type": "string", "minLength": 1, "maxLength": 255}},
	}, "required": []any{"keys"}, "additionalProperties": false}
)

type qosSpec struct {
	ID, Name, Consumer   string
	CreatedAt, UpdatedAt string
	Specs                map[string]string
}

func qosByID(ctx context.Context, q db.Querier, id string) (*qosSpec, error) {
	spec := &qosSpec{}
	err := q.QueryRowContext(ctx, `SELECT id, name, consumer, created_at, updated_at FROM volume_qos_specs WHERE id = ?`, id).
		Scan(&spec.ID, &spec.Name, &spec.Consumer, &spec.CreatedAt, &spec.UpdatedAt)
	if db.IsNoRows(err) {
		return nil, notFound("No such QoS spec %s.", id)
	}
	if err != nil {
		return nil, err
	}
	spec.Specs, err = keyValues(ctx, q, "volume_qos_spec_keys", "qos_specs_id", id)
	return spec, err
}

func qosView(spec *qosSpec) map[string]any {
	return map[string]any{"id": spec.ID, "name": spec.Name, "consumer": spec.Consumer, "specs": spec.Specs}
}

func (s *Service) showQos(r *http.Request) (httpapi.Response, error) {
	if err := s.enforce(r, policyQosGet, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	spec, err := qosByID(r.Context(), s.db, r.PathValue("qos_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"qos_specs": qosView(spec), "links": s.links(r, "qos-specs", spec.ID)}), nil
}

// listQos is index: filters id, name, consumer; sorted and paged.
func (s *Service) listQos(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	p, err := parseListParams(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	ids, err := db.QueryStrings(ctx, s.db, `SELECT id FROM volume_qos_specs`)
	if err != nil {
		return httpapi.Response{}, err
	}
	var specs []*qosSpec
	for _, id := range ids {
		spec, err := qosByID(ctx, s.db, id)
		if err != nil {
			return httpapi.Response{}, err
		}
		keep := true
		for k, want := range p.filters {
			switch k {
			case "id":
				keep = keep && spec.ID == want
			case "name":
				keep = keep && spec.Name == want
			case "consumer":
				keep = keep && spec.Consumer == want
			}
		}
		if keep {
			specs = append(specs, spec)
		}
	}
	value := func(spec *qosSpec, key string) (string, bool) {
		switch key {
		case "id":
			return spec.ID, true
		case "name":
			return spec.Name, true
		case "consumer":
			return spec.Consumer, true
		case "created_at":
			return spec.CreatedAt, true
		case "updated_at":
			return spec.UpdatedAt, true
		}
		return "", false
	}
	for _, k := range p.sortKeys {
		if _, ok := value(&qosSpec{}, k); !ok {
			return httpapi.Response{}, badRequest("Invalid input received: Invalid sort key")
		}
	}
	sort.SliceStable(specs, func(i, j int) bool {
		for n, k := range p.sortKeys {
			a, _ := value(specs[i], k)
			b, _ := value(specs[j], k)
			if a != b {
				return (p.sortDirs[n] == "asc") == (a < b)
			}
		}
		return specs[i].ID > specs[j].ID
	})
	page, err := pageOf(specs, func(x *qosSpec) string { return x.ID }, p)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]any, 0, len(page))
	for _, spec := range page {
		views = append(views, qosView(spec))
	}
	out := map[string]any{"qos_specs": views}
	if len(page) > 0 {
		if links := s.nextLink(r, "qos-specs", len(page), p, page[len(page)-1].ID); links != nil {
			out["qos_specs_links"] = links
		}
	}
	return httpapi.OK(out), nil
}

// qosKeys splits a body's specs: consumer is the spec's own column, the rest
// its keys, each a string.
func qosKeys(in map[string]any) (consumer *string, specs map[string]string, err error) {
	specs = map[string]string{}
	for k, v := range in {
		str, ok := v.(string)
		if !ok {
			return nil, nil, badRequest("Invalid input received: %s must be a string.", k)
		}
		if k == "consumer" {
			if !contains(qosConsumers, str) {
				return nil, nil, badRequest("Invalid qos specs: Valid consumer of QoS specs are: %s", pyList(qosConsumers))
			}
			consumer = &str
			continue
		}
		specs[k] = str
	}
	return consumer, specs, nil
}

// createQos answers 200 with the spec, as upstream's create (no @response).
func (s *Service) createQos(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosCreate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		QosSpecs map[string]any `json:"qos_specs"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	name, _ := body.QosSpecs["name"].(string)
	name = strings.TrimSpace(name)
	delete(body.QosSpecs, "name")
	consumer, specs, err := qosKeys(body.QosSpecs)
	if err != nil {
		return httpapi.Response{}, err
	}
	if consumer == nil {
		consumer = strp("back-end")
	}
	id := uuid.NewString()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		now := dbTime(s.now())
		_, err := tx.ExecContext(ctx, `INSERT INTO volume_qos_specs (id, name, consumer, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, id, name, *consumer, now, now)
		if db.IsUniqueViolation(err) {
			return conflict("QoS Specs %s already exists.", name)
		}
		if err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_qos_spec_keys", "qos_specs_id", id, specs, false)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	spec, err := qosByID(ctx, s.db, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"qos_specs": qosView(spec), "links": s.links(r, "qos-specs", id)}), nil
}

// updateQos sets keys (and the consumer) and answers the request's body, as
// upstream's.
func (s *Service) updateQos(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		QosSpecs map[string]any `json:"qos_specs"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	consumer, specs, err := qosKeys(body.QosSpecs)
	if err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("qos_id")
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := qosByID(ctx, tx, id); err != nil {
			return err
		}
		if consumer != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_qos_specs SET consumer = ? WHERE id = ?`, *consumer, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE volume_qos_specs SET updated_at = ? WHERE id = ?`, dbTime(s.now()), id); err != nil {
			return err
		}
		return setKeyValues(ctx, tx, "volume_qos_spec_keys", "qos_specs_id", id, specs, true)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"qos_specs": body.QosSpecs}), nil
}

// deleteQos refuses a spec still associated unless force, which
// disassociates it first.
func (s *Service) deleteQos(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosDelete, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	force := boolParam(r.URL.Query().Get("force"))
	id := r.PathValue("qos_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := qosByID(ctx, tx, id); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM volume_qos_associations WHERE qos_specs_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n > 0 && !force {
			return badRequest("Qos specs still in use.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_qos_associations WHERE qos_specs_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM volume_qos_specs WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) deleteQosKeys(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosDelete, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Keys []string `json:"keys"`
	}
	if err := decodeBody(r, &body); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("qos_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		spec, err := qosByID(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, k := range body.Keys {
			if _, ok := spec.Specs[k]; !ok {
				return notFound("QoS spec %s has no spec with key %s.", id, k)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM volume_qos_spec_keys WHERE qos_specs_id = ? AND key = ?`, id, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) qosAssociations(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosGetAll, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("qos_id")
	if _, err := qosByID(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	type assoc struct{ id, name string }
	rows, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (assoc, error) {
		var a assoc
		err := sc.Scan(&a.id, &a.name)
		return a, err
	}, `SELECT t.id, t.name FROM volume_qos_associations a JOIN volume_types t ON t.id = a.volume_type_id
		WHERE a.qos_specs_id = ? ORDER BY t.name`, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]any, 0, len(rows))
	for _, a := range rows {
		out = append(out, map[string]any{"association_type": "volume_type", "name": a.name, "id": a.id})
	}
	return httpapi.OK(map[string]any{"qos_associations": out}), nil
}

// qosTypeParam is the vol_type_id the association actions require.
func qosTypeParam(r *http.Request) (string, error) {
	t := r.URL.Query().Get("vol_type_id")
	if t == "" {
		return "", badRequest("Volume Type id must not be None.")
	}
	return t, nil
}

// qosAssociate associates a type with the spec; a type associated with
// another spec is refused, with the same one it is done already.
func (s *Service) qosAssociate(r *http.Request) (httpapi.Response, error) {
	return s.qosTypeChange(r, func(ctx context.Context, tx *db.Tx, id, typeID string) error {
		var current string
		err := tx.QueryRowContext(ctx, `SELECT qos_specs_id FROM volume_qos_associations WHERE volume_type_id = ?`, typeID).Scan(&current)
		switch {
		case err == nil && current != id:
			return badRequest("Invalid volume type: Type %s is already associated with another qos specs: %s", typeID, current)
		case err == nil:
			return nil
		case !db.IsNoRows(err):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO volume_qos_associations (volume_type_id, qos_specs_id) VALUES (?, ?)`, typeID, id)
		return err
	})
}

func (s *Service) qosDisassociate(r *http.Request) (httpapi.Response, error) {
	return s.qosTypeChange(r, func(ctx context.Context, tx *db.Tx, id, typeID string) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM volume_qos_associations WHERE volume_type_id = ? AND qos_specs_id = ?`, typeID, id)
		return err
	})
}

// qosTypeChange runs change, in one transaction, on the association of the
// spec of the path with the volume type of vol_type_id, once both are found.
func (s *Service) qosTypeChange(r *http.Request, change func(ctx context.Context, tx *db.Tx, id, typeID string) error) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	typeID, err := qosTypeParam(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("qos_id")
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := qosByID(ctx, tx, id); err != nil {
			return err
		}
		if _, err := typeByID(ctx, tx, typeID); db.IsNoRows(err) {
			return notFound("Volume type %s could not be found.", typeID)
		} else if err != nil {
			return err
		}
		return change(ctx, tx, id, typeID)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

func (s *Service) qosDisassociateAll(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	if err := s.enforce(r, policyQosUpdate, s.ownTarget(r)); err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("qos_id")
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := qosByID(ctx, tx, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM volume_qos_associations WHERE qos_specs_id = ?`, id)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}
