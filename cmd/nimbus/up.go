package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// commonFlags are the flags every command that opens a deployment shares.
type commonFlags struct {
	configFile string
	dataDir    string
}

func (f *commonFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.configFile, "config", os.Getenv("NIMBUS_CONFIG"), "TOML configuration file")
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "state directory (default "+config.DefaultDataDir()+")")
}

func (f *commonFlags) load() (config.Config, error) {
	cfg, err := config.Load(f.configFile)
	if err != nil {
		return cfg, err
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	cfg.DataDir, err = filepath.Abs(cfg.DataDir)
	return cfg, err
}

func upCommand() *cobra.Command {
	var (
		common    commonFlags
		ephemeral bool
		dbURL     string
		natsURL   string
		hosts     int
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the all-in-one cloud in the foreground",
		Long: `Start every service in one process on an embedded SQLite database and an embedded
NATS server (or PostgreSQL and external NATS with --db and --nats). The first start
bootstraps the cloud and writes clouds.yaml, admin-openrc and demo-openrc into the
data directory; later starts reuse it.

With --compute-hosts N, also run N compute hosts on this machine (<host>-c1..cN):
each its own agent process (nimbus serve --role compute) with its own data
directory (DATA_DIR/hosts/cI), in its own network namespace joined to a shared
bridge, tenant networks crossing by VXLAN. A later start on the data directory
adopts them (DATA_DIR/up-state.json); SIGHUP restarts the agents that died.
nimbus down stops the cloud; nimbus down --purge removes all it made.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			cfg, err := common.load()
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("ephemeral-ports") {
				cfg.API.EphemeralPorts = ephemeral
			}
			if dbURL != "" {
				cfg.Database.URL = dbURL
			}
			if natsURL != "" {
				cfg.Bus.URL = natsURL
			}
			log, closeLog, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer closeLog()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			removePID, err := writePIDFile(cfg.DataDir)
			if err != nil {
				return err
			}
			defer removePID()
			layout, err := cloud.PrepareHosts(ctx, &cfg, hosts, log)
			if err != nil {
				return err
			}
			c, err := cloud.Start(ctx, cfg, log)
			if err != nil {
				return err
			}
			agents, err := startHostAgents(ctx, cfg, layout, log)
			if err != nil {
				return err
			}
			fmt.Println(readyLine("nimbus ready", c.Endpoints(), "data-dir="+cfg.DataDir,
				fmt.Sprintf("startup=%dms", time.Since(start).Milliseconds())))
			fmt.Printf("Use it: export OS_CLIENT_CONFIG_FILE=%s; openstack --os-cloud nimbus-admin token issue\n",
				filepath.Join(cfg.DataDir, "clouds.yaml"))
			log.Info("nimbus ready", "data_dir", cfg.DataDir, "identity", c.IdentityURL)
			err = c.Serve(agents.stopFirst(ctx))
			agents.stop()
			log.Info("nimbus stopped")
			return err
		},
	}
	common.register(cmd)
	cmd.Flags().BoolVar(&ephemeral, "ephemeral-ports", false, "listen on free loopback ports instead of upstream's defaults")
	cmd.Flags().StringVar(&dbURL, "db", "", "database URL: sqlite://PATH or postgres://... (default: SQLite in the data dir)")
	cmd.Flags().StringVar(&natsURL, "nats", "", "external NATS URL (default: embedded server)")
	cmd.Flags().IntVar(&hosts, "compute-hosts", 0, "also run N compute hosts on this machine, each in a network namespace of its own")
	return cmd
}

// readyLine is the line a process prints when it serves: prefix, then each API's
// URL by service name, in name order, then extra fields.
func readyLine(prefix string, endpoints map[string]string, extra ...string) string {
	names := make([]string, 0, len(endpoints))
	for name := range endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := []string{prefix}
	for _, name := range names {
		parts = append(parts, name+"="+endpoints[name])
	}
	return strings.Join(append(parts, extra...), " ")
}

// newLogger builds the process logger from the log section: text or JSON, stderr or a file.
func newLogger(cfg config.Config) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", cfg.Log.Level, err)
	}
	var out io.Writer = os.Stderr
	closeFn := func() {}
	if cfg.Log.File != "" {
		f, err := os.OpenFile(cfg.Log.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		out, closeFn = f, func() { _ = f.Close() }
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(h), closeFn, nil
}
