package cloud

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// writeClientFiles writes clouds.yaml (clouds nimbus-admin and nimbus-demo, plus the
// devstack-admin and devstack names upstream test suites expect) and admin-openrc /
// demo-openrc like packstack's keystonerc files.
func writeClientFiles(dir, region, identityURL string, s Secrets) error {
	authURL := identityURL + "/v3"
	var b strings.Builder
	b.WriteString("# Written by nimbus up. Use with: openstack --os-cloud nimbus-admin ...\nclouds:\n")
	for _, c := range []struct{ name, user, project, password string }{
		{"nimbus-admin", "admin", "admin", s.Admin},
		{"nimbus-demo", "demo", "demo", s.Demo},
		{"devstack-admin", "admin", "admin", s.Admin},
		{"devstack", "demo", "demo", s.Demo},
	} {
		fmt.Fprintf(&b, `  %s:
    auth:
      auth_url: %s
      username: %s
      password: %q
      project_name: %s
      user_domain_name: Default
      project_domain_name: Default
    region_name: %s
    interface: public
    identity_api_version: 3
`, c.name, authURL, c.user, c.password, c.project, region)
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "clouds.yaml"), []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write clouds.yaml: %w", err)
	}
	for _, rc := range []struct{ file, user, password string }{
		{"admin-openrc", "admin", s.Admin}, {"demo-openrc", "demo", s.Demo},
	} {
		content := fmt.Sprintf(`# Written by nimbus up. Source it: . %s
unset OS_CLOUD OS_TOKEN OS_SERVICE_TOKEN
export OS_AUTH_URL=%s
export OS_AUTH_TYPE=password
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=%s
export OS_PASSWORD='%s'
export OS_PROJECT_NAME=%s
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=%s
export OS_INTERFACE=public
export PS1='[\u@\h \W(nimbus_%s)]\$ '
`, filepath.Join(dir, rc.file), authURL, rc.user, rc.password, rc.user, region, rc.user)
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, rc.file), []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", rc.file, err)
		}
	}
	return nil
}

// writeJoinFile writes join.toml: the settings another host needs to join this
// cloud (as k3s's node-token), with the bus URL and its token and the metadata
// proxy's secret, so it is private to the cloud's owner (0600).
func writeJoinFile(dir, busURL, metadataURL, metadataSecret string) error {
	content := fmt.Sprintf(`# Written by nimbus up. Joins another host to this cloud:
#   nimbus serve --role compute --config join.toml --data-dir /var/lib/nimbus-node
# and give that host its own name and tunnel address: [network] host and local_ip
# (or NIMBUS_NETWORK_HOST and NIMBUS_NETWORK_LOCAL_IP).
[bus]
url = %q

[network]
metadata_url = %q
metadata_proxy_shared_secret = %q
`, busURL, metadataURL, metadataSecret)
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, "join.toml"), []byte(content), 0o600); err != nil {
		return fmt.Errorf("write join.toml: %w", err)
	}
	return nil
}

// apiJoin is what api.toml holds: where a second API process finds the cloud (its
// database, bus and data directory) and the settings its services must share with
// this process's for the two to answer alike. Ports, host names and the data plane
// are each process's own, so they are left out.
type apiJoin struct {
	DataDir  string `toml:"data_dir"`
	Region   string `toml:"region"`
	Database struct {
		URL string `toml:"url"`
	} `toml:"database"`
	Bus struct {
		URL string `toml:"url"`
	} `toml:"bus"`
	API *struct {
		PolicyFile string `toml:"policy_file"`
	} `toml:"api,omitempty"`
	Identity struct {
		TokenExpiration         config.Duration `toml:"token_expiration"`
		BcryptCost              int             `toml:"bcrypt_cost"`
		LockoutFailureAttempts  int             `toml:"lockout_failure_attempts"`
		LockoutDuration         config.Duration `toml:"lockout_duration"`
		MaxActiveKeys           int             `toml:"max_active_keys"`
		AllowRescopeScopedToken bool            `toml:"allow_rescope_scoped_token"`
	} `toml:"identity"`
	Image struct {
		SizeCap     int64 `toml:"image_size_cap"`
		QuotaImages int   `toml:"image_count_total"`
		QuotaBytes  int64 `toml:"image_size_total"`
	} `toml:"image"`
	Network struct {
		GlobalMTU          int      `toml:"global_physnet_mtu"`
		TenantNetworkTypes []string `toml:"tenant_network_types"`
		FlatNetworks       []string `toml:"flat_networks"`
		VLANRanges         []string `toml:"network_vlan_ranges"`
		VXLANRanges        []string `toml:"vni_ranges"`
		MetadataSecret     string   `toml:"metadata_proxy_shared_secret"`
	} `toml:"network"`
	Compute struct {
		DefaultAvailabilityZone string `toml:"default_availability_zone"`
		QuotaInstances          int    `toml:"quota_instances"`
		QuotaCores              int    `toml:"quota_cores"`
		QuotaRAM                int    `toml:"quota_ram"`
	} `toml:"compute"`
}

// writeAPIJoinFile writes api.toml, the configuration of nimbus serve --role api for
// this cloud, when its database can be shared (PostgreSQL), and removes a stale one
// otherwise. It holds the database's credentials and the bus token: 0600.
func writeAPIJoinFile(cfg config.Config, busURL, metadataSecret string, shared bool) error {
	path := filepath.Join(cfg.DataDir, "api.toml")
	if !shared {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove api.toml: %w", err)
		}
		return nil
	}
	var j apiJoin
	j.DataDir, j.Region, j.Database.URL, j.Bus.URL = cfg.DataDir, cfg.Region, cfg.Database.URL, busURL
	if cfg.API.PolicyFile != "" {
		j.API = &struct {
			PolicyFile string `toml:"policy_file"`
		}{cfg.API.PolicyFile}
	}
	id := cfg.Identity
	j.Identity.TokenExpiration, j.Identity.BcryptCost = id.TokenExpiration, id.BcryptCost
	j.Identity.LockoutFailureAttempts, j.Identity.LockoutDuration = id.LockoutFailureAttempts, id.LockoutDuration
	j.Identity.MaxActiveKeys, j.Identity.AllowRescopeScopedToken = id.MaxActiveKeys, id.AllowRescopeScopedToken
	j.Image.SizeCap, j.Image.QuotaImages, j.Image.QuotaBytes = cfg.Image.SizeCap, cfg.Image.QuotaImages, cfg.Image.QuotaBytes
	n := cfg.Network
	j.Network.GlobalMTU, j.Network.TenantNetworkTypes, j.Network.FlatNetworks = n.GlobalMTU, n.TenantNetworkTypes, n.FlatNetworks
	j.Network.VLANRanges, j.Network.VXLANRanges, j.Network.MetadataSecret = n.VLANRanges, n.VXLANRanges, metadataSecret
	cc := cfg.Compute
	j.Compute.DefaultAvailabilityZone = cc.DefaultAvailabilityZone
	j.Compute.QuotaInstances, j.Compute.QuotaCores, j.Compute.QuotaRAM = cc.QuotaInstances, cc.QuotaCores, cc.QuotaRAM
	var b bytes.Buffer
	b.WriteString(`# Written by nimbus up. Serves this cloud's APIs from a second process, on its
# database and bus, sharing this data directory (Fernet keys, secrets, image data):
#   nimbus serve --role api --config api.toml
# On this machine, give it ports of its own: --ephemeral-ports, or [identity] port
# and the other services' (NIMBUS_IDENTITY_PORT, ...).
`)
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(j); err != nil {
		return fmt.Errorf("write api.toml: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write api.toml: %w", err)
	}
	return nil
}

// previousBusPort is the port of the embedded bus that the last start on dataDir
// wrote into join.toml, if it is free on host, else 0 (any free port). With
// ephemeral ports a restart then keeps its bus where it was, so the hosts and
// the API processes that joined it, which retry the URL they were given, find
// it again by themselves.
func previousBusPort(dataDir, host string) int {
	var join struct {
		Bus struct{ URL string } `toml:"bus"`
	}
	if _, err := toml.DecodeFile(filepath.Join(dataDir, "join.toml"), &join); err != nil {
		return 0
	}
	u, err := url.Parse(join.Bus.URL)
	if err != nil {
		return 0
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port == 0 {
		return 0
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, u.Port()))
	if err != nil {
		return 0 // taken since: any free port
	}
	_ = l.Close()
	return port
}
