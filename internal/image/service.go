// Package image is Nimbus's Glance v2: image records, sharing, schemas and the image
// data itself, streamed to a store (the filesystem by default) and hashed on the way.
package image

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the image service's schema migrations.
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
	DataDir   string // the filesystem store lives in DataDir/images
	Store     Store  // optional: overrides the filesystem store
	PublicURL string

	// SizeCap is the largest image accepted (upstream image_size_cap, 1 TiB).
	SizeCap int64
	// QuotaImages and QuotaBytes limit each project (upstream image_count_total
	// and image_size_total); zero or negative means unlimited.
	QuotaImages int
	QuotaBytes  int64
	// WebDownloadAllowed lists URL prefixes web-download may fetch; empty disables it.
	WebDownloadAllowed []string
	// CheckResponses validates each response against its route's response schema
	// (httpapi.Options.CheckResponses).
	CheckResponses bool
}

// Service is the image API.
type Service struct {
	db      *db.DB
	log     *slog.Logger
	auth    *auth.Validator
	policy  *policy.Enforcer
	store   Store
	staging Store
	opts    Options
	now     func() time.Time
}

const defaultSizeCap = 1 << 40

// New runs the image migrations and recovers uploads a crash interrupted.
func New(ctx context.Context, o Options) (*Service, error) {
	if err := o.DB.Migrate(ctx, "image", Migrations()); err != nil {
		return nil, err
	}
	if err := o.Policy.Register(defaultPolicies); err != nil {
		return nil, err
	}
	if err := o.Policy.SetScopeTypes(scopeTypes()); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SizeCap <= 0 {
		o.SizeCap = defaultSizeCap
	}
	s := &Service{db: o.DB, log: o.Logger, auth: o.Auth, policy: o.Policy, store: o.Store, opts: o, now: time.Now}
	var err error
	if s.store == nil {
		if s.store, err = NewFileStore(filepath.Join(o.DataDir, "images")); err != nil {
			return nil, err
		}
	}
	if s.staging, err = NewFileStore(filepath.Join(o.DataDir, "images-staging")); err != nil {
		return nil, err
	}
	if err := s.recover(ctx); err != nil {
		return nil, err
	}
	if err := s.loadStandardMetadefs(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the HTTP API.
func (s *Service) Handler() http.Handler {
	srv := httpapi.NewServer(httpapi.Options{
		Service:   "image",
		Logger:    s.log,
		Auth:      s.auth,
		Policy:    s.policy,
		ErrorBody: errorBody,
		// image data streams through; JSON bodies are capped by decodeJSON
		MaxBodyBytes: s.opts.SizeCap + 1,

		// api.check_responses: the end-to-end tests' conformance check
		CheckResponses: s.opts.CheckResponses,
	})
	srv.Mount(s.routes())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &streamWriter{ResponseWriter: w}
		srv.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), streamKey{}, sw)))
	})
}

// routes is every endpoint of the image API, one group per resource.
func (s *Service) routes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.discoveryRoutes(),
		s.imageRoutes(),
		s.dataRoutes(),
		s.memberRoutes(),
		s.taskRoutes(),
		s.imageTaskRoutes(),
		s.metadefRoutes(),
	} {
		all = append(all, group...)
	}
	return all
}

// errorBody renders Glance's error document. Upstream answers webob's plain text; the
// clients (openstacksdk, gophercloud) only read the status and show the message.
func errorBody(e *httpapi.Error) any {
	return map[string]any{"code": e.Status, "title": e.Title(), "message": e.Message,
		"error": map[string]any{"code": e.Status, "message": e.Message, "title": e.Title()}}
}

// streamWriter lets the data handlers stream a body the router's Response cannot
// hold; once they have, the router's own status write is ignored.
type streamWriter struct {
	http.ResponseWriter
	streamed bool
}

type streamKey struct{}

func (w *streamWriter) WriteHeader(code int) {
	if !w.streamed {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *streamWriter) Write(b []byte) (int, error) { return w.ResponseWriter.Write(b) }

// stream writes status, headers and body straight to the client.
func stream(r *http.Request, status int, h http.Header, body io.Reader) error {
	sw, _ := r.Context().Value(streamKey{}).(*streamWriter)
	if sw == nil {
		return fmt.Errorf("no stream writer")
	}
	for k, vs := range h {
		sw.Header()[k] = vs
	}
	sw.ResponseWriter.WriteHeader(status)
	sw.streamed = true
	if body != nil && r.Method != http.MethodHead {
		if _, err := io.Copy(sw.ResponseWriter, body); err != nil {
			slog.Debug("image download cut off", "error", err)
		}
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
