package cloud

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
	"github.com/nimbus-cloud/nimbus/internal/compute/console"
	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// computeListeners are the compute API's and the metadata API's sockets, opened
// before identity is bootstrapped so their URLs can go into the catalog.
type computeListeners struct {
	api, metadata, novnc *httpapi.Listener
}

func (c *Cloud) listenCompute() (computeListeners, error) {
	apiPort, mdPort, vncPort := c.cfg.Compute.Port, c.cfg.Compute.MetadataPort, c.cfg.Compute.NoVNCProxyPort
	if c.cfg.API.EphemeralPorts {
		apiPort, mdPort, vncPort = 0, 0, 0
	}
	api, err := httpapi.Listen(c.cfg.API.Host, apiPort)
	if err != nil {
		return computeListeners{}, err
	}
	md, err := httpapi.Listen(c.cfg.API.Host, mdPort)
	if err != nil {
		_ = api.Close()
		return computeListeners{}, err
	}
	vnc, err := httpapi.Listen(c.cfg.API.Host, vncPort)
	if err != nil {
		_ = api.Close()
		_ = md.Close()
		return computeListeners{}, err
	}
	return computeListeners{api: api, metadata: md, novnc: vnc}, nil
}

// startCompute starts the compute API and conductor, the metadata API, and this
// host's compute agents.
func (c *Cloud) startCompute(ctx context.Context, ls computeListeners, imageURL, networkURL,
	adminPassword, metadataSecret string) error {
	host, err := c.startComputeService(ctx, ls, imageURL, networkURL, adminPassword, metadataSecret)
	if err != nil {
		return err
	}
	if err := c.compute.EnsureDefaultFlavors(ctx); err != nil {
		return err
	}
	return c.startComputeAgents(host)
}

// startComputeService starts the compute API, the metadata API and the console
// proxy, and answers the agents of other hosts on the bus; the conductor runs in
// Serve. Compute reaches image and network over their APIs as the admin user, as
// upstream Nova does with its service user. It returns the host it runs on.
func (c *Cloud) startComputeService(ctx context.Context, ls computeListeners, imageURL, networkURL,
	adminPassword, metadataSecret string) (string, error) {
	creds := clients.Credentials{IdentityURL: c.IdentityURL + "/v3", Username: "admin", Password: adminPassword,
		ProjectName: "admin", DomainID: "default"}
	c.computeImages = clients.NewImages(creds, imageURL)
	enforcer, err := newEnforcer(c.cfg.API.PolicyFile)
	if err != nil {
		return "", err
	}
	tokens := console.NewMemoryTokens()
	consoles := consoleIssuer{tokens: tokens, base: ls.novnc.URL + "/vnc_lite.html"}
	host := c.cfg.Compute.Host
	if host == "" {
		host = c.cfg.Network.Host
	}
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("compute.host: %w", err)
		}
	}
	c.compute, err = compute.New(ctx, compute.Options{
		Consoles: consoles, Host: host,
		DB: c.db, Logger: c.log, Auth: c.identity.Validator(), Policy: enforcer, PublicURL: ls.api.URL,
		Images: c.computeImages, Network: clients.NewNetwork(creds, networkURL), Volumes: clients.NewVolumes(creds, ""),
		DefaultAvailabilityZone: c.cfg.Compute.DefaultAvailabilityZone, Quotas: c.cfg.Compute.Quotas(),
		CheckResponses: c.cfg.API.CheckResponses, ShelvedOffloadTime: c.cfg.Compute.ShelvedOffloadTime,
	})
	if err != nil {
		return "", err
	}
	c.servers = append(c.servers,
		apiServer{name: "compute", listener: ls.api, handler: c.compute.Handler()},
		apiServer{name: "metadata", listener: ls.metadata, handler: metadata.Handler(c.compute,
			metadata.Options{SharedSecret: metadataSecret, Logger: c.log})},
		apiServer{name: "novncproxy", listener: ls.novnc, handler: console.NewProxy(console.Options{Tokens: tokens,
			BaseURL: consoles.base, Logger: c.log})})
	if err := c.compute.ServeAgents(c.bus, c.computeImages); err != nil {
		return "", err
	}
	return host, nil
}

// startComputeAgents runs this process's compute agents: the host's, or with the
// fake driver and compute.fake_hosts that many simulated hosts.
func (c *Cloud) startComputeAgents(host string) error {
	c.computeLocal = computeagent.NewLocal(c.compute)
	c.computeLocal.Others = computeagent.BusHostCalls{Bus: c.bus}
	var controller computeagent.Controller = c.computeLocal
	if c.sharesDatabase() {
		// The API processes sharing the database change the desired state too:
		// their nudges come over the bus.
		remote, err := computeagent.NewRemote(c.bus)
		if err != nil {
			return err
		}
		controller = nudgedCompute{Local: c.computeLocal, bus: remote}
	}
	hosts := []string{host}
	if c.cfg.Compute.Driver == "fake" && c.cfg.Compute.FakeHosts > 1 {
		hosts = hosts[:0]
		for i := 1; i <= c.cfg.Compute.FakeHosts; i++ {
			hosts = append(hosts, fmt.Sprintf("%s-%d", host, i))
		}
	}
	instances := filepath.Join(c.cfg.DataDir, "instances")
	for _, h := range hosts {
		driver, plumbing, err := computeDriver(c.cfg, instances, c.computeImages, c.compute, c.log)
		if err != nil || driver == nil {
			return err
		}
		opts := computeagent.Options{Host: h, Driver: driver, Controller: controller, InstancesDir: instances,
			Accelerator: c.cfg.Compute.Accelerator, Log: c.log}
		if plumbing != nil {
			opts.Plumbing = plumbing
			if c.agent != nil {
				// With a data plane, a real guest starts once its taps are
				// wired, as upstream waits for network-vif-plugged
				// (vif_plugging_timeout).
				opts.VIFWait = 300 * time.Second
			}
		}
		a, err := computeagent.New(opts)
		if err != nil {
			return err
		}
		c.computeLocal.Add(a)
		c.computeAgents = append(c.computeAgents, a)
		if c.sharesDatabase() {
			// The API processes reach this host's agent over the bus (console
			// output, VNC, diagnostics), as they reach a joined host's.
			if err := computeagent.ServeHostCalls(c.bus, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// consoleIssuer hands out the console proxy's single-use tokens, valid for 10
// minutes (upstream's token_ttl), as noVNC URLs.
type consoleIssuer struct {
	tokens *console.MemoryTokens
	base   string
}

func (ci consoleIssuer) Issue(socket string) (string, error) {
	token, err := ci.tokens.Issue(console.Target{Socket: socket}, 10*time.Minute)
	if err != nil {
		return "", err
	}
	return console.URL(ci.base, token), nil
}

// computeDriver is this host's hypervisor and what prepares its guests (nil
// driver: no compute agent here). "auto" runs real VMs where QEMU can (root,
// qemu-system-x86_64 and qemu-img present) and says why not otherwise.
func computeDriver(cfg config.Config, instances string, images computeagent.ImageSource, md metadata.Source,
	log *slog.Logger) (virt.Driver, *computeagent.LinuxHost, error) {
	kind := cfg.Compute.Driver
	if kind == "auto" || kind == "" {
		kind = "qemu"
		if missing := qemuMissing(); missing != "" {
			log.Warn("compute driver fake: no real VMs on this host", "lacks", missing)
			kind = "fake"
		}
	}
	switch kind {
	case "none":
		return nil, nil, nil
	case "fake":
		d := fake.New(virt.HostResources{})
		d.SpawnTime = cfg.Compute.FakeSpawnTime.Duration
		return d, nil, nil
	case "qemu":
		if missing := qemuMissing(); missing != "" {
			return nil, nil, fmt.Errorf("compute.driver = qemu, but this host lacks %s", missing)
		}
		if err := os.MkdirAll(instances, 0o755); err != nil {
			return nil, nil, err
		}
		d, err := qemu.New(qemu.Options{InstancesDir: instances, HostNamespace: cfg.Network.HostNamespace, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return d, &computeagent.LinuxHost{InstancesDir: instances, HostNamespace: cfg.Network.HostNamespace,
			Images: images, Metadata: md, DefaultEphemeralFormat: cfg.Compute.DefaultEphemeralFormat}, nil
	}
	return nil, nil, fmt.Errorf("compute.driver %q: want auto, qemu, fake or none", cfg.Compute.Driver)
}

// qemuMissing names what real VMs need and this host lacks ("" when nothing).
func qemuMissing() string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return strings.Join(missing, ", ")
}
