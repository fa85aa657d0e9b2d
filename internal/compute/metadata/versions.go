package metadata

import "slices"

// ec2Versions are the EC2 metadata versions upstream serves (nova/api/metadata/
// base.py VERSIONS); "latest" is the last.
var ec2Versions = []string{
	"1.0",
	"2007-01-19",
	"2007-03-01",
	"2007-08-29",
	"2007-10-10",
	"2007-12-15",
	"2008-02-01",
	"2008-09-01",
	"2009-04-04",
}

// The OpenStack metadata versions, named as upstream after the releases that
// introduced them.
const (
	folsom    = "2012-08-10"
	grizzly   = "2013-04-04" // random_seed, password
	havana    = "2013-10-17" // vendor_data.json
	liberty   = "2015-10-15" // network_data.json, project_id
	newtonOne = "2016-06-30" // devices
	newtonTwo = "2016-10-06" // vendor_data2.json
	ocata     = "2017-02-22"
	rocky     = "2018-08-27"
	victoria  = "2020-10-14" // dedicated_cpus
	epoxy     = "2025-04-04"
)

// openstackVersions are upstream's OPENSTACK_VERSIONS; "latest" is the last.
var openstackVersions = []string{folsom, grizzly, havana, liberty, newtonOne, newtonTwo, ocata, rocky, victoria, epoxy}

// configDriveSkipVersions are the EC2 versions left off the config drive
// (upstream's default [api] config_drive_skip_versions).
var configDriveSkipVersions = []string{
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01", "2008-09-01",
}

const latest = "latest"

// resolve maps "latest" to the newest of versions and reports whether v is one.
func resolve(versions []string, v string) (string, bool) {
	if v == latest {
		return versions[len(versions)-1], true
	}
	return v, slices.Contains(versions, v)
}

// atLeast reports whether the (resolved) version requested is required or newer.
func atLeast(versions []string, requested, required string) bool {
	return slices.Index(versions, requested) >= slices.Index(versions, required)
}

// listedEC2Versions are those / and /ec2 list.
func listedEC2Versions() []string { return append(slices.Clone(ec2Versions), latest) }
