// Package cloud assembles an all-in-one Nimbus: one process running every service on
// one database and one bus, bootstrapped and ready for the openstack CLI; and the
// processes that join it (nimbus serve): hosts running agents over its bus, and
// processes serving its APIs on its PostgreSQL database.
package cloud

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/image"
	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/agent"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// Cloud is a running all-in-one deployment.
type Cloud struct {
	cfg      config.Config
	log      *slog.Logger
	db       *db.DB
	bus      *bus.Bus
	keys     *fernet.Repository
	revoked  *auth.RevocationList
	identity *identity.Service
	image    *image.Service
	network  *network.Service
	objects  *objectstore.AllInOne // nil when disabled
	agent    *agent.Agent          // nil without a data plane
	metadata *metadata.Proxy
	servers  []apiServer
	vol      volumeParts

	compute       *compute.Service
	computeLocal  *computeagent.Local
	computeAgents []*computeagent.Agent
	computeImages *clients.Images

	// IdentityURL is the Keystone endpoint, e.g. http://127.0.0.1:5000.
	IdentityURL string
}

type apiServer struct {
	name     string
	listener *httpapi.Listener
	handler  http.Handler
}

// Start opens the database and bus, starts every service and bootstraps the cloud.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Cloud, error) {
	c := &Cloud{cfg: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			c.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	var err error
	if c.db, err = db.Open(ctx, cfg.Database.URL, cfg.DataDir); err != nil {
		return nil, err
	}
	c.db.SetMaxConnections(cfg.Database.MaxConnections)
	secrets, err := loadSecrets(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	busPort := cfg.Bus.Port
	if cfg.API.EphemeralPorts {
		busPort = previousBusPort(cfg.DataDir, cfg.API.Host)
	}
	if c.bus, err = bus.Start(bus.Options{URL: cfg.Bus.URL, Host: cfg.API.Host, Port: busPort, Token: secrets.Bus, Log: log}); err != nil {
		return nil, err
	}
	if c.keys, err = fernet.OpenRepository(filepath.Join(cfg.DataDir, "fernet-keys"), cfg.Identity.MaxActiveKeys); err != nil {
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
	objectStoreURL, err := c.startObjectStore(secrets.Admin)
	if err != nil {
		return nil, err
	}
	volumeURL, err := c.startVolume(ctx, imageURL, secrets.Admin)
	if err != nil {
		return nil, err
	}
	computeSockets, err := c.listenCompute()
	if err != nil {
		return nil, err
	}
	if cfg.Network.MetadataURL == "" {
		cfg.Network.MetadataURL = computeSockets.metadata.URL
		c.cfg.Network.MetadataURL = cfg.Network.MetadataURL
	}
	services := []identity.CatalogService{
		{Type: "identity", Name: "keystone", Description: "Identity Service", URL: c.IdentityURL + "/v3"},
		{Type: "image", Name: "glance", Description: "Image Service", URL: imageURL},
		{Type: "network", Name: "neutron", Description: "Networking Service", URL: networkURL},
		{Type: "compute", Name: "nova", Description: "Compute Service", URL: computeSockets.api.URL + "/v2.1"},
		// as devstack: block-storage and volumev3 (cinderclient's default), both /v3/{project_id}
		{Type: "block-storage", Name: "cinder", Description: "Cinder Volume Service", URL: volumeURL + "/v3/%(project_id)s"},
		{Type: "volumev3", Name: "cinderv3", Description: "Cinder Volume Service V3", URL: volumeURL + "/v3/%(project_id)s"},
	}
	if objectStoreURL != "" {
		services = append(services, identity.CatalogService{Type: "object-store", Name: "swift",
			Description: "Object Storage Service", URL: objectStoreURL + "/v1/AUTH_%(project_id)s"})
	}
	if err := c.identity.Bootstrap(ctx, identity.BootstrapOptions{
		Region: cfg.Region, AdminPassword: secrets.Admin, DemoPassword: secrets.Demo,
		Services: services,
	}); err != nil {
		return nil, err
	}
	if err := writeClientFiles(cfg.DataDir, cfg.Region, c.IdentityURL, secrets); err != nil {
		return nil, err
	}
	metadataSecret := cfg.Network.MetadataSecret
	if metadataSecret == "" {
		metadataSecret = secrets.MetadataProxy
	}
	if err := writeJoinFile(cfg.DataDir, c.bus.URL, cfg.Network.MetadataURL, metadataSecret); err != nil {
		return nil, err
	}
	if err := writeAPIJoinFile(cfg, c.bus.URL, metadataSecret, c.sharesDatabase()); err != nil {
		return nil, err
	}
	if err := c.seed(ctx, secrets.Admin); err != nil {
		return nil, err
	}
	if on, err := dataplaneWanted(cfg.Network.Dataplane, log); err != nil {
		return nil, err
	} else if on {
		var ctrl agent.Controller = c.network
		if c.sharesDatabase() {
			remote, err := agent.NewRemote(c.bus)
			if err != nil {
				return nil, err
			}
			ctrl = nudgedNetwork{Controller: c.network, changes: mergeNudges(c.network.Changes(), remote.Changes())}
		}
		c.agent, c.metadata, err = hostAgent(ctx, cfg, ctrl, network.HostRoles{DHCP: true, L3: true}, c.network,
			metadataSecret, log)
		if err != nil {
			return nil, fmt.Errorf("network data plane: %w", err)
		}
	}
	if err := c.startCompute(ctx, computeSockets, imageURL, networkURL, secrets.Admin, metadataSecret); err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	if err := c.listenMetrics(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// seed creates, on first start, what makes a new cloud usable at once: the guest
// images and devstack's networks, through the APIs in-process as any client would.
func (c *Cloud) seed(ctx context.Context, adminPassword string) error {
	if !c.cfg.Image.GuestImage && !c.cfg.Network.DefaultNetworks {
		return nil
	}
	api := c.inProcess()
	if err := api.login(ctx, adminPassword); err != nil {
		return fmt.Errorf("seed the cloud: %w", err)
	}
	if c.cfg.Network.DefaultNetworks {
		if err := c.seedNetworks(ctx, api); err != nil {
			return fmt.Errorf("create the default networks: %w", err)
		}
	}
	if c.cfg.Image.GuestImage {
		// A cloud without the guest still serves every API: say why, and go on.
		if err := c.seedGuestImages(ctx, api); err != nil {
			c.log.Warn("no guest image: the cloud has no image to boot until one is uploaded", "error", err)
		}
	}
	return nil
}

// startIdentity starts the identity API, and answers the revocation list on the
// bus for services in other processes.
func (c *Cloud) startIdentity(ctx context.Context) error {
	enforcer, err := newEnforcer(c.cfg.API.PolicyFile)
	if err != nil {
		return err
	}
	port := c.cfg.Identity.Port
	if c.cfg.API.EphemeralPorts {
		port = 0
	}
	l, err := httpapi.Listen(c.cfg.API.Host, port)
	if err != nil {
		return err
	}
	c.IdentityURL = l.URL
	c.revoked = auth.NewRevocationList()
	c.identity, err = identity.New(ctx, identity.Options{
		DB: c.db, Config: c.cfg.Identity, Logger: c.log, Keys: c.keys, Revoked: c.revoked, Bus: c.bus,
		Policy: enforcer, PublicURL: l.URL, CheckResponses: c.cfg.API.CheckResponses,
	})
	if err != nil {
		_ = l.Close()
		return err
	}
	c.servers = append(c.servers, apiServer{name: "identity", listener: l, handler: c.identity.Handler()})
	if err := c.identity.ServeRevocations(c.bus); err != nil {
		return err
	}
	if c.sharesDatabase() {
		return c.followRevocations(ctx)
	}
	return nil
}

// newEnforcer is one service's policy engine: its own, as each upstream service has
// its own, since services name rules alike (context_is_admin, service_api, default)
// with different check strings. The policy file's overrides apply to every service
// that has the rule.
func newEnforcer(policyFile string) (*policy.Enforcer, error) {
	e := policy.NewEnforcer()
	if policyFile != "" {
		if err := e.LoadFile(policyFile); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// startImage starts the image service, which validates tokens with identity's validator.
func (c *Cloud) startImage(ctx context.Context) (string, error) {
	enforcer, err := newEnforcer(c.cfg.API.PolicyFile)
	if err != nil {
		return "", err
	}
	port := c.cfg.Image.Port
	if c.cfg.API.EphemeralPorts {
		port = 0
	}
	l, err := httpapi.Listen(c.cfg.API.Host, port)
	if err != nil {
		return "", err
	}
	store, err := c.imageStore()
	if err != nil {
		_ = l.Close()
		return "", err
	}
	c.image, err = image.New(ctx, image.Options{
		DB: c.db, Logger: c.log, Auth: c.identity.Validator(), Policy: enforcer, DataDir: c.cfg.DataDir, Store: store,
		PublicURL: l.URL, SizeCap: c.cfg.Image.SizeCap,
		QuotaImages: c.cfg.Image.QuotaImages, QuotaBytes: c.cfg.Image.QuotaBytes,
		CheckResponses: c.cfg.API.CheckResponses,
	})
	if err != nil {
		_ = l.Close()
		return "", err
	}
	c.servers = append(c.servers, apiServer{name: "image", listener: l, handler: c.image.Handler()})
	return l.URL, nil
}

// startNetwork starts the network service API.
func (c *Cloud) startNetwork(ctx context.Context) (string, error) {
	enforcer, err := newEnforcer(c.cfg.API.PolicyFile)
	if err != nil {
		return "", err
	}
	port := c.cfg.Network.Port
	if c.cfg.API.EphemeralPorts {
		port = 0
	}
	l, err := httpapi.Listen(c.cfg.API.Host, port)
	if err != nil {
		return "", err
	}
	n := c.cfg.Network
	c.network, err = network.New(ctx, network.Options{
		DB: c.db, Logger: c.log, Auth: c.identity.Validator(), Policy: enforcer, PublicURL: l.URL,
		GlobalMTU: n.GlobalMTU,
		Segments: network.SegmentConfig{TenantNetworkTypes: n.TenantNetworkTypes, FlatNetworks: n.FlatNetworks,
			VLANRanges: n.VLANRanges, VXLANRanges: n.VXLANRanges},
		CheckResponses: c.cfg.API.CheckResponses,
	})
	if err != nil {
		_ = l.Close()
		return "", err
	}
	if err := c.network.ServeAgents(c.bus); err != nil {
		_ = l.Close()
		return "", err
	}
	c.servers = append(c.servers, apiServer{name: "network", listener: l, handler: c.network.Handler()})
	return l.URL, nil
}

// listenMetrics opens the Prometheus metrics listener, apart from the API ports.
func (c *Cloud) listenMetrics() error {
	port := c.cfg.API.MetricsPort
	if port == 0 {
		return nil
	}
	if c.cfg.API.EphemeralPorts {
		port = 0
	}
	l, err := httpapi.Listen(c.cfg.API.Host, port)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	c.servers = append(c.servers, apiServer{name: "metrics", listener: l, handler: httpapi.MetricsHandler(nil)})
	return nil
}

// Serve runs every API until ctx ends, and keeps the key repository fresh so a
// rotation by `nimbus identity rotate-keys` is picked up without a restart.
func (c *Cloud) Serve(ctx context.Context) error {
	defer c.close()
	var wg sync.WaitGroup
	errc := make(chan error, len(c.servers))
	if c.cfg.API.CheckResponses {
		c.log.Info("checking every API response against its route's response schema (api.check_responses): " +
			"mismatches are logged as \"response schema violation\"")
	}
	for _, s := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpapi.Serve(ctx, s.listener, s.handler, c.log); err != nil {
				errc <- fmt.Errorf("%s API: %w", s.name, err)
			}
		}()
	}
	go c.reloadKeys(ctx)
	if c.sharesDatabase() {
		go c.resyncRevocations(ctx)
	}
	if c.image != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.image.Run(ctx)
		}()
	}
	if c.compute != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.compute.Run(ctx)
		}()
	}
	c.vol.run(ctx, &wg)
	if c.objects != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.objects.Run(ctx)
		}()
	}
	for _, a := range c.computeAgents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Run(ctx)
		}()
	}
	if c.agent != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.agent.Run(ctx)
			c.metadata.Close()
		}()
	}
	wg.Wait()
	close(errc)
	return errors.Join(collect(errc)...)
}

func collect(errc <-chan error) []error {
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errs
}

func (c *Cloud) reloadKeys(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.keys.Reload(); err != nil {
				c.log.Warn("reload fernet keys", "error", err)
			}
		}
	}
}

// Endpoints lists the API URLs by service, for the ready line.
func (c *Cloud) Endpoints() map[string]string {
	out := map[string]string{}
	for _, s := range c.servers {
		out[s.name] = s.listener.URL
	}
	return out
}

func (c *Cloud) close() {
	if c.objects != nil {
		c.objects.CloseIdleConnections()
	}
	for _, s := range c.servers {
		_ = s.listener.Close()
	}
	if c.objects != nil {
		c.objects.Close()
	}
	if c.bus != nil {
		c.bus.Close()
	}
	if c.db != nil {
		_ = c.db.Close()
	}
}

// Secrets are the generated bootstrap passwords, kept in the data dir (mode 0600).
type Secrets struct{ Admin, Demo, MetadataProxy, Bus string }

// secretFiles names the file of each secret, in DIR/secrets.
func (s *Secrets) secretFiles() []struct {
	file string
	dst  *string
} {
	return []struct {
		file string
		dst  *string
	}{{"admin-password", &s.Admin}, {"demo-password", &s.Demo}, {"metadata-proxy-secret", &s.MetadataProxy}, {"bus-token", &s.Bus}}
}

// loadSecrets reads the secrets of the cloud in dir, generating those it lacks
// (on the first start).
func loadSecrets(dir string) (Secrets, error) {
	var s Secrets
	for _, item := range s.secretFiles() {
		path := filepath.Join(dir, "secrets", item.file)
		data, err := os.ReadFile(path)
		if err == nil {
			*item.dst = strings.TrimSpace(string(data))
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return s, fmt.Errorf("read %s: %w", path, err)
		}
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return s, err
		}
		*item.dst = base64.RawURLEncoding.EncodeToString(b[:])
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return s, err
		}
		if err := fsutil.WriteFileAtomic(path, []byte(*item.dst+"\n"), 0o600); err != nil {
			return s, err
		}
	}
	return s, nil
}

// readSecrets reads the secrets of the cloud in dir, generating none: a process
// that shares a cloud's data directory finds them all there.
func readSecrets(dir string) (Secrets, error) {
	var s Secrets
	for _, item := range s.secretFiles() {
		path := filepath.Join(dir, "secrets", item.file)
		data, err := os.ReadFile(path)
		if err != nil {
			return s, fmt.Errorf("read the cloud's secret: %w (is %s the data directory of the cloud's nimbus up?)", err, dir)
		}
		*item.dst = strings.TrimSpace(string(data))
	}
	return s, nil
}
