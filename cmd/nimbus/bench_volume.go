package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/bench"
)

func benchVolumeCommand() *cobra.Command {
	var (
		cloud, cloudsYAML string
		start             bool
		o                 bench.VolumeOptions
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "volume",
		Short: "Measure block storage: volume create (blank, from image), snapshot, attach/detach and delete latencies",
		Long: `Measures the block-storage API (Cinder v3) of a cloud on this machine, each operation
timed from its request until the API shows its end state (the volume read every --poll):
  create blank → available        --volumes, one at a time, then --concurrency at once
  create from image → available   the same, from a raw image of --image-size the bench uploads
  snapshot create → available     --volumes snapshots of one volume
  attach / detach                 Nova's way (attachment create, update with a connector,
                                  complete → in-use; attachment delete → available) and the
                                  legacy way (os-reserve, os-initialize_connection, os-attach;
                                  os-begin_detaching, os-terminate_connection, os-detach),
                                  --volumes times each: the backend exports the volume
  snapshot delete, volume delete  → gone
and reports p50/p90/max of each. Everything it makes is deleted, also on error or Ctrl-C.
The attachments are not used by a guest (the compute QEMU bench attaches volumes to real
guests).

Credentials come from a cloud of clouds.yaml (--cloud, default nimbus-admin; the file is
--clouds-yaml, else $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack,
/etc/openstack). With --start it runs a throw-away cloud instead (this binary's "up" in a
new data dir under $TMPDIR, removed afterwards). Only loopback addresses are ever targeted.`,
		Example: `  nimbus bench volume --start
  nimbus up --data-dir /tmp/nimbus --ephemeral-ports &
  nimbus bench volume --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $!`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Volumes < 1 || o.Volumes > 1000 || o.Concurrency < 1 || o.Concurrency > 64 || o.ImageSize < 1 {
				return fmt.Errorf("--volumes must be 1..1000, --concurrency 1..64, --image-size positive")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			if start {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				progress("starting a throw-away cloud in " + os.TempDir())
				c, err := bench.StartCloud(ctx, exe, os.TempDir(), "NIMBUS_IMAGE_GUEST_IMAGE=false")
				if err != nil {
					return err
				}
				defer c.Stop()
				cloud, cloudsYAML, o.ServerPID = "nimbus-admin", c.CloudsYAML, c.PID
			}
			creds, err := bench.LoadCloud(cloud, cloudsYAML)
			if err != nil {
				return err
			}
			o.Credentials = creds
			rep, err := bench.Volume(ctx, o, progress)
			if err != nil {
				return err
			}
			if asJSON {
				err = rep.WriteJSON(os.Stdout)
			} else {
				err = rep.WriteTable(os.Stdout)
			}
			if err != nil {
				return err
			}
			return rep.Check()
		},
	}
	f := cmd.Flags()
	cloudFlags(cmd, &start, &cloud, &cloudsYAML)
	f.IntVar(&o.Volumes, "volumes", 10, "volumes per create scenario, snapshots, attach cycles")
	f.IntVar(&o.Concurrency, "concurrency", 4, "clients creating at once in the concurrent scenarios")
	f.Int64Var(&o.ImageSize, "image-size", 64<<20, "size in bytes of the raw image the from-image volumes are made of")
	f.DurationVar(&o.Poll, "poll", 10*time.Millisecond, "how often a waiting client reads the volume")
	f.IntVar(&o.ServerPID, "server-pid", 0, "pid of the server, to report its resident memory")
	f.DurationVar(&o.Timeout, "timeout", time.Minute, "timeout of one request")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
