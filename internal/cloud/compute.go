package cloud

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/compute/clients"
	"github.com/nimbus-cloud/nimbus/internal/compute/metadata"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// computeListeners are the compute API's and the metadata API's sockets, opened
// before identity is bootstrapped so their URLs can go into the catalog.
type computeListeners struct {
	api, metadata *httpapi.Listener
}

func (c *Cloud) listenCompute() (computeListeners, error) {
	apiPort, mdPort := c.cfg.Compute.Port, c.cfg.Compute.MetadataPort
	if c.cfg.API.EphemeralPorts {
		apiPort, mdPort = 0, 0
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
	return computeListeners{api: api, metadata: md}, nil
}

// startCompute starts the compute API and conductor, the metadata API, and this
// host's compute agent. Compute reaches image and network over their APIs as the
// admin user, as upstream Nova does with its service user.
func (c *Cloud) startCompute(ctx context.Context, ls computeListeners, enforcer *policy.Enforcer, imageURL, networkURL,
	adminPassword, metadataSecret string) error {
	creds := clients.Credentials{IdentityURL: c.IdentityURL + "/v3", Username: "admin", Password: adminPassword,
		ProjectName: "admin", DomainID: "default"}
	var err error
	c.compute, err = compute.New(ctx, compute.Options{
		DB: c.db, Logger: c.log, Auth: c.identity.Validator(), Policy: enforcer, PublicURL: ls.api.URL,
		Images: clients.NewImages(creds, imageURL), Network: clients.NewNetwork(creds, networkURL),
		DefaultAvailabilityZone: c.cfg.Compute.DefaultAvailabilityZone, Quotas: c.cfg.Compute.Quotas(),
	})
	if err != nil {
		return err
	}
	if err := c.compute.EnsureDefaultFlavors(ctx); err != nil {
		return err
	}
	c.servers = append(c.servers,
		apiServer{name: "compute", listener: ls.api, handler: c.compute.Handler()},
		apiServer{name: "metadata", listener: ls.metadata, handler: metadata.Handler(c.compute,
			metadata.Options{SharedSecret: metadataSecret, Logger: c.log})})
	c.computeLocal = computeagent.NewLocal(c.compute)
	host := c.cfg.Compute.Host
	if host == "" {
		host = c.cfg.Network.Host
	}
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return fmt.Errorf("compute.host: %w", err)
		}
	}
	hosts := []string{host}
	if c.cfg.Compute.Driver == "fake" && c.cfg.Compute.FakeHosts > 1 {
		hosts = hosts[:0]
		for i := 1; i <= c.cfg.Compute.FakeHosts; i++ {
			hosts = append(hosts, fmt.Sprintf("%s-%d", host, i))
		}
	}
	for _, h := range hosts {
		driver, err := c.computeDriver()
		if err != nil || driver == nil {
			return err
		}
		a, err := computeagent.New(computeagent.Options{Host: h, Driver: driver, Controller: c.computeLocal,
			InstancesDir: filepath.Join(c.cfg.DataDir, "instances"), Log: c.log})
		if err != nil {
			return err
		}
		c.computeLocal.Add(a)
		c.computeAgents = append(c.computeAgents, a)
	}
	return nil
}

// computeDriver is this host's hypervisor (nil: no compute agent here).
func (c *Cloud) computeDriver() (virt.Driver, error) {
	switch c.cfg.Compute.Driver {
	case "none":
		return nil, nil
	case "fake", "":
		return fake.New(virt.HostResources{}), nil
	}
	return nil, fmt.Errorf("compute.driver %q: want fake or none (qemu is not wired yet)", c.cfg.Compute.Driver)
}
