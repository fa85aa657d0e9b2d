// Package volume is Nimbus's Cinder v3: volumes, volume types and their extra
// specs, attachments (the 3.27+ API and the older os-attach flow), quotas and
// limits, the scheduler that places a volume on a backend (host@backend#pool),
// and the volume manager that drives each backend level-triggered. Snapshots and
// backups live on the same tables (their routes are a group of their own).
package volume

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the volume service's schema migrations. Numbers 0001-0099 are
// the API core's; the snapshot and backup API adds its own from 0100, so
// branches never collide on a number.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// DefaultTypeName is upstream's default volume type, made by the first
// migration of a deployment (cinder/db/migrations: __DEFAULT__).
const DefaultTypeName = "__DEFAULT__"

// Options are what the service needs from its host process.
type Options struct {
	DB        *db.DB
	Logger    *slog.Logger
	Auth      *auth.Validator
	Policy    *policy.Enforcer
	PublicURL string

	// DefaultVolumeType is upstream's default_volume_type (empty: __DEFAULT__).
	DefaultVolumeType string
	// AvailabilityZone is upstream's storage_availability_zone, the zone of
	// volumes created without one ("nova").
	AvailabilityZone string
	// Quotas override the defaults of quota class "default" (upstream's
	// [DEFAULT] quota_volumes, quota_gigabytes, ...), keyed by resource.
	Quotas map[string]int
	// Images uploads volumes to the image service and reads images for
	// volumes created from them; nil answers such requests 400.
	Images Images
	// Connections exports volumes for attachments, synchronously, as
	// upstream's API calls the volume's manager over RPC; in an all-in-one
	// the in-process Manager.
	Connections Connections
	// Nudge, when set, wakes the volume managers after the API wrote a row
	// they drive (a create, delete, extend...).
	Nudge func()
	// CheckResponses validates each response against its route's response schema
	// (httpapi.Options.CheckResponses).
	CheckResponses bool
}

// Connections is the volume manager as the API calls it and waits for the
// answer (upstream's rpcapi call()s): host is the volume's host@backend#pool.
type Connections interface {
	InitializeConnection(ctx context.Context, host string, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error)
	TerminateConnection(ctx context.Context, host string, v backend.Volume, attachmentID string) error
}

var _ Connections = (*Manager)(nil)

// Service is the block storage API.
type Service struct {
	db     *db.DB
	log    *slog.Logger
	auth   *auth.Validator
	policy *policy.Enforcer
	opts   Options
	now    func() time.Time
}

// New runs the volume migrations, registers the policies and makes sure the
// default volume type exists.
func New(ctx context.Context, o Options) (*Service, error) {
	if err := o.DB.Migrate(ctx, "volume", Migrations()); err != nil {
		return nil, err
	}
	if err := o.Policy.Register(defaultPolicies); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DefaultVolumeType == "" {
		o.DefaultVolumeType = DefaultTypeName
	}
	if o.AvailabilityZone == "" {
		o.AvailabilityZone = "nova"
	}
	s := &Service{db: o.DB, log: o.Logger, auth: o.Auth, policy: o.Policy, opts: o, now: time.Now}
	if err := s.ensureDefaultType(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler {
	srv := httpapi.NewServer(httpapi.Options{
		Service:      "volume",
		Logger:       s.log,
		Auth:         s.auth,
		Policy:       s.policy,
		ErrorBody:    errorBody,
		PolicyError:  policyError,
		MaxBodyBytes: 1 << 20,
		Negotiate:    negotiate,
		// as Cinder's @validation.schema, before the handler checks the policy
		ValidateBeforePolicy: true,
		InvalidRequest:       invalidRequest,
		// the project id in the URL is cut off by stripProjectID: the server
		// routes the path as written after that
		URLForms:       &httpapi.URLForms{},
		CheckResponses: s.opts.CheckResponses,
	})
	srv.Mount(withResponses(s.routes()))
	return stripProjectID(echoVersion(srv))
}

// routes is every endpoint of the block storage API, one group per resource.
func (s *Service) routes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.discoveryRoutes(),
		s.volumeRoutes(),
		s.volumeActionRoutes(),
		s.volumeMetadataRoutes(),
		s.typeRoutes(),
		s.attachmentRoutes(),
		s.quotaRoutes(),
		s.limitRoutes(),
		s.extraRoutes(), // snapshots, backups, zones, services: added by their own files
	} {
		all = append(all, group...)
	}
	return all
}

// extraRouteGroups are route groups other files of the package register in
// init (snapshots and backups), so that adding them touches no shared line.
var extraRouteGroups []func(*Service) []httpapi.Route

func (s *Service) extraRoutes() []httpapi.Route {
	var all []httpapi.Route
	for _, g := range extraRouteGroups {
		all = append(all, g(s)...)
	}
	return all
}

// nudge wakes the volume managers.
func (s *Service) nudge() {
	if s.opts.Nudge != nil {
		s.opts.Nudge()
	}
}

func (s *Service) base() string { return strings.TrimSuffix(s.opts.PublicURL, "/") }

// stamp is upstream's timestamp in volume views: ISO 8601 with microseconds,
// no zone (oslo's datetime as the API renders it).
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

func dbTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
