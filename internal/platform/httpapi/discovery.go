package httpapi

// Link is an OpenStack link object.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
	Type string `json:"type,omitempty"`
}

// MediaType names the media type of an API version.
type MediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

// VersionDoc is one entry of a version-discovery document, as keystoneauth reads it.
type VersionDoc struct {
	ID         string      `json:"id"`
	Status     string      `json:"status"`
	Updated    string      `json:"updated"`
	Links      []Link      `json:"links"`
	MediaTypes []MediaType `json:"media-types,omitempty"`
	Version    string      `json:"version,omitempty"`
	MinVersion string      `json:"min_version,omitempty"`
}
