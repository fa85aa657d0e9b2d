package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/bench"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

func benchCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load scenarios against a running cloud (loopback only)"}
	cmd.AddCommand(benchIdentityCommand(), benchImageCommand(), benchNetworkCommand(), benchComputeCommand(),
		benchObjectStoreCommand(), benchVolumeCommand())
	return cmd
}

// maxBenchDuration bounds a scenario: the bench is a measurement, not a soak test.
const maxBenchDuration = 10 * time.Minute

func benchIdentityCommand() *cobra.Command {
	var (
		creds      bench.Credentials
		cloud      string
		cloudsYAML string
		load       bench.Load
		scenarios  string
		o          bench.IdentityOptions
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Measure token issue, re-scope and validation rates of a running cloud",
		Long: `Measures, against a running cloud on this machine:
  issue               POST /v3/auth/tokens, password method, project scope (with catalog)
  rescope             POST /v3/auth/tokens, token method (an unscoped token) to the project
  validate-nocatalog  GET /v3/auth/tokens?nocatalog with X-Auth-Token and X-Subject-Token
  validate-catalog    GET /v3/auth/tokens with the catalog
and reports requests, errors, successful req/s and p50/p95/p99 latency of each.
Password logins are bound by bcrypt: the bench times one hash at --bcrypt-cost on
this machine and reports the issue rate as a fraction of cores / hash time.

Credentials come from flags, or from a cloud of clouds.yaml (--cloud; the file is
--clouds-yaml, else $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack, /etc/openstack),
or from OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME. Only loopback
addresses are ever targeted.`,
		Example: `  nimbus up --data-dir /tmp/nimbus --ephemeral-ports &
  nimbus bench identity --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $!`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cloud != "" {
				fromFile, err := bench.LoadCloud(cloud, cloudsYAML)
				if err != nil {
					return err
				}
				creds = overlay(fromFile, creds)
			}
			creds = overlay(bench.Credentials{
				AuthURL: os.Getenv("OS_AUTH_URL"), Username: os.Getenv("OS_USERNAME"), Password: os.Getenv("OS_PASSWORD"),
				ProjectName: os.Getenv("OS_PROJECT_NAME"), ProjectID: os.Getenv("OS_PROJECT_ID"),
				UserDomainName: os.Getenv("OS_USER_DOMAIN_NAME"), UserDomainID: os.Getenv("OS_USER_DOMAIN_ID"),
				ProjectDomainName: os.Getenv("OS_PROJECT_DOMAIN_NAME"), ProjectDomainID: os.Getenv("OS_PROJECT_DOMAIN_ID"),
			}, creds)
			if load.Concurrency < 1 || load.Concurrency > 1024 {
				return fmt.Errorf("--concurrency must be 1..1024")
			}
			if load.Duration <= 0 || load.Duration > maxBenchDuration || load.Warmup < 0 || load.Warmup > maxBenchDuration {
				return fmt.Errorf("--duration and --warmup must be within %s", maxBenchDuration)
			}
			if load.MaxRequests < 1 {
				return fmt.Errorf("--max-requests must be positive")
			}
			var err error
			if o.Scenarios, err = bench.ParseScenarios(scenarios); err != nil {
				return err
			}
			o.Credentials, o.Load = creds, load
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			rep, err := bench.Identity(ctx, o, progress)
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
	f.StringVar(&creds.AuthURL, "auth-url", "", "identity endpoint, e.g. http://127.0.0.1:5000/v3")
	f.StringVar(&creds.Username, "username", "", "user to log in as")
	f.StringVar(&creds.Password, "password", "", "password of the user")
	f.StringVar(&creds.ProjectName, "project", "", "project to scope tokens to (by name)")
	f.StringVar(&creds.ProjectID, "project-id", "", "project to scope tokens to (by id)")
	f.StringVar(&creds.UserDomainName, "user-domain", "", "domain name of the user (default: domain id \"default\")")
	f.StringVar(&creds.ProjectDomainName, "project-domain", "", "domain name of the project (default: domain id \"default\")")
	f.StringVar(&cloud, "cloud", os.Getenv("OS_CLOUD"), "cloud of clouds.yaml to take credentials from (e.g. nimbus-admin)")
	f.StringVar(&cloudsYAML, "clouds-yaml", "", "clouds.yaml path (default $OS_CLIENT_CONFIG_FILE or the usual places)")
	f.IntVar(&load.Concurrency, "concurrency", 8, "concurrent requests")
	f.DurationVar(&load.Duration, "duration", 10*time.Second, "measured time per scenario")
	f.DurationVar(&load.Warmup, "warmup", time.Second, "unmeasured warm-up per scenario")
	f.Int64Var(&load.MaxRequests, "max-requests", 2_000_000, "at most this many requests per scenario")
	f.StringVar(&scenarios, "scenarios", "all", "comma-separated: issue,rescope,validate-nocatalog,validate-catalog")
	f.IntVar(&o.BcryptCost, "bcrypt-cost", 12, "bcrypt cost the cloud hashes passwords with (0: skip the bcrypt limit)")
	f.IntVar(&o.BcryptSamples, "bcrypt-samples", 5, "bcrypt hashes timed (the median counts)")
	f.IntVar(&o.Subjects, "subjects", 16, "distinct tokens the validation scenarios cycle through")
	f.IntSliceVar(&o.ServerPIDs, "server-pid", nil, "pid(s) of the server, to report its CPU per request and memory (Linux)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout of one request")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// overlay fills the empty fields of c from base: explicit flags win over clouds.yaml,
// which wins over OS_* variables.
func overlay(base, c bench.Credentials) bench.Credentials {
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&c.AuthURL, base.AuthURL)
	set(&c.Username, base.Username)
	set(&c.Password, base.Password)
	if c.ProjectName == "" && c.ProjectID == "" {
		c.ProjectName, c.ProjectID = base.ProjectName, base.ProjectID
	}
	if c.UserDomainName == "" && c.UserDomainID == "" {
		c.UserDomainName, c.UserDomainID = base.UserDomainName, base.UserDomainID
	}
	if c.ProjectDomainName == "" && c.ProjectDomainID == "" {
		c.ProjectDomainName, c.ProjectDomainID = base.ProjectDomainName, base.ProjectDomainID
	}
	return c
}

func benchImageCommand() *cobra.Command {
	var (
		cloud, cloudsYAML string
		start             bool
		o                 bench.ImageOptions
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Measure image upload and download rates against dd on the same disk",
		Long: `Uploads an image of --size through PUT /v2/images/{id}/file (the server hashes it
with md5 and sha512 and fsyncs it), downloads it, deletes it, then times dd writing the
same bytes with conv=fsync (the anchor) and with oflag=direct (the disk's own rate), and
reading them back, in --dd-dir; reports MB/s, the ratios and, with a server pid, the
server's resident memory and CPU during the transfers.

With --start it runs a throw-away cloud (this binary's "up" in a new data dir under
--dd-dir, removed afterwards) and measures that; otherwise it logs in to a running cloud
of clouds.yaml. Cold reads evict the files from the page cache before each read (the
image file needs --start, or root to drop the whole cache). Only loopback addresses are
ever targeted.`,
		Example: `  nimbus bench image --start --dd-dir /var/tmp
  nimbus up --data-dir /tmp/nimbus --ephemeral-ports &
  nimbus bench image --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $! --dd-dir /tmp/nimbus`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Rounds < 1 || o.Rounds > 100 || o.Size < 1 {
				return fmt.Errorf("--rounds must be 1..100 and --size positive")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			if start {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				parent := o.DDDir
				if parent == "" {
					parent = os.TempDir()
				}
				progress("starting a throw-away cloud in " + parent)
				c, err := bench.StartCloud(ctx, exe, parent)
				if err != nil {
					return err
				}
				defer c.Stop()
				cloud, cloudsYAML = "nimbus-admin", c.CloudsYAML
				o.ServerPID, o.ImageDir = c.PID, filepath.Join(c.DataDir, "images")
				if o.DDDir == "" {
					o.DDDir = c.DataDir
				}
			} else if !cmd.Flags().Changed("cold-reads") && os.Geteuid() != 0 {
				o.ColdReads = false
			}
			creds, err := bench.LoadCloud(cloud, cloudsYAML)
			if err != nil {
				return err
			}
			o.Credentials = creds
			rep, err := bench.Image(ctx, o, progress)
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
	f.Int64Var(&o.Size, "size", 1<<30, "image size in bytes")
	f.IntVar(&o.Rounds, "rounds", 5, "interleaved rounds of upload, download, dd write, dd read (medians are reported)")
	f.StringVar(&o.DDDir, "dd-dir", "", "directory on the image store's disk for dd (default: the throw-away cloud's data dir, else the temp dir)")
	f.IntVar(&o.ServerPID, "server-pid", 0, "pid of the server, to sample its resident memory and CPU")
	f.StringVar(&o.ImageDir, "image-dir", "", "the server's image directory (DATA_DIR/images), for per-file cold reads and cache shares")
	f.BoolVar(&o.ColdReads, "cold-reads", true, "evict the files from the page cache before each read, so reads come from the disk")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func benchNetworkCommand() *cobra.Command {
	var (
		cloud, cloudsYAML string
		start             bool
		api, dataplane    bool
		o                 bench.NetworkOptions
		dp                bench.DataplaneOptions
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Measure the network API's port, network and subnet rates, and the data plane's wiring times",
		Long: `Measures the network API (Neutron v2.0) of a running cloud on this machine:
  port create / delete          --ports ports created with POST /v2.0/ports on one network
                                with an IPv4 subnet of --cidr, at --concurrency, then deleted;
                                every port must have had an address of its own
  network create+delete         --networks pairs (Rally's create_and_delete_networks)
  network+subnet create+delete  network, subnet, delete subnet, delete network
  port iteration                --iterations times: --ports-per-iteration ports created one
                                after the other, then deleted (Rally's 10-port iteration)
and reports ops/s and p50/p95/p99 latency of each, with the medians beside upstream's
(Rally: network create+delete 0.38 s, 10-port iteration 8.5 s). Pairs and iterations run
--concurrency at a time. It fails when a request failed or two ports shared an address.

With --dataplane (needs --start and root) it then measures the data plane, on a second
throw-away cloud whose data plane lives in a namespace the bench makes, which also plays
the outside host (as the e2e tests run it): --dataplane-iterations times, after one
warm-up, a port with ICMP allowed is plugged into a new instance namespace (a veth named
like its tap) and bound to the cloud's host; the times from the binding to the port's
ACTIVE and to the instance's DHCP lease (dhclient, started once ACTIVE), and from
associating a floating IP to the first reply to the outside host's pings (every 10 ms),
are reported as p50/p90/max. Every packet stays in namespaces the bench made; they, the
agents' namespaces and dnsmasqs are removed afterwards, also on error or Ctrl-C.
--api=false skips the API scenarios.

Credentials come from a cloud of clouds.yaml (--cloud, default nimbus-admin; the file is
--clouds-yaml, else $OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack,
/etc/openstack). An admin lifts the project's port quota for the run when it is too
small, and puts it back. With --start it runs a throw-away cloud instead (this binary's
"up" with no data plane and no guest image, in a new data dir under $TMPDIR, removed
afterwards). Only loopback addresses are ever targeted.`,
		Example: `  nimbus bench network --start
  sudo nimbus bench network --start --dataplane            # API, then data plane
  sudo nimbus bench network --start --dataplane --api=false --dataplane-iterations 20
  nimbus up --data-dir /tmp/nimbus --ephemeral-ports &
  nimbus bench network --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $!`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Concurrency < 1 || o.Concurrency > 256 {
				return fmt.Errorf("--concurrency must be 1..256")
			}
			if o.Ports < 1 || o.Networks < 0 || o.Iterations < 0 || o.PortsPerIteration < 1 {
				return fmt.Errorf("--ports and --ports-per-iteration must be positive, --networks and --iterations not negative")
			}
			if !api && !dataplane {
				return fmt.Errorf("--api=false leaves nothing to measure without --dataplane")
			}
			if dataplane {
				// The data plane is only ever built in namespaces of the bench's own.
				if !start {
					return fmt.Errorf("--dataplane needs --start: it measures a throw-away cloud whose host is a namespace the bench makes")
				}
				if dp.Iterations < 1 || dp.Iterations > 1000 {
					return fmt.Errorf("--dataplane-iterations must be 1..1000")
				}
				if missing := testbedMissing(); missing != "" {
					return fmt.Errorf("--dataplane needs %s", missing)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			rep := &bench.NetworkReport{}
			if api {
				if rep, err = benchNetworkAPI(ctx, exe, start, cloud, cloudsYAML, o, progress); rep == nil {
					return err
				}
			}
			if dataplane && err == nil {
				rep.Dataplane, err = benchNetworkDataplane(ctx, exe, dp, progress)
				if rep.Dataplane == nil && len(rep.Scenarios) == 0 {
					return err
				}
			}
			if asJSON {
				err = errors.Join(err, rep.WriteJSON(os.Stdout))
			} else {
				err = errors.Join(err, rep.WriteTable(os.Stdout))
			}
			return errors.Join(err, rep.Check())
		},
	}
	f := cmd.Flags()
	cloudFlags(cmd, &start, &cloud, &cloudsYAML)
	f.BoolVar(&api, "api", true, "run the API scenarios")
	f.IntVar(&o.Concurrency, "concurrency", 8, "concurrent requests (or pairs, or iterations)")
	f.IntVar(&o.Ports, "ports", 1000, "ports created, then deleted, on one network")
	f.StringVar(&o.CIDR, "cidr", "10.240.0.0/20", "IPv4 subnet the ports take their addresses from")
	f.IntVar(&o.Networks, "networks", 50, "network create+delete pairs, and as many network+subnet rounds")
	f.IntVar(&o.Iterations, "iterations", 20, "port iterations (the median is compared with Rally's)")
	f.IntVar(&o.PortsPerIteration, "ports-per-iteration", 10, "ports created, then deleted, in one iteration")
	f.IntVar(&o.ServerPID, "server-pid", 0, "pid of the server, to report its CPU per op and memory (Linux)")
	f.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout of one request")
	f.BoolVar(&dataplane, "dataplane", false, "also measure the data plane's wiring times (needs --start and root)")
	f.IntVar(&dp.Iterations, "dataplane-iterations", 10, "data-plane iterations (after one warm-up)")
	f.StringVar(&dp.CIDR, "dataplane-cidr", "10.242.0.0/24", "IPv4 subnet of the data-plane scenarios' network")
	f.DurationVar(&dp.Settle, "dataplane-settle", time.Second, "pause between creating a port (floating IP) and binding (associating) it")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// benchNetworkAPI runs the API scenarios, on a throw-away cloud with no data plane
// when start is set.
func benchNetworkAPI(ctx context.Context, exe string, start bool, cloud, cloudsYAML string, o bench.NetworkOptions,
	progress func(string)) (*bench.NetworkReport, error) {
	if start {
		progress("starting a throw-away cloud in " + os.TempDir())
		// The API alone is measured: no guest image to upload.
		c, err := bench.StartCloud(ctx, exe, os.TempDir(), "NIMBUS_IMAGE_GUEST_IMAGE=false")
		if err != nil {
			return nil, err
		}
		defer c.Stop()
		cloud, cloudsYAML, o.ServerPID = "nimbus-admin", c.CloudsYAML, c.PID
	}
	creds, err := bench.LoadCloud(cloud, cloudsYAML)
	if err != nil {
		return nil, err
	}
	o.Credentials = creds
	return bench.Network(ctx, o, progress)
}

// benchNetworkDataplane runs the data-plane scenarios on a throw-away cloud whose
// data plane lives in a namespace of the bench's; Stop removes everything.
func benchNetworkDataplane(ctx context.Context, exe string, o bench.DataplaneOptions, progress func(string)) (*bench.DataplaneReport, error) {
	progress("starting a throw-away cloud with its data plane in a namespace of the bench's")
	c, err := bench.StartDataplaneCloud(ctx, exe, os.TempDir())
	if err != nil {
		return nil, err
	}
	defer func() {
		progress("stopping the cloud, removing its namespaces and dnsmasqs")
		c.Stop()
	}()
	creds, err := bench.LoadCloud("nimbus-admin", c.CloudsYAML)
	if err != nil {
		return nil, err
	}
	o.Credentials, o.Bed, o.Host = creds, c.Bed, c.Host
	o.Dir = filepath.Join(c.DataDir, "dhclient")
	return bench.Dataplane(ctx, o, progress)
}

// testbedMissing says what this machine lacks for the data-plane scenarios ("" for nothing).
func testbedMissing() string {
	return strings.Join(testbed.Missing(bench.DataplaneTools...), ", ")
}

func benchComputeCommand() *cobra.Command {
	var (
		cloud, cloudsYAML string
		start, withQEMU   bool
		hosts             int
		dir               string
		o                 bench.ComputeOptions
		q                 bench.QEMUOptions
		asJSON            bool
	)
	cmd := &cobra.Command{
		Use:   "compute",
		Short: "Measure the compute API's boot rate, latencies, listings and deletes (fake driver), or QEMU boots against raw QEMU",
		Long: `Measures the compute API (Nova v2.1) of a cloud on this machine whose hosts run the fake
driver (no guests: the control plane alone), or with --qemu real guests (below):
  boots                 --servers servers (1 vCPU, 64 MB, 1 GB, a port on a network of
                        the bench's with subnet --cidr) created with POST /servers at
                        --concurrency; boots/s from the first POST to the last ACTIVE, and
                        POST→ACTIVE p50/p99 as a listing every --poll sees them
  server create         the POST's own latency
  server list detail    --detail-requests GET /servers/detail at --concurrency
  listings              GET /servers/detail?limit=1000 and GET /servers paged through to
                        the end (--walk-rounds times, the median counts), at --servers and,
                        topped up with servers without a network, at --list-servers
  deletes               every server deleted at --concurrency, until none is listed
  serial boot           --serial-boots servers first, one at a time, each POST then
                        GET /servers/{id} every 5 ms until ACTIVE (Rally's boot)
and reports them beside upstream's (Rally boot median 8.6 s, of which about 2.8 s pass
before QEMU starts and 3.6 s waiting for Neutron) and the aim of 100 boots/s.

The project's instances, cores and ram quotas are lifted with os-quota-sets where the
cloud has it (and put back); otherwise the cloud's defaults must admit the servers
(compute.quota_instances/quota_cores/quota_ram = -1). With --start it runs a throw-away
cloud (this binary's "up" with --hosts fake compute hosts, unlimited compute quotas, no
data plane and no guest image, in a new data dir under --dir, removed afterwards).
Every write of the cloud's SQLite commits on its own with an fsync, and a boot makes
about five: on a disk the fsync latency bounds boots/s; --dir /dev/shm shows what the
control plane itself does. Only loopback addresses are ever targeted.

With --qemu (needs --start and root, with qemu-system-x86_64, qemu-img, genisoimage and
the data plane's tools) it measures real guests instead, the test guest image (nimbus
image build) at 1 vCPU, 256 MB, with a config drive, one boot at a time:
  floor                 the raw QEMU boot: 1 warm-up + --boots guests started through the
                        QEMU driver with no cloud, each a fresh qcow2 overlay on a raw
                        copy of the image (as the cloud's image cache keeps it) with a NIC
                        on a tap in a namespace of the bench's (dnsmasq for DHCP), timed
                        from Spawn to the boot marker on the console (read every 50 ms),
                        and Spawn alone (QEMU's own start)
  cloud                 a throw-away cloud with the QEMU driver, its data plane in a
                        namespace of the bench's, booting 1 warm-up (fills the image
                        cache) + --boots servers from the image nimbus-guest with
                        "config_drive": true on a network of the bench's: POST /servers to
                        ACTIVE (GET every 5 ms) and to the boot marker (os-getConsoleOutput
                        every 50 ms), each deleted, and 1 s of settling, before the next
and reports p50/min/max of each and what Nimbus adds, twice: POST→marker p50 minus the
floor's p50 (whole boots: noisy), and POST→ACTIVE p50 minus the floor's Spawn p50 (the
cloud's guest starts paused and runs from just before ACTIVE), beside the aim (under
300 ms) and upstream's anchors. Figures only: the run fails
only when a boot fails. Everything it made (namespaces, dnsmasqs, guests, files) goes.`,
		Example: `  nimbus bench compute --start
  nimbus bench compute --start --dir /dev/shm
  sudo nimbus bench compute --start --qemu --boots 5
  nimbus bench compute --start --servers 200 --list-servers 0
  NIMBUS_COMPUTE_FAKE_HOSTS=10 NIMBUS_COMPUTE_QUOTA_INSTANCES=-1 NIMBUS_COMPUTE_QUOTA_CORES=-1 \
    NIMBUS_COMPUTE_QUOTA_RAM=-1 nimbus up --data-dir /tmp/nimbus --ephemeral-ports &
  nimbus bench compute --clouds-yaml /tmp/nimbus/clouds.yaml --cloud nimbus-admin --server-pid $!`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var qemuOnly []string
			for _, name := range []string{"boots", "qemu-logs"} {
				if cmd.Flags().Changed(name) {
					qemuOnly = append(qemuOnly, "--"+name)
				}
			}
			if err := checkComputeQEMUFlags(start, withQEMU, qemuOnly, q.Boots); err != nil {
				return err
			}
			if withQEMU {
				if missing := testbed.Missing(bench.QEMUTools...); len(missing) > 0 {
					return fmt.Errorf("--qemu needs %s", strings.Join(missing, ", "))
				}
				return benchComputeQEMU(cmd.Context(), dir, q, asJSON)
			}
			if o.Concurrency < 1 || o.Concurrency > 256 {
				return fmt.Errorf("--concurrency must be 1..256")
			}
			if o.Servers < 1 || o.ListServers < 0 || o.DetailRequests < 0 || o.SerialBoots < 0 || o.WalkRounds < 1 || hosts < 1 || hosts > 200 {
				return fmt.Errorf("--servers and --walk-rounds must be positive, --hosts 1..200, --list-servers, --detail-requests and --serial-boots not negative")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			progress := func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) }
			if start {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				if dir == "" {
					dir = os.TempDir()
				}
				progress(fmt.Sprintf("starting a throw-away cloud with %d fake compute hosts in %s", hosts, dir))
				c, err := bench.StartCloud(ctx, exe, dir, "NIMBUS_IMAGE_GUEST_IMAGE=false",
					"NIMBUS_COMPUTE_DRIVER=fake", fmt.Sprintf("NIMBUS_COMPUTE_FAKE_HOSTS=%d", hosts),
					"NIMBUS_COMPUTE_QUOTA_INSTANCES=-1", "NIMBUS_COMPUTE_QUOTA_CORES=-1", "NIMBUS_COMPUTE_QUOTA_RAM=-1")
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
			rep, err := bench.Compute(ctx, o, progress)
			if rep == nil {
				return err
			}
			if asJSON {
				err = errors.Join(err, rep.WriteJSON(os.Stdout))
			} else {
				err = errors.Join(err, rep.WriteTable(os.Stdout))
			}
			return errors.Join(err, rep.Check())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&start, "start", false, "start a throw-away cloud, measure it, stop it and remove its data")
	f.IntVar(&hosts, "hosts", 10, "fake compute hosts of the throw-away cloud (with --start)")
	f.StringVar(&dir, "dir", "", "parent of the throw-away cloud's data dir (default $TMPDIR; /dev/shm takes the disk's fsyncs out)")
	f.StringVar(&cloud, "cloud", "nimbus-admin", "cloud of clouds.yaml to log in with")
	f.StringVar(&cloudsYAML, "clouds-yaml", "", "clouds.yaml path (default $OS_CLIENT_CONFIG_FILE or the usual places)")
	f.IntVar(&o.Concurrency, "concurrency", 16, "concurrent requests")
	f.IntVar(&o.Servers, "servers", 1000, "servers booted until ACTIVE")
	f.IntVar(&o.ListServers, "list-servers", 10000, "servers the large listing pages through (0: none)")
	f.IntVar(&o.DetailRequests, "detail-requests", 200, "GET /servers/detail requests at --concurrency")
	f.IntVar(&o.SerialBoots, "serial-boots", 20, "servers booted one at a time first (POST→ACTIVE, compared with Rally's)")
	f.IntVar(&o.WalkRounds, "walk-rounds", 5, "times each listing is paged through")
	f.StringVar(&o.CIDR, "cidr", "10.96.0.0/16", "IPv4 subnet of the booted servers' ports")
	f.DurationVar(&o.Poll, "poll", 100*time.Millisecond, "how often the bench lists the servers while waiting for them")
	f.IntVar(&o.ServerPID, "server-pid", 0, "pid of the server, to report its CPU per request and memory (Linux)")
	f.DurationVar(&o.Timeout, "timeout", time.Minute, "timeout of one request")
	f.BoolVar(&withQEMU, "qemu", false, "boot real guests under QEMU against raw QEMU booting the same image (needs --start and root)")
	f.IntVar(&q.Boots, "boots", 5, "with --qemu: guests each side boots, after one warm-up")
	f.StringVar(&q.LogDir, "qemu-logs", "", "with --qemu: keep the cloud's log and the last boot's consoles in this directory (where the time goes)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// maxQEMUBoots bounds --boots: each TCG boot takes seconds.
const maxQEMUBoots = 100

// checkComputeQEMUFlags refuses --qemu without --start (its cloud's data plane and
// guests live only in namespaces the bench makes, as bench network --dataplane),
// the flags of --qemu (qemuOnly, those given) without it, and --boots out of
// 1..maxQEMUBoots.
func checkComputeQEMUFlags(start, withQEMU bool, qemuOnly []string, boots int) error {
	switch {
	case withQEMU && !start:
		return errors.New("--qemu needs --start: it measures a throw-away cloud whose host is a namespace the bench makes")
	case len(qemuOnly) > 0 && !withQEMU:
		return fmt.Errorf("%s: only with --qemu", strings.Join(qemuOnly, ", "))
	case withQEMU && (boots < 1 || boots > maxQEMUBoots):
		return fmt.Errorf("--boots must be 1..%d", maxQEMUBoots)
	}
	return nil
}

// benchComputeQEMU runs the QEMU scenarios (the floor, then a throw-away QEMU
// cloud) with their working files under dir, and prints the report.
func benchComputeQEMU(ctx context.Context, dir string, q bench.QEMUOptions, asJSON bool) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	q.Exe, q.Dir = exe, dir
	if q.Dir == "" {
		q.Dir = os.TempDir()
	}
	rep, err := bench.ComputeQEMU(ctx, q, func(s string) { fmt.Fprintln(os.Stderr, "bench:", s) })
	if err != nil {
		return err
	}
	if asJSON {
		return rep.WriteJSON(os.Stdout)
	}
	return rep.WriteTable(os.Stdout)
}

// cloudFlags are the flags of a scenario run against a cloud of clouds.yaml
// or a throw-away one.
func cloudFlags(cmd *cobra.Command, start *bool, cloud, cloudsYAML *string) {
	f := cmd.Flags()
	f.BoolVar(start, "start", false, "start a throw-away cloud, measure it, stop it and remove its data")
	f.StringVar(cloud, "cloud", "nimbus-admin", "cloud of clouds.yaml to log in with")
	f.StringVar(cloudsYAML, "clouds-yaml", "", "clouds.yaml path (default $OS_CLIENT_CONFIG_FILE or the usual places)")
}
