package network

import (
	"context"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// resourceKind is what the generic reads of a simple resource need: its table of
// bodies, its get rule, and upstream's not-found error (type and label).
type resourceKind struct {
	table, getRule, notFoundType, label string
}

// targeted is a stored body whose get rule is checked against its target.
type targeted[T any] interface {
	*T
	target() map[string]any
}

// loadVisible loads one resource the caller may see; one it may not see answers
// the same 404 as one that does not exist, as upstream.
func loadVisible[T any, P targeted[T]](ctx context.Context, s *Service, c caller, q db.Querier, k resourceKind, id string) (*T, error) {
	var v T
	if err := loadBody(ctx, q, k.table, id, &v); err != nil {
		return nil, notFoundIfNoRows(err, k.notFoundType, k.label, id)
	}
	if !s.allowed(c, k.getRule, P(&v).target()) {
		return nil, notFound(k.notFoundType, k.label, id)
	}
	return &v, nil
}

// listVisible answers the collection of every resource of the kind the caller
// may see.
func listVisible[T any, P targeted[T]](r *http.Request, s *Service, k resourceKind, collection string, view func(*T) object) (httpapi.Response, error) {
	c := s.caller(r)
	all, err := loadBodies[T](r.Context(), s.db, `SELECT body FROM `+k.table)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range all {
		if s.allowed(c, k.getRule, P(&all[i]).target()) {
			out = append(out, view(&all[i]))
		}
	}
	return listResponse(r, collection, out)
}
