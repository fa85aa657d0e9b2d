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

func benchObjectStoreCommand() *cobra.Command {
	var (
		cloud, cloudsYAML string
		start             bool
		o                 bench.ObjectStoreOptions
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "objectstore",
		Short: "Measure a Swift object store: small-object rates, large-object MB/s beside dd, a 10,000-object listing",
		Long: `Measures a Swift v1 object store on this machine, in containers of its own
(nimbus-bench-*, deleted afterwards):
  small PUT / GET   --small-size objects (4 KiB) at --concurrency (8) for --duration each
  large PUT / GET   --large-size (256 MiB) streamed up and down, --large-rounds times
                    (medians), beside dd writing (conv=fsync) and reading the same bytes
                    in --dd-dir, which should be on the disk of the store's devices; with
                    --server-pid the servers' resident memory is sampled meanwhile
  listing           --listing-objects put in one container, then listed whole as
                    swiftclient lists (JSON pages from the last name until an empty page)

The target is --storage-url and --token (or OS_STORAGE_URL and OS_AUTH_TOKEN, as
swiftclient names them), so any Swift can be measured, upstream's included
(scripts/bench-upstream-swift.sh); else a login to a cloud of clouds.yaml and its
catalog's object-store endpoint; else, with --start, a throw-away cloud (this binary's
"up" in a new data dir under --dd-dir, removed afterwards). Only loopback addresses are
ever targeted.`,
		Example: `  nimbus bench objectstore --start --dd-dir /var/tmp
  nimbus bench objectstore --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $PID --dd-dir /tmp/nimbus
  nimbus bench objectstore --storage-url http://127.0.0.1:8080/v1/AUTH_test --token AUTH_tk... --server-pid 123,124`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Concurrency < 1 || o.Concurrency > 1024 || o.SmallSize < 1 || o.LargeSize < 1 {
				return fmt.Errorf("--concurrency must be 1..1024, --small-size and --large-size positive")
			}
			if o.SmallDuration <= 0 || o.SmallDuration > maxBenchDuration || o.SmallWarmup < 0 || o.SmallWarmup > maxBenchDuration {
				return fmt.Errorf("--duration and --warmup must be within %s", maxBenchDuration)
			}
			if o.LargeRounds < 1 || o.LargeRounds > 100 || o.ListingRounds < 1 || o.ListingRounds > 100 || o.ListingObjects < 0 {
				return fmt.Errorf("--large-rounds and --listing-rounds must be 1..100, --listing-objects not negative")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			if o.StorageURL == "" {
				o.StorageURL = os.Getenv("OS_STORAGE_URL")
			}
			if o.Token == "" {
				o.Token = os.Getenv("OS_AUTH_TOKEN")
			}
			switch {
			case start:
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				parent := o.DDDir
				if parent == "" {
					parent = os.TempDir()
				}
				progress("starting a throw-away cloud in " + parent)
				c, err := bench.StartCloud(ctx, exe, parent, "NIMBUS_IMAGE_GUEST_IMAGE=false")
				if err != nil {
					return err
				}
				defer c.Stop()
				cloud, cloudsYAML, o.StorageURL, o.Token = "nimbus-admin", c.CloudsYAML, "", ""
				o.ServerPIDs = []int{c.PID}
				if o.DDDir == "" {
					o.DDDir = c.DataDir
				}
				fallthrough
			case o.StorageURL == "" || o.Token == "":
				creds, err := bench.LoadCloud(cloud, cloudsYAML)
				if err != nil {
					return err
				}
				o.Credentials = creds
			}
			rep, err := bench.ObjectStore(ctx, o, progress)
			if err != nil {
				return err
			}
			if asJSON {
				return rep.WriteJSON(os.Stdout)
			}
			return rep.WriteTable(os.Stdout)
		},
	}
	f := cmd.Flags()
	cloudFlags(cmd, &start, &cloud, &cloudsYAML)
	f.StringVar(&o.StorageURL, "storage-url", "", "Swift storage URL, e.g. http://127.0.0.1:8080/v1/AUTH_test (with --token)")
	f.StringVar(&o.Token, "token", "", "X-Auth-Token for --storage-url")
	f.IntVar(&o.Concurrency, "concurrency", 8, "concurrent requests (small objects, and filling the listed container)")
	f.IntVar(&o.SmallSize, "small-size", 4096, "small object size in bytes")
	f.DurationVar(&o.SmallDuration, "duration", 10*time.Second, "measured time of the small PUT and of the small GET run")
	f.DurationVar(&o.SmallWarmup, "warmup", time.Second, "unmeasured warm-up before each small-object run")
	f.Int64Var(&o.SmallMax, "max-requests", 2_000_000, "at most this many requests per small-object run")
	f.Int64Var(&o.LargeSize, "large-size", 256<<20, "large object size in bytes")
	f.IntVar(&o.LargeRounds, "large-rounds", 3, "large PUT, GET and dd rounds (medians are reported)")
	f.IntVar(&o.ListingObjects, "listing-objects", 10000, "objects in the listed container (0: skip the listing)")
	f.IntVar(&o.ListingRounds, "listing-rounds", 3, "full listings timed (the median is reported)")
	f.StringVar(&o.DDDir, "dd-dir", "", "directory on the devices' disk for dd (default: the throw-away cloud's data dir, else the temp dir)")
	f.IntSliceVar(&o.ServerPIDs, "server-pid", nil, "pid(s) of the store's processes, to sample memory and CPU (Linux)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "timeout of one request")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
