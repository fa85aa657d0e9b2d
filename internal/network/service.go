// Package network is Nimbus's Neutron v2.0: networks, subnets and ports with IPAM,
// ML2-style type drivers (local, flat, vlan, vxlan) allocating segments, security
// groups, routers and floating IPs, quotas and agents. The API writes the desired
// state; the agents of internal/network/dataplane make the hosts match it.
package network

import (
	"bytes"
	"context"
	"embed"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the network service's schema migrations.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Options are what the service needs from its host process.
type Options struct {
	DB        *db.DB
	Logger    *slog.Logger
	Auth      *auth.Validator
	Policy    *policy.Enforcer
	PublicURL string
	Segments  SegmentConfig
	// GlobalMTU is the underlying network's MTU (upstream global_physnet_mtu); VXLAN
	// networks get it minus the 50-byte overhead.
	GlobalMTU int
	// DNSDomain is the domain of ports' DNS names (upstream dns_domain).
	DNSDomain string
	// Quotas are the default per-project limits; a negative value means unlimited.
	Quotas map[string]int
	// CheckResponses validates every answer against its route's response schema
	// (schemas_responses.go), logging httpapi.ResponseViolation on a mismatch.
	CheckResponses bool
}

// Service is the network API.
type Service struct {
	db     *db.DB
	log    *slog.Logger
	auth   *auth.Validator
	policy *policy.Enforcer
	opts   Options
	types  *typeDrivers
	now    func() time.Time
	newMAC func() string // randomMAC; tests make it collide
	// changed wakes the agents after a write; they read the whole state anyway, so
	// one pending signal stands for any number of changes.
	changed chan struct{}
	// notify are the other listeners to changes (the agents of other hosts, via the bus).
	notifyMu sync.Mutex
	notify   []func()
	// writers lines up each project's write transactions in this process.
	writers writeQueue
}

// New runs the migrations and registers upstream's default policies with their
// scope types.
func New(ctx context.Context, o Options) (*Service, error) {
	if err := o.DB.Migrate(ctx, "network", Migrations()); err != nil {
		return nil, err
	}
	if err := registerPolicies(o.Policy); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GlobalMTU <= 0 {
		o.GlobalMTU = 1500
	}
	if o.DNSDomain == "" {
		o.DNSDomain = "openstacklocal."
	}
	types, err := newTypeDrivers(o.Segments)
	if err != nil {
		return nil, err
	}
	quotas := map[string]int{}
	for k, v := range defaultQuotas {
		quotas[k] = v
	}
	for k, v := range o.Quotas {
		quotas[k] = v
	}
	o.Quotas = quotas
	s := &Service{db: o.DB, log: o.Logger, auth: o.Auth, policy: o.Policy, opts: o, types: types, now: time.Now, newMAC: randomMAC,
		changed: make(chan struct{}, 1)}
	if err := s.backfillFloatingIPs(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler {
	srv := httpapi.NewServer(httpapi.Options{
		Service:        "network",
		Logger:         s.log,
		Auth:           s.auth,
		Policy:         s.policy,
		ErrorBody:      errorBody,
		MaxBodyBytes:   1 << 20,
		CheckResponses: s.opts.CheckResponses,
	})
	srv.Mount(s.routes())
	return srv.Front(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		switch {
		case r.Method == http.MethodPost && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 1:
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if s.bulkCreate(srv, sw, r, body) {
				break
			}
			srv.ServeHTTP(sw, r)
		case r.Method == http.MethodPut || r.Method == http.MethodDelete:
			var ok bool
			if r, ok = s.checkRevision(srv, sw, r); ok {
				srv.ServeHTTP(sw, r)
			}
		default:
			srv.ServeHTTP(sw, r)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && sw.status < 400 {
			s.Changed()
		}
	}))
}

// Changed tells the agents the desired state may have changed.
func (s *Service) Changed() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
	s.notifyMu.Lock()
	notify := s.notify
	s.notifyMu.Unlock()
	for _, fn := range notify {
		fn()
	}
}

func (s *Service) onChange(fn func()) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.notify = append(s.notify, fn)
}

// Changes delivers a signal after writes (coalesced), for the agents of this process.
func (s *Service) Changes() <-chan struct{} { return s.changed }

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// routes is every endpoint of the network API, one group per resource.
func (s *Service) routes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.discoveryRoutes(),
		s.networkRoutes(),
		s.subnetRoutes(),
		s.portRoutes(),
		s.portBindingRoutes(),
		s.securityGroupRoutes(),
		s.quotaRoutes(),
		s.routerRoutes(),
		s.floatingIPRoutes(),
		s.availabilityRoutes(),
		s.agentRoutes(),
		s.tagRoutes(),
		s.addressScopeRoutes(),
		s.subnetPoolRoutes(),
		s.addressGroupRoutes(),
		s.trunkRoutes(),
	} {
		all = append(all, group...)
	}
	return withResponseSchemas(all)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
