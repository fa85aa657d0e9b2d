package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Schema is what a route accepts and answers at a range of API versions
// (microversions), as upstream declares it: Nova's @validation.schema(..., min,
// max) beside each method, Keystone's and Glance's request schemas. A route lists
// one per range where its shape changes.
type Schema struct {
	// Min and Max bound the versions it applies to, both included; a zero Max is
	// no upper bound. Services without microversions leave both zero.
	Min, Max Version
	// Request is the body's schema; nil accepts any body (or none).
	Request jsonschema.Schema
	// Responses are the bodies' schemas by status, as upstream's API reference and
	// its response schemas (Tempest's) define them: checked, when the server is
	// told to, on every response the route gives.
	Responses map[int]jsonschema.Schema
}

func (sc Schema) covers(v Version) bool {
	return !v.Less(sc.Min) && (sc.Max == Version{} || !sc.Max.Less(v))
}

// schemaFor is the route's schema at version v, if any.
func schemaFor(schemas []Schema, v Version) (Schema, bool) {
	for _, sc := range schemas {
		if sc.covers(v) {
			return sc, true
		}
	}
	return Schema{}, false
}

type versionCtxKey struct{}

// VersionOf is the API version (microversion) the request negotiated, the zero
// Version for services without microversions.
func VersionOf(r *http.Request) Version {
	v, _ := r.Context().Value(versionCtxKey{}).(Version)
	return v
}

// WithVersion records the request's negotiated version.
func WithVersion(ctx context.Context, v Version) context.Context {
	return context.WithValue(ctx, versionCtxKey{}, v)
}

// validateRequest checks the body against the route's request schema at the
// request's version, and leaves the body readable again for the handler.
func (s *Server) validateRequest(r *http.Request, rt Route) error {
	sc, ok := schemaFor(rt.Schemas, VersionOf(r))
	if !ok || sc.Request == nil {
		return nil
	}
	var data []byte
	if r.Body != nil {
		var err error
		if data, err = io.ReadAll(r.Body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return TooLarge("Request is too large.") // as DecodeJSON
			}
			return BadRequest("Could not read the request body: %v", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
	}
	var doc any
	if len(bytes.TrimSpace(data)) > 0 {
		var err error
		if doc, err = jsonschema.Decode(data); err != nil {
			return s.invalidRequest(rt, &jsonschema.Error{Keyword: "json", Message: "Malformed request body: " + err.Error()})
		}
	}
	if verr := jsonschema.Validate(sc.Request, doc); verr != nil {
		return s.invalidRequest(rt, verr)
	}
	return nil
}

func (s *Server) invalidRequest(rt Route, e *jsonschema.Error) error {
	if rt.LateValidation != nil {
		return rt.LateValidation(e)
	}
	if s.opts.InvalidRequest != nil {
		return s.opts.InvalidRequest(e)
	}
	if e.Keyword == "json" {
		return BadRequest("%s", e.Message)
	}
	if p := e.PathString(); p != "" {
		return BadRequest("Invalid input for field '%s': %s", p, e.Message)
	}
	return BadRequest("%s", e.Message)
}

var responseViolations = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "nimbus_response_schema_violations_total",
	Help: "Responses whose body did not match the route's response schema (when checked).",
}, []string{"service", "route"})

func init() { sharedRegistry.MustRegister(responseViolations) }

// ResponseViolation is the log message of a response that breaks its schema: the
// end-to-end tests look for it in every cloud's log.
const ResponseViolation = "response schema violation"

// ResponseUnchecked is the log message of a route that answered a success
// without a response schema to check it against (once per route, version and
// status in a process): what the response check does not cover yet.
const ResponseUnchecked = "response without a schema"

// checkResponse holds an answer to its route's response schemas at the
// request's version, logging (never altering) a violation: a success status
// upstream does not answer, or a JSON body that breaks the status's schema. A
// status mapped to a nil schema is checked alone (no body, or one that is not
// JSON, such as image data). Errors are not checked: upstream's response
// schemas describe successes.
func (s *Server) checkResponse(r *http.Request, status int, body []byte, isJSON bool) {
	rt, _ := r.Context().Value(routeCtxKey{}).(*Route)
	if rt == nil || status >= 400 {
		return
	}
	sc, ok := schemaFor(rt.Schemas, VersionOf(r))
	if !ok || len(sc.Responses) == 0 {
		s.noteUnchecked(r, rt, status)
		return
	}
	schema, ok := sc.Responses[status]
	if !ok {
		s.violation(r, rt, status, "", fmt.Sprintf("status %d is not one upstream answers (%s)", status, statusList(sc.Responses)))
		return
	}
	if schema == nil || !isJSON {
		return
	}
	var doc any
	if len(body) > 0 {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			s.violation(r, rt, status, "", "the body is not JSON: "+err.Error())
			return
		}
	}
	if verr := jsonschema.Validate(schema, doc); verr != nil {
		s.violation(r, rt, status, verr.PathString(), verr.Message)
	}
}

func (s *Server) violation(r *http.Request, rt *Route, status int, field, message string) {
	responseViolations.WithLabelValues(s.opts.Service, rt.Method+" "+rt.Path).Inc()
	s.opts.Logger.ErrorContext(r.Context(), ResponseViolation, "service", s.opts.Service,
		"route", rt.Method+" "+rt.Path, "version", VersionOf(r).String(), "status", status,
		"field", field, "error", message, "request_id", RequestID(r.Context()))
}

// statusList is the statuses a route answers, in order: "200, 202".
func statusList(responses map[int]jsonschema.Schema) string {
	statuses := make([]int, 0, len(responses))
	for st := range responses {
		statuses = append(statuses, st)
	}
	slices.Sort(statuses)
	parts := make([]string, len(statuses))
	for i, st := range statuses {
		parts[i] = strconv.Itoa(st)
	}
	return strings.Join(parts, ", ")
}

// noteUnchecked logs, once per route, version and status, a success answered
// without a response schema.
func (s *Server) noteUnchecked(r *http.Request, rt *Route, status int) {
	version := VersionOf(r).String()
	key := rt.Method + " " + rt.Path + " " + version + " " + strconv.Itoa(status)
	if _, seen := s.unchecked.LoadOrStore(key, true); seen {
		return
	}
	s.opts.Logger.InfoContext(r.Context(), ResponseUnchecked, "service", s.opts.Service,
		"route", rt.Method+" "+rt.Path, "version", version, "status", status)
}
