package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/volume"
)

// RoleVolume runs a storage host's volume manager (nimbus serve --role volume).
const RoleVolume = "volume"

// errVolumeHostNeedsPostgreSQL is why the volume role refuses SQLite.
var errVolumeHostNeedsPostgreSQL = errors.New("nimbus serve --role volume writes the cloud's database from a process " +
	"on another host (as upstream's cinder-volume), and SQLite has one writing process on one host: start the cloud " +
	"on PostgreSQL (nimbus up --db postgres://...) and give this process its URL (--db or [database] url)")

// VolumeHost is a storage host's cinder-volume: the volume manager of the
// backends of its configuration ([[volume.backends]]), reported as
// host@backend in the cloud's database, as upstream's, which its heartbeat
// and its passes read and write directly. The API reaches it over the bus
// for exports (volume.ServeManager); it keeps nothing in memory that a
// restart could lose: its backends' exports outlive it, and its first pass
// converges them to the attachments.
type VolumeHost struct {
	log     *slog.Logger
	db      *db.DB
	bus     *bus.Bus
	manager *volume.Manager
	// Host is the host of host@backend; Backends are their names.
	Host     string
	Backends []string
}

// StartVolumeHost joins the cloud at cfg.Database.URL and cfg.Bus.URL as a
// volume host.
func StartVolumeHost(ctx context.Context, cfg config.Config, log *slog.Logger) (*VolumeHost, error) {
	if cfg.Database.URL == "" || strings.HasPrefix(cfg.Database.URL, "sqlite://") {
		return nil, errVolumeHostNeedsPostgreSQL
	}
	if cfg.Bus.URL == "" {
		return nil, errors.New("nimbus serve --role volume joins the cloud's bus: set [bus] url (the cloud's join.toml has it)")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	h := &VolumeHost{log: log}
	ok := false
	defer func() {
		if !ok {
			h.close()
		}
	}()
	var err error
	if h.db, err = db.Open(ctx, cfg.Database.URL, cfg.DataDir); err != nil {
		return nil, err
	}
	h.db.SetMaxConnections(cfg.Database.MaxConnections)
	if h.db.Dialect != db.Postgres {
		return nil, errVolumeHostNeedsPostgreSQL
	}
	// the schema is the API's to migrate: a volume host only uses it
	if applied, err := h.db.MigrationsApplied(ctx, "volume"); err != nil {
		return nil, err
	} else if applied == 0 {
		return nil, fmt.Errorf("the database %s holds no block storage service: start nimbus up on it first", h.db.Redacted)
	}
	if h.bus, err = bus.Start(bus.Options{URL: cfg.Bus.URL, Log: log}); err != nil {
		return nil, err
	}
	c := &Cloud{cfg: cfg, log: log}
	if h.Host, err = volumeHostName(cfg); err != nil {
		return nil, err
	}
	backends, err := c.volumeBackends()
	if err != nil {
		return nil, err
	}
	for _, b := range backends {
		h.Backends = append(h.Backends, b.Name())
	}
	// the image service and compute's events with the API's service token
	services := &volume.ServiceClient{Access: volume.BusServiceAccess(h.bus)}
	h.manager = volume.NewManager(volume.ManagerOptions{DB: h.db, Logger: log, Host: h.Host,
		AvailabilityZone: cfg.Volume.AvailabilityZone, Backends: backends, Interval: cfg.Volume.ReportInterval.Duration,
		Images: services, Compute: services, ScratchDir: filepath.Join(cfg.DataDir, "volumes", "scratch")})
	// heartbeat and converge the exports a crash left before serving calls
	if err := h.manager.Pass(ctx); err != nil {
		log.Warn("volume manager's first pass", "error", err)
	}
	if err := volume.ServeManager(h.bus, h.manager); err != nil {
		return nil, err
	}
	log.Info("volume host joined the cloud", "host", h.Host, "backends", h.Backends, "database", h.db.Redacted,
		"bus", h.bus.Redacted())
	ok = true
	return h, nil
}

// Serve runs the manager until ctx ends.
func (h *VolumeHost) Serve(ctx context.Context) error {
	defer h.close()
	h.manager.Run(ctx)
	return nil
}

func (h *VolumeHost) close() {
	if h.bus != nil {
		h.bus.Close()
	}
	if h.db != nil {
		_ = h.db.Close()
	}
}

// volumeHostName is the host of this process's host@backend: [volume] host,
// else [network] host, else the machine's name.
func volumeHostName(cfg config.Config) (string, error) {
	for _, h := range []string{cfg.Volume.Host, cfg.Network.Host} {
		if h != "" {
			return h, nil
		}
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("volume.host: %w", err)
	}
	return h, nil
}
