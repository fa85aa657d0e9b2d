package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
)

func serveCommand() *cobra.Command {
	var (
		common  commonFlags
		roles   []string
		natsURL string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Join another host to a cloud, in the foreground",
		Long: `Run this host's agents for a cloud started elsewhere with nimbus up: with --role
compute the L2 agent (Linux bridges, VXLAN tunnels) and the security groups of the
ports bound to this host; with --role network also DHCP and routers. The host works
from the cloud's desired state over its bus: use the join.toml that nimbus up wrote
into its data directory as --config, and give the host its own [network] host and
local_ip (NIMBUS_NETWORK_HOST, NIMBUS_NETWORK_LOCAL_IP).`,
		Example: `  nimbus serve --role compute --config /var/lib/nimbus/join.toml --data-dir /var/lib/nimbus-node`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
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
	cmd.Flags().StringSliceVar(&roles, "role", []string{cloud.RoleCompute}, "roles of this host: compute, network (comma-separated)")
	cmd.Flags().StringVar(&natsURL, "nats", "", "the cloud's bus URL with its token (default: [bus] url of --config)")
	return cmd
}
