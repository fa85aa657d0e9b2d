package cloud

import (
	"fmt"
	"path/filepath"
	"strings"
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
	if err := writeFileAtomic(filepath.Join(dir, "clouds.yaml"), []byte(b.String()), 0o600); err != nil {
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
		if err := writeFileAtomic(filepath.Join(dir, rc.file), []byte(content), 0o600); err != nil {
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
	if err := writeFileAtomic(filepath.Join(dir, "join.toml"), []byte(content), 0o600); err != nil {
		return fmt.Errorf("write join.toml: %w", err)
	}
	return nil
}
