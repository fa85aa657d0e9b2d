package metadata

import (
	"encoding/json"
	"log/slog"
	"time"
)

// Options configure the metadata API and the config drive.
type Options struct {
	// SharedSecret checks X-Instance-ID-Signature (upstream's
	// [neutron] metadata_proxy_shared_secret, the same as the network service's
	// proxy uses).
	SharedSecret string
	Logger       *slog.Logger
	// VendorData is the static vendor data (the JSON document upstream reads from
	// [api] vendordata_jsonfile_path), served as vendor_data.json and under
	// "static" in vendor_data2.json; empty is {}.
	VendorData json.RawMessage
	// DHCPDomain is appended to the hostname (upstream's [api] dhcp_domain, whose
	// default is novalocal); "" serves the bare hostname.
	DHCPDomain string
	// Now is the clock the /openstack listing hides future versions by (default
	// time.Now).
	Now func() time.Time
	// Publisher is the config drive's ISO publisher (upstream: "OpenStack Compute
	// <version>"); default "Nimbus".
	Publisher string
	// MkisofsCmd builds the config drive (upstream's mkisofs_cmd); default
	// genisoimage.
	MkisofsCmd string
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}
