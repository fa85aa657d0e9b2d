package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// bulkMembers are the collections that accept bulk creation, by their plural key.
var bulkMembers = map[string]string{"networks": "network", "subnets": "subnet", "ports": "port",
	"security_group_rules": "security_group_rule", "security_groups": "security_group"}

// bulkCreate handles POST /v2.0/<collection> with {"<plural>": [...]} (upstream's bulk
// API): each item goes through the single-item handler; if one fails, those created
// before it are deleted again and the failure is the answer, as upstream's
// all-or-nothing bulk.
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
	undo := func() {
		for _, c := range created {
			if member == "port" {
				// A caller may make ports it may not delete (a reader's, on a shared
				// network): the service removes them itself, as upstream's emulated
				// bulk create deletes through the plugin, past the API's policy.
				id := fmt.Sprint(c["id"])
				if err := s.db.InTx(r.Context(), func(tx *db.Tx) error { return s.removePort(r.Context(), tx, id) }); err != nil {
					s.log.ErrorContext(r.Context(), "undo a bulk-created port", "port", id, "error", err)
				}
				continue
			}
			req := r.Clone(r.Context())
			req.Method, req.Body, req.ContentLength = http.MethodDelete, http.NoBody, 0
			req.URL.Path = r.URL.Path + "/" + fmt.Sprint(c["id"])
			next.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
	for _, item := range items {
		one, _ := json.Marshal(map[string]json.RawMessage{member: item})
		req := r.Clone(r.Context())
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(one)), int64(len(one))
		req.Header.Set("Content-Length", strconv.Itoa(len(one)))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			undo()
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return true
		}
		var out map[string]map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		created = append(created, out[member])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{plural: created})
	return true
}

// checkRevision implements the revision-if-match extension: a PUT or DELETE with
// "If-Match: revision_number=N" fails with 412 unless the resource is at revision N.
func (s *Service) checkRevision(next http.Handler, w http.ResponseWriter, r *http.Request) bool {
	want, ok := strings.CutPrefix(r.Header.Get("If-Match"), "revision_number=")
	if !ok {
		return true
	}
	req := r.Clone(r.Context())
	req.Method, req.Body, req.ContentLength = http.MethodGet, http.NoBody, 0
	req.Header.Del("If-Match")
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return true // let the real request answer 404/403
	}
	var doc map[string]map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &doc)
	for _, res := range doc {
		if have := fmt.Sprint(res["revision_number"]); have != want {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusPreconditionFailed)
			_ = json.NewEncoder(w).Encode(map[string]any{"NeutronError": map[string]any{
				"type": "RevisionNumberConstraintFailed", "detail": "",
				"message": fmt.Sprintf("Constrained to %s, but current revision is %s", want, have)}})
			return false
		}
	}
	return true
}
