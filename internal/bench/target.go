package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Credentials are what a password login needs. Domains default to "default" by id.
type Credentials struct {
	AuthURL           string
	Username          string
	Password          string
	ProjectName       string
	ProjectID         string
	UserDomainName    string
	UserDomainID      string
	ProjectDomainName string
	ProjectDomainID   string
}

// cloudsFile is the part of os-client-config's clouds.yaml the bench reads.
type cloudsFile struct {
	Clouds map[string]struct {
		Auth struct {
			AuthURL           string `yaml:"auth_url"`
			Username          string `yaml:"username"`
			Password          string `yaml:"password"`
			ProjectName       string `yaml:"project_name"`
			ProjectID         string `yaml:"project_id"`
			UserDomainName    string `yaml:"user_domain_name"`
			UserDomainID      string `yaml:"user_domain_id"`
			ProjectDomainName string `yaml:"project_domain_name"`
			ProjectDomainID   string `yaml:"project_domain_id"`
		} `yaml:"auth"`
	} `yaml:"clouds"`
}

// CloudsYAMLPaths are the files searched for a cloud when no path is given, in
// os-client-config's order: OS_CLIENT_CONFIG_FILE, then the working directory, the
// user's and the system's configuration.
func CloudsYAMLPaths() []string {
	var paths []string
	if p := os.Getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		paths = append(paths, p)
	}
	paths = append(paths, "clouds.yaml")
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".config", "openstack", "clouds.yaml"))
	}
	return append(paths, "/etc/openstack/clouds.yaml")
}

// LoadCloud reads the named cloud from path, or from the first of CloudsYAMLPaths
// that exists when path is empty.
func LoadCloud(name, path string) (Credentials, error) {
	candidates := []string{path}
	if path == "" {
		candidates = CloudsYAMLPaths()
	}
	for _, p := range candidates {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && path == "" {
			continue
		}
		if err != nil {
			return Credentials{}, err
		}
		return parseCloud(data, name, p)
	}
	return Credentials{}, fmt.Errorf("no clouds.yaml found (looked in %s)", strings.Join(candidates, ", "))
}

func parseCloud(data []byte, name, path string) (Credentials, error) {
	var f cloudsFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	c, ok := f.Clouds[name]
	if !ok {
		return Credentials{}, fmt.Errorf("%s: no cloud %q", path, name)
	}
	a := c.Auth
	return Credentials{
		AuthURL: a.AuthURL, Username: a.Username, Password: a.Password,
		ProjectName: a.ProjectName, ProjectID: a.ProjectID,
		UserDomainName: a.UserDomainName, UserDomainID: a.UserDomainID,
		ProjectDomainName: a.ProjectDomainName, ProjectDomainID: a.ProjectDomainID,
	}, nil
}

// identityBase turns an auth URL (with or without /v3) into the /v3 base.
func identityBase(authURL string) (string, error) {
	u, err := url.Parse(strings.TrimRight(authURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("auth URL %q: want http(s)://host:port[/v3]", authURL)
	}
	if !strings.HasSuffix(u.Path, "/v3") {
		u.Path += "/v3"
	}
	return u.String(), nil
}

// CheckLoopback refuses targets off this machine: the bench is a load generator, and
// load belongs only on the loopback interface.
func CheckLoopback(ctx context.Context, authURL string) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s resolves to no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("refusing to load %s (%s): the bench only targets loopback addresses", host, ip)
		}
	}
	return nil
}
