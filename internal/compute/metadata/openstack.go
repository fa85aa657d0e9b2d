package metadata

import "strings"

// The files of an OpenStack metadata version.
const (
	metaDataJSON    = "meta_data.json"
	userData        = "user_data"
	passwordName    = "password"
	vendorDataJSON  = "vendor_data.json"
	networkDataJSON = "network_data.json"
	vendorData2JSON = "vendor_data2.json"
)

// openstackItem resolves /openstack/<version>[/<file>], as upstream's
// RouteConfiguration.
func (d *document) openstackItem(tokens []string) (result, bool) {
	version, ok := resolve(openstackVersions, tokens[0])
	if !ok {
		return result{}, false
	}
	if len(tokens) == 1 {
		return text([]byte(strings.Join(d.versionListing(version), "\n"))), true
	}
	switch strings.Join(tokens[1:], "/") {
	case "version": // upstream routes it to the listing too
		return text([]byte(strings.Join(d.versionListing(version), "\n"))), true
	case metaDataJSON:
		return result{body: pyJSON(d.metaData(version)), contentType: contentJSON}, true
	case userData:
		if d.inst.UserData == nil {
			return result{}, false
		}
		return text(d.inst.UserData), true
	case passwordName:
		if !atLeast(openstackVersions, version, grizzly) {
			return result{}, false
		}
		return result{password: true}, true
	case vendorDataJSON:
		if !atLeast(openstackVersions, version, havana) {
			return result{}, false
		}
		return result{body: pyJSON(d.vendorData()), contentType: contentJSON}, true
	case vendorData2JSON:
		if !atLeast(openstackVersions, version, newtonTwo) {
			return result{}, false
		}
		return result{body: pyJSON(d.vendorData2()), contentType: contentJSON}, true
	case networkDataJSON:
		// As upstream: served for every version (only listed from Liberty), and
		// as text/plain, the one JSON file whose type upstream does not set.
		return text(pyJSON(d.networkData())), true
	}
	return result{}, false
}

// versionListing is the listing of /openstack/<version>/, in upstream's order.
func (d *document) versionListing(version string) []string {
	ls := []string{metaDataJSON}
	if d.inst.UserData != nil {
		ls = append(ls, userData)
	}
	if atLeast(openstackVersions, version, grizzly) {
		ls = append(ls, passwordName)
	}
	if atLeast(openstackVersions, version, havana) {
		ls = append(ls, vendorDataJSON)
	}
	if atLeast(openstackVersions, version, liberty) {
		ls = append(ls, networkDataJSON)
	}
	if atLeast(openstackVersions, version, newtonTwo) {
		ls = append(ls, vendorData2JSON)
	}
	return ls
}
