package metadata

import (
	"path"
	"strings"
	"time"
)

// Content types of the answers, as webob completes upstream's: text gets a
// charset, JSON does not.
const (
	contentText = "text/plain; charset=UTF-8"
	contentJSON = "application/json"
	// contentHTML is webob's default, what upstream's password handler answers
	// with (it returns a bare string and never sets a type).
	contentHTML = "text/html; charset=UTF-8"
)

// document is the metadata of one instance, as upstream's InstanceMetadata: made
// for one request (or one config drive), then asked for paths. The API and the
// config drive both read their files from it, so they cannot disagree.
type document struct {
	inst   *Instance
	domain string
	vendor any // the parsed static vendor data
	// address is the guest's address (X-Forwarded-For), the EC2 local-ipv4 of an
	// instance without a fixed IPv4; "" on the config drive.
	address string
	// drive is set for the config drive, whose meta_data.json also carries
	// admin_pass (upstream's extra_md).
	drive bool
	// now dates the request, for the /openstack listing.
	now time.Time
}

// result is what a path resolves to.
type result struct {
	body        []byte
	contentType string
	// password marks /openstack/<version>/password, whose answer depends on the
	// method (upstream returns a callable for it).
	password bool
}

func text(b []byte) result { return result{body: b, contentType: contentText} }

// lookup resolves a request path as upstream's InstanceMetadata.lookup: the path
// is normalised (so a trailing slash changes nothing), paths outside /openstack
// and /ec2 are EC2 ones, and the version listings come first. ok is false for a
// path that does not exist (upstream's InvalidMetadataPath, a 404).
func (d *document) lookup(p string) (res result, ok bool) {
	tokens := strings.Split(path.Clean("/" + p)[1:], "/")
	if tokens[0] != "ec2" && tokens[0] != "openstack" {
		if tokens[0] == "" {
			tokens = []string{"ec2"}
		} else {
			tokens = append([]string{"ec2"}, tokens...)
		}
	}
	if len(tokens) == 1 {
		if tokens[0] == "openstack" {
			return text([]byte(strings.Join(listedOpenStackVersions(d.now), "\n"))), true
		}
		return text([]byte(strings.Join(listedEC2Versions(), "\n"))), true
	}
	if tokens[0] == "openstack" {
		return d.openstackItem(tokens[1:])
	}
	return d.ec2Item(tokens[1:])
}

// listedOpenStackVersions are those /openstack lists: as upstream, versions dated
// in the future are hidden (they can still be asked for).
func listedOpenStackVersions(now time.Time) []string {
	today := now.UTC().Format(time.DateOnly)
	var vs []string
	for _, v := range openstackVersions {
		if v <= today {
			vs = append(vs, v)
		}
	}
	return append(vs, latest)
}

// hostname is the guest's FQDN, with upstream's dhcp_domain.
func (d *document) hostname() string {
	if d.domain == "" {
		return d.inst.Hostname
	}
	return d.inst.Hostname + "." + d.domain
}
