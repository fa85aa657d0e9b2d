// Package identity is Nimbus's Keystone v3: users, projects, domains, groups, roles and
// assignments, the service catalog, application credentials, and stateless Fernet
// tokens that every other service validates locally.
package identity

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the identity service's schema migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Service is the identity API and the authority behind tokens.
type Service struct {
	db      *db.DB
	cfg     config.Identity
	log     *slog.Logger
	keys    *fernet.Repository
	codec   auth.Codec
	revoked *auth.RevocationList
	valid   *auth.Validator
	bus     *bus.Bus
	policy  *policy.Enforcer
	now     func() time.Time

	// publicURL is the base URL clients reach identity by (for links and discovery).
	publicURL      string
	checkResponses bool

	// generation counts writes, this process's and (over the bus) those of the
	// other identity services on the database; caches derived from the
	// database compare it.
	generation atomic.Uint64
	instance   string // tells this service's change notes from the others'
	renderMu   sync.Mutex
	rendered   map[renderKey]renderedToken
	dummy      []byte
	dummyReady chan struct{}
}

// Options are what the service needs from its host process.
type Options struct {
	DB        *db.DB
	Config    config.Identity
	Logger    *slog.Logger
	Keys      *fernet.Repository
	Revoked   *auth.RevocationList
	Bus       *bus.Bus // optional: revocations and changes are also published for other processes
	Policy    *policy.Enforcer
	PublicURL string
	// CheckResponses validates every answer against its route's response schema,
	// logging a violation (httpapi.ResponseViolation); tests turn it on.
	CheckResponses bool
}

// New runs the identity migrations and loads the revocation list.
func New(ctx context.Context, o Options) (*Service, error) {
	if err := o.DB.Migrate(ctx, "identity", Migrations()); err != nil {
		return nil, err
	}
	if err := o.Policy.Register(defaultPolicies); err != nil {
		return nil, err
	}
	if err := o.Policy.SetScopeTypes(policyScopeTypes); err != nil {
		return nil, err
	}
	codec := auth.Codec{Keys: o.Keys}
	s := &Service{
		db: o.DB, cfg: o.Config, log: o.Logger, keys: o.Keys, codec: codec,
		revoked: o.Revoked, valid: auth.NewValidator(codec, o.Revoked), bus: o.Bus,
		policy: o.Policy, now: time.Now, publicURL: o.PublicURL, checkResponses: o.CheckResponses,
		rendered: map[renderKey]renderedToken{}, instance: newID(),
	}
	if err := s.loadRevocations(ctx); err != nil {
		return nil, err
	}
	if err := s.followChanges(); err != nil {
		return nil, err
	}
	s.prepareDummyHash()
	return s, nil
}

// Validator is the local token validator other in-process services share.
func (s *Service) Validator() *auth.Validator { return s.valid }

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler {
	srv := httpapi.NewServer(httpapi.Options{
		Service: "identity",
		Logger:  s.log,
		// Keystone's request_body_schema decorator validates before the method
		// body, where the policy is enforced.
		ValidateBeforePolicy: true,
		InvalidRequest:       invalidRequest,
		Auth:                 callerAuthenticator{s.valid},
		Policy:               s.policy,
		ErrorBody:            errorBody,
		OnUnauthorized: func(e *httpapi.Error) {
			if e.Header == nil {
				e.Header = http.Header{}
			}
			e.Header.Set("WWW-Authenticate", fmt.Sprintf(`Keystone uri="%s"`, s.publicURL))
		},
		// api.check_responses: the end-to-end tests' conformance check
		CheckResponses: s.checkResponses,
	})
	srv.Mount(s.routes())
	return srv
}

// routes is every endpoint of the identity API, one group per resource.
func (s *Service) routes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.discoveryRoutes(),
		s.authRoutes(),
		s.domainRoutes(),
		s.domainConfigRoutes(),
		s.projectRoutes(),
		s.userRoutes(),
		s.groupRoutes(),
		s.roleRoutes(),
		s.assignmentRoutes(),
		s.catalogRoutes(),
		s.applicationCredentialRoutes(),
		s.credentialRoutes(),
		s.extensionRoutes(),
	} {
		all = append(all, group...)
	}
	for i := range all {
		all[i] = withPathParams(all[i])
	}
	return all
}

// withPathParams gives a route's rule the path's parameters (user_id,
// project_id, ...) besides the route's own target, as keystone's RBAC enforcer
// puts the request's view arguments under every target: "owner" is
// user_id:%(user_id)s.
func withPathParams(rt httpapi.Route) httpapi.Route {
	var names []string
	for _, seg := range strings.Split(rt.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok && !strings.HasPrefix(name, "$") {
			names = append(names, strings.TrimSuffix(name, "}"))
		}
	}
	if rt.Policy == "" || len(names) == 0 {
		return rt
	}
	own := rt.Target
	rt.Target = func(r *http.Request) (map[string]any, error) {
		t := make(map[string]any, len(names))
		for _, name := range names {
			t[name] = pathParam(r, name)
		}
		if own != nil {
			more, err := own(r)
			if err != nil {
				return nil, err
			}
			maps.Copy(t, more)
		}
		return t, nil
	}
	return rt
}

// callerAuthenticator validates the tokens callers of the identity API present.
// As keystone's auth context middleware, it refuses the tokens of EC2 logins:
// they serve the services an EC2 or S3 front end calls, never identity itself,
// where they would mint lasting credentials.
type callerAuthenticator struct{ valid *auth.Validator }

func (a callerAuthenticator) Authenticate(ctx context.Context, token string) (*auth.Credentials, error) {
	creds, err := a.valid.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if slices.Contains(creds.Methods, "ec2credential") {
		return nil, httpapi.Forbidden("EC2 credential tokens cannot be used for authorization.")
	}
	return creds, nil
}

// changedSubject carries notes of identity writes to the identity services of the
// other processes on the same database: what they derived from it (token bodies
// they rendered) must be rebuilt, and they see only their own writes.
const changedSubject = "identity.changed"

// changed marks the database as written, after the write committed, so that
// derived caches are rebuilt here and in the other processes.
func (s *Service) changed() {
	s.generation.Add(1)
	if s.bus != nil {
		if err := s.bus.Publish(changedSubject, s.instance); err != nil {
			s.log.Warn("publish identity change", "error", err)
		}
	}
}

// followChanges counts the writes the other identity services note on the bus,
// for as long as the bus connection lasts.
func (s *Service) followChanges() error {
	if s.bus == nil {
		return nil
	}
	if _, err := s.bus.Subscribe(changedSubject, func(data []byte) {
		var from string
		if json.Unmarshal(data, &from) == nil && from != s.instance {
			s.generation.Add(1)
		}
	}); err != nil {
		return fmt.Errorf("follow identity changes: %w", err)
	}
	return nil
}

// errorBody renders Keystone's error document.
// invalidRequest is Keystone's 400 for a body its schema refuses
// (keystone/api/validation/validators.py): the last element of the path, the
// offending value as Python prints it, jsonschema's message.
func invalidRequest(e *jsonschema.Error) *httpapi.Error {
	if e.Keyword == "json" || len(e.Path) == 0 {
		return httpapi.BadRequest("%s", e.Message)
	}
	value := jsonschema.Repr(e.Value)
	if str, ok := e.Value.(string); ok {
		value = str
	}
	return httpapi.BadRequest("Invalid input for field/attribute %v. Value: %s. %s", e.Path[len(e.Path)-1], value, e.Message)
}

// lazyValidation is the route option of the bodies Keystone's methods check
// with lazy_validate, after their policy check, on the part of the body they
// read (the auth, consumer, roles, policy, tags or user member): its message
// names the field inside that part, with "/" between the steps.
func lazyValidation(part string) func(*jsonschema.Error) *httpapi.Error {
	return func(e *jsonschema.Error) *httpapi.Error {
		inner := &jsonschema.Error{Path: e.Path}
		if len(inner.Path) > 0 && inner.Path[0] == part {
			inner.Path = inner.Path[1:]
		}
		if e.Keyword == "json" || len(inner.Path) == 0 {
			return httpapi.BadRequest("%s", e.Message)
		}
		return httpapi.BadRequest("Invalid input for field '%s': %s", inner.PathString(), e.Message)
	}
}

func errorBody(e *httpapi.Error) any {
	return map[string]any{"error": map[string]any{"code": e.Status, "message": e.Message, "title": e.Title()}}
}
