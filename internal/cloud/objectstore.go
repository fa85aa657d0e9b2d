package cloud

import (
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/s3api"
)

// startObjectStore starts the object store (proxy and one storage node over
// devices under DATA_DIR/objectstore) when enabled, and returns the proxy's
// URL for the catalog ("" when disabled). Its tokens are identity's, validated
// locally as every service validates them.
func (c *Cloud) startObjectStore(adminPassword string) (string, error) {
	o := c.cfg.ObjectStore
	if !o.Enabled {
		return "", nil
	}
	opts := objectstore.Options{
		Dir: filepath.Join(c.cfg.DataDir, "objectstore"), Host: c.cfg.API.Host, TempAuthUsers: o.TempAuthUsers,
		ProxyPort: o.Port, ObjectPort: o.ObjectPort, ContainerPort: o.ContainerPort, AccountPort: o.AccountPort,
		Devices: o.Devices, Replicas: o.Replicas, PartPower: o.PartPower,
		Auth: c.identity.Validator(), IdentityURL: c.IdentityURL, Logger: c.log,
		ExpirerInterval: time.Duration(o.ExpirerInterval) * time.Second, ReclaimAge: time.Duration(o.ReclaimAge) * time.Second,
		ReaperInterval: time.Duration(o.ReaperInterval) * time.Second, AllowAccountManagement: o.AllowAccountManagement,
		// the S3 API checks signatures with identity's s3tokens as the admin
		// user, as upstream's s3token with its service user
		S3: s3api.Options{
			Identity: &s3api.KeystoneS3Tokens{URL: c.IdentityURL + "/v3", Username: "admin", Password: adminPassword,
				ProjectName: "admin"},
			Location: c.cfg.Region, StorageDomains: s3api.SplitDomains(o.S3StorageDomain),
		},
	}
	if c.cfg.API.EphemeralPorts {
		opts.ProxyPort, opts.ObjectPort, opts.ContainerPort, opts.AccountPort = 0, 0, 0, 0
	}
	a, err := objectstore.StartAllInOne(opts)
	if err != nil {
		return "", err
	}
	c.objects = a
	for _, s := range a.Servers {
		c.servers = append(c.servers, apiServer{name: s.Name, listener: s.Listener, handler: s.Handler})
	}
	return a.URL, nil
}
