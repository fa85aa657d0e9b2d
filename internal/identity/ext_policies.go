package identity

import (
	"context"
	"fmt"
	"maps"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// The policies API (/v3/policies) stores opaque rule sets ("blobs") on behalf of
// other services; Nimbus does not interpret them. Unknown attributes are kept as
// extra, as upstream.

func (s *Service) policyBlobRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v3/policies", Policy: "identity:list_policies", Handler: s.listPolicyBlobs,
			Schemas: okBody(policyIndexResponse)},
		{Method: "POST", Path: "/v3/policies", Policy: "identity:create_policy", Handler: s.createPolicyBlob, LateValidation: lazyValidation("policy"),
			Schemas: schemas(policyCreateRequest, map[int]jsonschema.Schema{http.StatusCreated: policyResponse})},
		{Method: "GET", Path: "/v3/policies/{policy_id}", Policy: "identity:get_policy", Handler: s.showPolicyBlob,
			Schemas: okBody(policyResponse)},
		{Method: "PATCH", Path: "/v3/policies/{policy_id}", Policy: "identity:update_policy", Handler: s.updatePolicyBlob, LateValidation: lazyValidation("policy"),
			Schemas: schemas(policyUpdateRequest, map[int]jsonschema.Schema{http.StatusOK: policyResponse})},
		{Method: "DELETE", Path: "/v3/policies/{policy_id}", Policy: "identity:delete_policy", Handler: s.deletePolicyBlob, Schemas: noContent},
	}
}

type policyBlobRow struct {
	ID, Type, Blob, Extra string
}

func scanPolicyBlob(row db.Scanner) (*policyBlobRow, error) {
	p := &policyBlobRow{}
	err := row.Scan(&p.ID, &p.Type, &p.Blob, &p.Extra)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return p, nil
}

func (s *Service) loadPolicyBlob(ctx context.Context, q db.Querier, id string) (*policyBlobRow, error) {
	p, err := scanPolicyBlob(q.QueryRowContext(ctx, `SELECT id, type, blob, extra FROM policies WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, notFound("policy", id)
	}
	return p, nil
}

func (s *Service) policyBlobJSON(p *policyBlobRow) map[string]any {
	return mergeExtra(map[string]any{
		"id": p.ID, "type": p.Type, "blob": p.Blob, "links": s.links("/v3/policies/" + p.ID),
	}, p.Extra)
}

func (s *Service) listPolicyBlobs(r *http.Request) (httpapi.Response, error) {
	policies, err := db.QueryAll(r.Context(), s.db, scanPolicyBlob, `SELECT id, type, blob, extra FROM policies ORDER BY id`)
	if err != nil {
		return httpapi.Response{}, err
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, p := range policies {
		if extMatchQuery(q, []string{"type"}, func(string) string { return p.Type }) {
			out = append(out, s.policyBlobJSON(p))
		}
	}
	return httpapi.OK(map[string]any{"policies": out, "links": s.collectionLinks(r)}), nil
}

// policyBlobFields reads type (at most 255 characters) and blob, both strings.
func policyBlobFields(f *fields, p *policyBlobRow, create bool) {
	if create {
		extRequire(f, "blob", "type")
	}
	if v, ok := f.String("type", 255); ok {
		p.Type = v
	}
	if v, ok := f.String("blob", 0); ok {
		p.Blob = v
	}
	f.Drop("links")
}

func (s *Service) createPolicyBlob(r *http.Request) (httpapi.Response, error) {
	obj, err := decodeEnvelope(r, "policy")
	if err != nil {
		return httpapi.Response{}, err
	}
	f := &fields{m: obj}
	f.Drop("id") // upstream assigns it
	p := &policyBlobRow{ID: newID()}
	policyBlobFields(f, p, true)
	if f.err != nil {
		return httpapi.Response{}, f.err
	}
	p.Extra = marshalJSON(f.Extra())
	if _, err := s.db.ExecContext(r.Context(), `INSERT INTO policies (id, type, blob, extra) VALUES (?,?,?,?)`,
		p.ID, p.Type, p.Blob, p.Extra); err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.Created(map[string]any{"policy": s.policyBlobJSON(p)}), nil
}

func (s *Service) showPolicyBlob(r *http.Request) (httpapi.Response, error) {
	p, err := s.loadPolicyBlob(r.Context(), s.db, pathParam(r, "policy_id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"policy": s.policyBlobJSON(p)}), nil
}

// updatePolicyBlob applies the request to the policy as stored when it writes.
func (s *Service) updatePolicyBlob(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	id := pathParam(r, "policy_id")
	if _, err := s.loadPolicyBlob(ctx, s.db, id); err != nil {
		return httpapi.Response{}, err
	}
	obj, err := decodeEnvelope(r, "policy")
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := requireSomeProperty(obj, "policy"); err != nil {
		return httpapi.Response{}, err
	}
	var updated *policyBlobRow
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		p, err := s.loadPolicyBlob(ctx, tx, id)
		if err != nil {
			return err
		}
		f := &fields{m: maps.Clone(obj)} // fields consume the map: a run again needs it whole
		f.requireSameID(p.ID, "policy")
		policyBlobFields(f, p, false)
		if f.err != nil {
			return f.err
		}
		p.Extra = extraMerged(p.Extra, f.Extra())
		if _, err := tx.ExecContext(ctx, `UPDATE policies SET type = ?, blob = ?, extra = ? WHERE id = ?`,
			p.Type, p.Blob, p.Extra, p.ID); err != nil {
			return fmt.Errorf("update policy: %w", err)
		}
		updated = p
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	return httpapi.OK(map[string]any{"policy": s.policyBlobJSON(updated)}), nil
}

func (s *Service) deletePolicyBlob(r *http.Request) (httpapi.Response, error) {
	return s.extDeleteByID(r, "policies", "policy_id", "policy")
}
