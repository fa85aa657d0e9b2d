package metadata

import (
	"log/slog"
)

// parseVendorData reads the static vendor data once. As upstream's
// JsonFileVendorData, data that does not parse is logged and served as {}.
func parseVendorData(raw []byte, log *slog.Logger) any {
	if len(raw) == 0 {
		return object{}
	}
	v, err := parsePyJSON(raw)
	if err != nil {
		log.Warn("static vendor data is not JSON; serving {}", "error", err)
		return object{}
	}
	return v
}

// vendorData is vendor_data.json: the static vendor data (upstream's default
// vendordata_providers is StaticJSON alone).
func (d *document) vendorData() any { return d.vendor }

// vendorData2 is vendor_data2.json: each provider's data under its name; Nimbus
// has the static one only (no DynamicJSON services).
func (d *document) vendorData2() object { return object{{"static", d.vendor}} }
