package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
)

// RoleAPI serves a cloud's APIs from another process (nimbus serve --role api).
const RoleAPI = "api"

// errAPINeedsPostgreSQL is why the api role refuses SQLite.
var errAPINeedsPostgreSQL = errors.New("nimbus serve --role api serves the cloud's database from a second process, " +
	"and SQLite has one writing process: start the cloud on PostgreSQL (nimbus up --db postgres://...) " +
	"and give this process the api.toml it writes")

// StartAPI starts the APIs of a cloud that nimbus up bootstrapped and runs, in a
// process of their own on the same PostgreSQL database and bus: identity, image,
// network and compute (with the metadata API and the console proxy), and a second
// conductor. It bootstraps nothing, registers nothing and writes no client file:
// it shares the cloud's data directory, whose Fernet keys seal and open the same
// tokens, whose secrets give its compute service the cloud's service credentials,
// and whose image store holds the same image data. Each service's writes hold
// their invariants across processes by the database's serializable transactions;
// what each process keeps in memory (revocations, agents' nudges) travels on the
// bus.
func StartAPI(ctx context.Context, cfg config.Config, log *slog.Logger) (*Cloud, error) {
	if cfg.Database.URL == "" || strings.HasPrefix(cfg.Database.URL, "sqlite://") {
		return nil, errAPINeedsPostgreSQL
	}
	if cfg.Bus.URL == "" {
		return nil, errors.New("nimbus serve --role api joins the cloud's bus: set [bus] url (the cloud's api.toml has it)")
	}
	c := &Cloud{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	// What the cloud's data directory must hold, read first: a wrong directory
	// is the likeliest mistake, and nothing below may create it instead.
	secrets, err := readSecrets(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	keyDir := filepath.Join(cfg.DataDir, "fernet-keys")
	if entries, err := os.ReadDir(keyDir); err != nil || len(entries) == 0 {
		return nil, fmt.Errorf("no Fernet keys in %s (%v): the api role seals and opens tokens with the cloud's keys, "+
			"in the data directory of its nimbus up", keyDir, err)
	}
	if c.db, err = db.Open(ctx, cfg.Database.URL, cfg.DataDir); err != nil {
		return nil, err
	}
	c.db.SetMaxConnections(cfg.Database.MaxConnections)
	if c.db.Dialect != db.Postgres {
		return nil, errAPINeedsPostgreSQL
	}
	if applied, err := c.db.MigrationsApplied(ctx, "identity"); err != nil {
		return nil, err
	} else if applied == 0 {
		return nil, fmt.Errorf("the database %s holds no cloud: start nimbus up on it first", c.db.Redacted)
	}
	if c.bus, err = bus.Start(bus.Options{URL: cfg.Bus.URL, Log: log}); err != nil {
		return nil, err
	}
	if c.keys, err = fernet.OpenRepository(keyDir, cfg.Identity.MaxActiveKeys); err != nil {
		return nil, err
	}
	if err := c.startIdentity(ctx); err != nil {
		return nil, err
	}
	imageURL, err := c.startImage(ctx)
	if err != nil {
		return nil, err
	}
	networkURL, err := c.startNetwork(ctx)
	if err != nil {
		return nil, err
	}
	// The data directory is this cloud's: its admin logs in here.
	if err := c.inProcess().login(ctx, secrets.Admin); err != nil {
		return nil, fmt.Errorf("the admin of the data directory %s cannot log in to the cloud of %s: %w",
			cfg.DataDir, c.db.Redacted, err)
	}
	sockets, err := c.listenCompute()
	if err != nil {
		return nil, err
	}
	metadataSecret := cfg.Network.MetadataSecret
	if metadataSecret == "" {
		metadataSecret = secrets.MetadataProxy
	}
	if _, err := c.startComputeService(ctx, sockets, imageURL, networkURL, secrets.Admin, metadataSecret); err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	// No agent runs here: the API reaches every host's agent over the bus.
	c.compute.SetHostCalls(computeagent.BusHostCalls{Bus: c.bus})
	if err := c.listenMetrics(); err != nil {
		return nil, err
	}
	log.Info("serving the cloud's APIs", "database", c.db.Redacted, "bus", c.bus.Redacted(), "data_dir", cfg.DataDir)
	ok = true
	return c, nil
}
