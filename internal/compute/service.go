// Package compute is Nimbus's Nova v2.1: flavors, key pairs and servers with their
// lifecycle actions, the conductor that schedules and tracks them, and the RPC the
// compute agents (internal/compute/agent) use to converge their hosts. The API
// writes the desired state (vm_state, task_state, host); agents make the
// hypervisor match it and report what they observe.
package compute

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/compute/scheduler"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the compute service's schema migrations.
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
	// Host names the host the conductor runs on, for its os-services rows
	// (empty: the machine's host name).
	Host string
	// Images and Network are the image and network services as compute uses them.
	Images  Images
	Network Network
	// Volumes is the volume service (nil: none, as a cloud without Cinder).
	Volumes VolumeAPI
	// DefaultAvailabilityZone is upstream's default_availability_zone ("nova").
	DefaultAvailabilityZone string
	// Quotas are the default per-project limits (instances, cores, ram,
	// key_pairs, ...); a negative value means unlimited.
	Quotas map[string]int
	// ServiceDownTime is how long a compute service may be silent and still count
	// as up (upstream service_down_time, 60 s).
	ServiceDownTime time.Duration
	// Consoles serves remote consoles (nil: none, os-getVNCConsole is 400).
	Consoles Consoles
	// Scheduler tunes placement (zero: the reference's filters and ratios).
	Scheduler scheduler.Config
	// MaxAttempts is how many hosts a build tries before ERROR (upstream
	// max_attempts, 3).
	MaxAttempts int
	// CheckResponses validates every answer against its route's response
	// schema (Tempest's and Nova's), logging a violation (httpapi.ResponseViolation).
	CheckResponses bool
	// ShelvedOffloadTime is upstream's shelved_offload_time in seconds: 0
	// offloads a shelved server at once, a negative value never.
	ShelvedOffloadTime int
}

// Service is the compute API and conductor.
type Service struct {
	db     *db.DB
	log    *slog.Logger
	auth   *auth.Validator
	policy *policy.Enforcer
	opts   Options
	now    func() time.Time

	// hosts reaches the agents for the calls the API waits on.
	hosts HostCalls
	// work wakes the conductor after a write; notify are the agents' nudges.
	work     chan struct{}
	notifyMu sync.Mutex
	notify   []func(host string)
}

// New runs the migrations and registers upstream's default policies with
// their scope types.
func New(ctx context.Context, o Options) (*Service, error) {
	if err := o.DB.Migrate(ctx, "compute", Migrations()); err != nil {
		return nil, err
	}
	if err := o.Policy.Register(defaultPolicies); err != nil {
		return nil, err
	}
	if err := o.Policy.SetScopeTypes(policyScopes()); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("compute host: %w", err)
		}
		o.Host = h
	}
	if o.DefaultAvailabilityZone == "" {
		o.DefaultAvailabilityZone = "nova"
	}
	if o.ServiceDownTime <= 0 {
		o.ServiceDownTime = 60 * time.Second
	}
	quotas := map[string]int{}
	for k, v := range defaultQuotas {
		quotas[k] = v
	}
	for k, v := range o.Quotas {
		quotas[k] = v
	}
	o.Quotas = quotas
	if o.Scheduler.EnabledFilters == nil {
		o.Scheduler = scheduler.DefaultConfig()
	}
	o.Scheduler.DefaultAvailabilityZone = o.DefaultAvailabilityZone
	if err := o.Scheduler.Validate(); err != nil {
		return nil, err
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	s := &Service{db: o.DB, log: o.Logger, auth: o.Auth, policy: o.Policy, opts: o, now: time.Now,
		work: make(chan struct{}, 1)}
	if err := s.claimPlaced(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler {
	srv := httpapi.NewServer(httpapi.Options{
		Service:      "compute",
		Logger:       s.log,
		Auth:         s.auth,
		Policy:       s.policy,
		ErrorBody:    errorBody,
		PolicyError:  policyError,
		MaxBodyBytes: 1 << 20,
		// As Nova: the microversion is negotiated first, the body validated
		// against its schema before the policy is checked.
		Negotiate:            microversions.Negotiate,
		ValidateBeforePolicy: true,
		InvalidRequest:       invalidRequest,
		// api.check_responses: the end-to-end tests' conformance check
		CheckResponses: s.opts.CheckResponses,
		// nova/api/compute_req_id.py: the id under Nova's own name too
		CompatRequestIDHeaders: []string{"X-Compute-Request-Id"},
	})
	routes, err := withNovaSchemas(s.routes())
	if err != nil {
		panic(err) // the embedded schemas are the binary's own data: a test catches this
	}
	srv.Mount(routes)
	return echoVersion(srv)
}

// routes is every endpoint of the compute API, one group per resource.
func (s *Service) routes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.discoveryRoutes(),
		s.extensionRoutes(),
		s.flavorRoutes(),
		s.keypairRoutes(),
		s.serverRoutes(),
		s.serverActionRoutes(),
		s.serverDiagnosticsRoutes(),
		s.serverTagRoutes(),
		s.serviceRoutes(),
		s.availabilityZoneRoutes(),
		s.hypervisorRoutes(),
		s.limitRoutes(),
		s.quotaSetRoutes(),
		s.tenantUsageRoutes(),
		s.serverMetadataRoutes(),
		s.serverAddressRoutes(),
		s.instanceActionRoutes(),
		s.aggregateRoutes(),
		s.serverGroupRoutes(),
		s.securityGroupRoutes(),
		s.serverPasswordRoutes(),
		s.serverExternalEventRoutes(),
		s.usageAuditLogRoutes(),
		s.hostRoutes(),
		s.imageProxyRoutes(),
		s.networkProxyRoutes(),
		s.volumeAttachmentRoutes(),
	} {
		all = append(all, group...)
	}
	return all
}

// kick wakes the conductor and tells host's agent (all agents when host is
// empty) that its desired state may have changed.
func (s *Service) kick(host string) {
	select {
	case s.work <- struct{}{}:
	default:
	}
	s.notifyMu.Lock()
	notify := s.notify
	s.notifyMu.Unlock()
	for _, fn := range notify {
		fn(host)
	}
}

// OnHostChange registers fn to be told when a host's desired state changed ("" =
// any host), for the agents of this process and, over the bus, of others.
func (s *Service) OnHostChange(fn func(host string)) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.notify = append(s.notify, fn)
}

func newUUID() string { return uuid.NewString() }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// stampMicro is Nova's timestamp with microseconds (os-instance-actions, faults).
func stampMicro(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }
