package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

func serveCommand() *cobra.Command {
	var (
		common    commonFlags
		roles     []string
		natsURL   string
		dbURL     string
		ephemeral bool
		ringDir   string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Join another host or API process to a cloud, in the foreground",
		Long: `Run this host's agents for a cloud started elsewhere with nimbus up: with --role
compute the L2 agent (Linux bridges, VXLAN tunnels) and the security groups of the
ports bound to this host; with --role network also DHCP and routers. The host works
from the cloud's desired state over its bus: use the join.toml that nimbus up wrote
into its data directory as --config, and give the host its own [network] host and
local_ip (NIMBUS_NETWORK_HOST, NIMBUS_NETWORK_LOCAL_IP).

With --role api, serve the cloud's APIs (identity, image, network, compute) and run
a second conductor, in a process beside nimbus up on the cloud's PostgreSQL
database: use the api.toml that nimbus up wrote into its data directory as --config
(it names the database, the bus and the data directory this process shares).

With --role storage, run an object-storage node: the object, container and account
servers over the devices in DATA_DIR/objectstore/devices (one directory each), on
[object_store] object_port, container_port and account_port, hashing names with the
cluster's hash_path_suffix. Add its devices to the cluster's rings with nimbus ring
add; the proxies find it there.

With --role proxy, run an object-store proxy beside the cloud's: the cluster's rings
(DATA_DIR/objectstore/rings, or --ring-dir), identity's tokens opened with the cloud's
Fernet keys (DATA_DIR/fernet-keys) and its revocations followed on the bus (use the
join.toml of nimbus up as --config), and tempauth's users ([object_store]
tempauth_users) with the cluster's key (DATA_DIR/objectstore/tempauth_fernet_key).

With --role volume, run a storage host's volume manager (cinder-volume) for the
[[volume.backends]] of --config, as host@backend ([volume] host, else [network]
host): it heartbeats into the cloud's PostgreSQL database (--db) and answers the
API's export calls over the bus; give each file backend the export_host compute
hosts reach it at.`,
		Example: `  nimbus serve --role compute --config /var/lib/nimbus/join.toml --data-dir /var/lib/nimbus-node
  nimbus serve --role api --config /var/lib/nimbus/api.toml --ephemeral-ports
  NIMBUS_OBJECT_STORE_HASH_PATH_SUFFIX=$(cat /var/lib/nimbus/objectstore/hash_path_suffix) \
    nimbus serve --role storage --data-dir /srv/nimbus-storage1
  nimbus serve --role proxy --config /var/lib/nimbus/join.toml --data-dir /var/lib/nimbus --ephemeral-ports
  nimbus serve --role volume --config volume-host.toml --db postgres://... --data-dir /srv/nimbus-volumes`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
			}
			if natsURL != "" {
				cfg.Bus.URL = natsURL
			}
			if dbURL != "" {
				cfg.Database.URL = dbURL
			}
			if cmd.Flags().Changed("ephemeral-ports") {
				cfg.API.EphemeralPorts = ephemeral
			}
			log, closeLog, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer closeLog()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if slices.Contains(roles, roleStorage) {
				if len(roles) > 1 {
					return fmt.Errorf("roles %s: the storage role runs alone", strings.Join(roles, ","))
				}
				return serveStorage(ctx, cfg, log)
			}
			if slices.Contains(roles, roleProxy) {
				if len(roles) > 1 {
					return fmt.Errorf("roles %s: the proxy role runs alone", strings.Join(roles, ","))
				}
				return serveProxy(ctx, cfg, ringDir, log)
			}
			if slices.Contains(roles, cloud.RoleVolume) {
				if len(roles) > 1 {
					return fmt.Errorf("roles %s: the volume role runs alone", strings.Join(roles, ","))
				}
				return serveVolume(ctx, cfg, log)
			}
			if slices.Contains(roles, cloud.RoleAPI) {
				if len(roles) > 1 {
					return fmt.Errorf("roles %s: the api role runs alone (agents run in nimbus up and on joined hosts)",
						strings.Join(roles, ","))
				}
				return serveAPI(ctx, cfg, log)
			}
			n, err := cloud.StartNode(ctx, cfg, roles, log)
			if err != nil {
				return err
			}
			fmt.Printf("nimbus node ready host=%s roles=%s\n", n.Host, strings.Join(roles, ","))
			err = n.Serve(ctx)
			log.Info("nimbus node stopped")
			return err
		},
	}
	common.register(cmd)
	cmd.Flags().StringSliceVar(&roles, "role", []string{cloud.RoleCompute}, "roles of this host: compute, network (comma-separated), or api, storage, proxy or volume alone")
	cmd.Flags().StringVar(&ringDir, "ring-dir", "", "with --role proxy: the cluster's rings (default: DATA_DIR/objectstore/rings)")
	cmd.Flags().StringVar(&natsURL, "nats", "", "the cloud's bus URL with its token (default: [bus] url of --config)")
	cmd.Flags().StringVar(&dbURL, "db", "", "with --role api or volume: the cloud's PostgreSQL database (default: [database] url of --config)")
	cmd.Flags().BoolVar(&ephemeral, "ephemeral-ports", false, "with --role api, storage or proxy: listen on free loopback ports instead of upstream's defaults")
	return cmd
}

// serveAPI runs the api role until ctx ends.
func serveAPI(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	start := time.Now()
	c, err := cloud.StartAPI(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Println(readyLine("nimbus api ready", c.Endpoints(), "data-dir="+cfg.DataDir,
		fmt.Sprintf("startup=%dms", time.Since(start).Milliseconds())))
	log.Info("nimbus api ready", "identity", c.IdentityURL)
	err = c.Serve(ctx)
	log.Info("nimbus api stopped")
	return err
}

// serveVolume runs the volume role until ctx ends.
func serveVolume(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	h, err := cloud.StartVolumeHost(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Printf("nimbus volume host ready host=%s backends=%s\n", h.Host, strings.Join(h.Backends, ","))
	err = h.Serve(ctx)
	log.Info("nimbus volume host stopped")
	return err
}
