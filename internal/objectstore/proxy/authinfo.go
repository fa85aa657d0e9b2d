package proxy

// authInfo adds to /info the keys of the auth and account middleware
// Nimbus implements, as upstream's register_swift_info calls do.
func (p *Proxy) authInfo(body map[string]any) {
	if p.opts.TempAuth != nil {
		body["tempauth"] = map[string]any{"account_acls": true}
	}
	body["account_quotas"] = map[string]any{}
	body["staticweb"] = map[string]any{}
	body["bulk_upload"] = map[string]any{"max_containers_per_extraction": maxContainersPerExtraction,
		"max_failed_extractions": maxFailedExtractions}
	body["formpost"] = map[string]any{"allowed_digests": []string{"sha1", "sha256", "sha512"}, "deprecated_digests": []string{"sha1"}}
	if swift, ok := body["swift"].(map[string]any); ok {
		swift["strict_cors_mode"] = strictCORSMode
	}
}
