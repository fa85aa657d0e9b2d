package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// bulkMembers are the collections that accept bulk creation, by their plural key.
var bulkMembers = map[string]string{"networks": "network", "subnets": "subnet", "ports": "port",
	"security_group_rules": "security_group_rule", "security_groups": "security_group"}

// errBulkRefused ends a bulk creation's transaction when an item is refused.
var errBulkRefused = errors.New("a bulk item was refused")

// bulkCreate handles POST /v2.0/<collection> with {"<plural>": [...]} (upstream's bulk
// API): each item goes through the single-item handler, all in one transaction,
// so that they are stored together or, when one is refused, not at all, with that
// refusal the answer, as upstream's all-or-nothing bulk. The quota counts the
// items before each one, so a bulk never takes more than the project's room.
func (s *Service) bulkCreate(next http.Handler, w http.ResponseWriter, r *http.Request, body []byte) bool {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil || len(doc) != 1 {
		return false
	}
	var plural string
	for k := range doc {
		plural = k
	}
	member, ok := bulkMembers[plural]
	if !ok || !strings.HasSuffix(r.URL.Path, "/"+strings.ReplaceAll(plural, "_", "-")) {
		return false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(doc[plural], &items); err != nil {
		return false
	}
	var created []map[string]any
	var refusal *httptest.ResponseRecorder
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		created, refusal = nil, nil // from the start when PostgreSQL runs the bulk again
		bulk := &bulkTx{tx: tx}
		ctx := context.WithValue(r.Context(), bulkKey{}, bulk)
		for _, item := range items {
			one, _ := json.Marshal(map[string]json.RawMessage{member: item})
			req := r.Clone(ctx)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(one)), int64(len(one))
			req.Header.Set("Content-Length", strconv.Itoa(len(one)))
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				if db.IsSerializationFailure(bulk.err) {
					return bulk.err // the whole bulk again, in a new transaction
				}
				refusal = rec
				return errBulkRefused
			}
			var out map[string]map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &out)
			created = append(created, out[member])
		}
		return nil
	})
	switch {
	case refusal != nil:
		for k, vs := range refusal.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(refusal.Code)
		_, _ = w.Write(refusal.Body.Bytes())
	case err != nil:
		s.log.ErrorContext(r.Context(), "bulk create failed", "path", r.URL.Path, "error", err)
		writeJSON(w, http.StatusInternalServerError, errorBody(httpapi.AsError(err)))
	default:
		writeJSON(w, http.StatusCreated, map[string]any{plural: created})
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// checkRevision implements the revision-if-match extension: a PUT or DELETE with
// "If-Match: revision_number=N" fails with 412 unless the resource is at revision
// N. The resource is read first as the caller (one it may not see answers as
// without the header, 404), then the request carries the constraint to its
// transaction, which checks it again where it writes (inTx): between this read and
// that write another request may have changed it.
func (s *Service) checkRevision(next http.Handler, w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	want, ok := strings.CutPrefix(r.Header.Get("If-Match"), "revision_number=")
	if !ok {
		return r, true
	}
	req := r.Clone(r.Context())
	req.Method, req.Body, req.ContentLength = http.MethodGet, http.NoBody, 0
	req.Header.Del("If-Match")
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return r, true // let the real request answer 404/403
	}
	var doc map[string]map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &doc)
	for member, res := range doc {
		if have := fmt.Sprint(res["revision_number"]); have != want {
			writeJSON(w, http.StatusPreconditionFailed, errorBody(httpapi.AsError(revisionConflict(want, have))))
			return r, false
		}
		if table, ok := revisionTables[member]; ok {
			exp := expectedRevision{table: table, id: fmt.Sprint(res["id"]), want: want}
			r = r.WithContext(context.WithValue(r.Context(), revisionKey{}, exp))
		}
	}
	return r, true
}
