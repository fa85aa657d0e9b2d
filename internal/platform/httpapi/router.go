// Package httpapi is the HTTP kit every Nimbus API is built on: one declarative route
// table per service, one handler shape, one error mapper, request ids, access logs,
// metrics, body limits, pagination, microversions and discovery documents.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// Route is one endpoint of an API: who may call it is declared beside it.
type Route struct {
	Method  string
	Path    string // net/http pattern syntax: /v3/users/{user_id}
	Handler Handler
	// Public routes need no token (discovery, token issue).
	Public bool
	// Policy is the rule enforced before the handler runs; empty means "any valid token".
	Policy string
	// Target loads the attributes the policy rule refers to as %(target.x)s.
	Target func(r *http.Request) (map[string]any, error)
	// Schemas are the route's request and response schemas per API version.
	Schemas []Schema
	// LateValidation validates the body after the policy check, with its own
	// message, on a server that otherwise validates first: Keystone's methods
	// that call lazy_validate after enforce_call, beside those its
	// request_body_schema decorator checks before. Nil leaves the server's order.
	LateValidation func(*jsonschema.Error) *Error
}

// Authenticator validates the token a request carries.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*auth.Credentials, error)
}

// Options configure a Server.
type Options struct {
	// Service is the service's catalog type ("identity", "image", "network",
	// "compute"): access rules name it, and logs and metrics are labelled with it.
	Service string
	Logger  *slog.Logger
	Auth    Authenticator
	Policy  *policy.Enforcer
	// ErrorBody renders an error in the service's upstream shape.
	ErrorBody func(*Error) any
	// PolicyError, when set, is the service's 403 for a route's policy rule
	// (Nova's "Policy doesn't allow ... to be performed.").
	PolicyError func(rule string) *Error
	// OnUnauthorized may add headers (Keystone's WWW-Authenticate) to 401 answers.
	OnUnauthorized func(*Error)
	// MaxBodyBytes caps request bodies (413 beyond); 0 means 112 KiB like Keystone.
	MaxBodyBytes int64
	Registry     *prometheus.Registry
	// Negotiate, when set, picks the request's API version (microversion) before
	// anything else the route does, so that schemas and handlers see it
	// (VersionOf); its error is the answer (406 out of range, 400 malformed).
	Negotiate func(r *http.Request) (Version, error)
	// InvalidRequest, when set, is the service's 400 for a body its route's
	// request schema refuses (Nova's "Invalid input for field/attribute ...").
	InvalidRequest func(*jsonschema.Error) *Error
	// ValidateBeforePolicy validates request bodies before the route's policy,
	// as Nova's schema decorator runs before the handler's policy check; otherwise
	// after it, as Keystone validates.
	ValidateBeforePolicy bool
	// CompatRequestIDHeaders are the headers that carry the request id besides
	// x-openstack-request-id, on every answer: Nova's x-compute-request-id (as
	// oslo.middleware's RequestId compat_headers).
	CompatRequestIDHeaders []string
	// URLForms are the forms of a path the service's upstream router accepts
	// beside the route table's; nil: upstream's for Service (upstreamURLForms).
	URLForms *URLForms
	// CheckResponses validates every response against its route's response
	// schema, logging ResponseViolation on a mismatch (the end-to-end tests turn
	// it on with NIMBUS_CHECK_RESPONSES=1).
	CheckResponses bool
}

type routeCtxKey struct{}

// Server serves one API's routes plus /healthcheck. Metrics are not served on API
// ports (upstream serves none there, and they tell an anonymous caller the routes
// and error rates of every tenant): MetricsHandler serves them on a listener of
// their own.
type Server struct {
	opts    Options
	forms   URLForms
	mux     *http.ServeMux
	latency *prometheus.HistogramVec
	// unchecked are the routes, versions and statuses already logged as
	// answered without a response schema (CheckResponses), each logged once.
	unchecked sync.Map
}

var sharedRegistry = prometheus.NewRegistry()

func init() {
	sharedRegistry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
}

// NewServer builds a Server; call Mount with the service's route table.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 112 * 1024
	}
	if opts.ErrorBody == nil {
		opts.ErrorBody = func(e *Error) any {
			return map[string]any{"error": map[string]any{"code": e.Status, "message": e.Message, "title": e.Title()}}
		}
	}
	if opts.Registry == nil {
		opts.Registry = sharedRegistry
	}
	s := &Server{opts: opts, forms: upstreamURLForms[opts.Service], mux: http.NewServeMux()}
	if opts.URLForms != nil {
		s.forms = *opts.URLForms
	}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "nimbus_http_request_duration_seconds",
		Help:        "Latency of API requests by route and status.",
		ConstLabels: prometheus.Labels{"service": opts.Service},
		Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route", "code"})
	if err := opts.Registry.Register(s.latency); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			s.latency = already.ExistingCollector.(*prometheus.HistogramVec)
		}
	}
	s.mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("OK"))
	})
	return s
}

// MetricsHandler serves the Prometheus metrics every Server records into reg (nil:
// the registry servers share by default), for the operator's metrics listener.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	if reg == nil {
		reg = sharedRegistry
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// Mount registers every route of a table.
func (s *Server) Mount(routes []Route) {
	for _, rt := range routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
}

// ServeHTTP implements http.Handler with request ids and access logging around the mux.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := RequestID(r.Context()) // set by Front
	if reqID == "" {
		reqID = s.newRequestID(r)
	}
	ctx := withRequestID(r.Context(), reqID)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.setRequestIDHeaders(rec.Header(), reqID)
	path := r.URL.Path // as the client wrote it
	r = s.canonical(r.WithContext(ctx))
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logger.ErrorContext(ctx, "panic serving request", "panic", p, "stack", string(debug.Stack()),
				"request_id", reqID)
			if !rec.wrote {
				s.writeError(rec, r, AsError(errors.New("panic")))
			}
		}
		elapsed := time.Since(start)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.latency.WithLabelValues(r.Method, route, strconv.Itoa(rec.status)).Observe(elapsed.Seconds())
		if r.URL.Path != "/healthcheck" {
			s.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("service", s.opts.Service), slog.String("request_id", reqID),
				slog.String("method", r.Method), slog.String("path", path),
				slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
				slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
				slog.String("remote", r.RemoteAddr))
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(rec, r)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// unmatched answers requests no route takes with the service's error body: 405 with
// an Allow header when the path exists under other methods, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	probe := &headerProbe{header: http.Header{}}
	s.mux.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		s.writeError(w, r, Errorf(http.StatusMethodNotAllowed, "The method is not allowed for the requested URL."))
		return
	}
	s.writeError(w, r, NotFound("The resource could not be found."))
}

// headerProbe captures what the mux would answer, without writing it.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }

func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		if s.opts.CheckResponses {
			r = r.WithContext(context.WithValue(r.Context(), routeCtxKey{}, &rt))
		}
		validated := false
		validate := func() bool {
			validated = true
			if err := s.validateRequest(r, rt); err != nil {
				s.writeError(w, r, err)
				return false
			}
			return true
		}
		if !rt.Public {
			creds, err := s.authenticate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			serviceToken, err := s.checkServiceToken(r)
			if err == nil {
				err = s.enforceAccessRules(r, creds, serviceToken)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(auth.WithCredentials(r.Context(), creds))
			if s.opts.Negotiate != nil {
				v, err := s.opts.Negotiate(r)
				if err != nil {
					s.writeError(w, r, err)
					return
				}
				r = r.WithContext(WithVersion(r.Context(), v))
			}
			if err := checkPathProject(r, creds.ProjectID); err != nil {
				s.writeError(w, r, err)
				return
			}
			if s.opts.ValidateBeforePolicy && rt.LateValidation == nil && !validate() {
				return
			}
			if rt.Policy != "" {
				if err := s.enforce(r, rt); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
		} else if s.opts.Negotiate != nil {
			v, err := s.opts.Negotiate(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(WithVersion(r.Context(), v))
		}
		if !validated && !validate() {
			return
		}
		resp, err := rt.Handler(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.write(w, r, resp)
	})
}

func (s *Server) authenticate(r *http.Request) (*auth.Credentials, error) {
	token := r.Header.Get("X-Auth-Token")
	if token == "" || s.opts.Auth == nil {
		return nil, Unauthorized("The request you have made requires authentication.")
	}
	creds, err := s.opts.Auth.Authenticate(r.Context(), token)
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, &Error{Status: http.StatusUnauthorized, Message: "The request you have made requires authentication.", cause: err}
	}
	return creds, nil
}

func (s *Server) enforce(r *http.Request, rt Route) error {
	if s.opts.Policy == nil {
		return nil
	}
	var target map[string]any
	if rt.Target != nil {
		t, err := rt.Target(r)
		if err != nil {
			return err
		}
		target = t
	}
	err := Enforce(r, s.opts.Policy, rt.Policy, target)
	if s.opts.PolicyError != nil && IsStatus(err, http.StatusForbidden) {
		return s.opts.PolicyError(rt.Policy)
	}
	return err
}

// Enforce checks rule for the request's credentials, for handlers whose target is only
// known mid-way (e.g. after loading the resource).
func Enforce(r *http.Request, e *policy.Enforcer, rule string, target map[string]any) error {
	creds := auth.FromContext(r.Context())
	if creds == nil {
		return Unauthorized("The request you have made requires authentication.")
	}
	if !e.Allowed(rule, target, creds.PolicyCredentials()) {
		return Forbidden("You are not authorized to perform the requested action: %s.", rule)
	}
	return nil
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, resp Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch body := resp.Body.(type) {
	case nil:
		if s.opts.CheckResponses {
			s.checkResponse(r, status, nil, false)
		}
		w.WriteHeader(status)
	case []byte:
		if s.opts.CheckResponses {
			// bodies rendered ahead (identity's cached token bodies) are checked too
			s.checkResponse(r, status, body, isJSON(w.Header().Get("Content-Type")))
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	default:
		buf, err := json.Marshal(body)
		if err != nil {
			s.writeError(w, r, AsError(err))
			return
		}
		if s.opts.CheckResponses {
			s.checkResponse(r, status, buf, true)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf)
		}
	}
}

// isJSON reports whether a Content-Type is JSON's (application/json, or a
// +json type such as Glance's application/schema+json).
func isJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(strings.ToLower(mediaType))
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := AsError(err)
	if e.Status >= 500 {
		s.opts.Logger.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()),
			"method", r.Method, "path", r.URL.Path, "error", e.Error())
	}
	if e.Status == http.StatusUnauthorized && s.opts.OnUnauthorized != nil {
		// A copy: services answer with shared error values (one "authentication
		// failed" for every login), which concurrent requests must not write to.
		cp := *e
		cp.Header = e.Header.Clone()
		e = &cp
		s.opts.OnUnauthorized(e)
	}
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Set(k, v)
		}
	}
	s.write(w, r, JSON(e.Status, s.opts.ErrorBody(e)))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
