package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Domain-specific configuration (/v3/domains/{domain_id}/config), stored and
// served as upstream's API does (keystone/api/domains.py, DomainConfigManager in
// keystone/resource/core.py): the [identity] and [ldap] options a domain may set
// for its own identity driver, sensitive ones (the LDAP password) kept but never
// shown. Nimbus's identity backend is SQL for every domain, so the options are
// stored for the clients that manage them, not acted on.
//
// The group and option routes name the "config" segment as a wildcard
// ({config}, which must be "config"): the mux then holds the defaults'
// /v3/domains/config/{group}/default more specific than them, where two literal
// segments in crossed places would conflict.

// domainConfigWhitelisted are the options upstream's whitelisted_options allows,
// in its order; domainConfigSensitive those it stores apart and never shows.
var (
	domainConfigWhitelisted = map[string][]string{
		"identity": {"driver", "list_limit"},
		"ldap": {
			"url", "user", "suffix", "query_scope", "page_size", "alias_dereferencing", "debug_level",
			"chase_referrals", "user_tree_dn", "user_filter", "user_objectclass", "user_id_attribute",
			"user_name_attribute", "user_mail_attribute", "user_description_attribute", "user_pass_attribute",
			"user_enabled_attribute", "user_enabled_invert", "user_enabled_mask", "user_enabled_default",
			"user_attribute_ignore", "user_default_project_id_attribute", "user_enabled_emulation",
			"user_enabled_emulation_dn", "user_enabled_emulation_use_group_config",
			"user_additional_attribute_mapping", "group_tree_dn", "group_filter", "group_objectclass",
			"group_id_attribute", "group_name_attribute", "group_members_are_ids", "group_member_attribute",
			"group_desc_attribute", "group_attribute_ignore", "group_additional_attribute_mapping",
			"tls_cacertfile", "tls_cacertdir", "use_tls", "tls_req_cert", "use_pool", "pool_size",
			"pool_retry_max", "pool_retry_delay", "pool_connection_timeout", "pool_connection_lifetime",
			"use_auth_pool", "auth_pool_size", "auth_pool_connection_lifetime",
		},
	}
	domainConfigSensitive = map[string][]string{"identity": {}, "ldap": {"password"}}

	// domainConfigDefaults are the values /v3/domains/config/default shows: the
	// defaults of keystone/conf/identity.py and keystone/conf/ldap.py (Nimbus's
	// identity driver is "sql", as upstream's default).
	domainConfigDefaults = map[string]map[string]any{
		"identity": {"driver": "sql", "list_limit": nil},
		"ldap": {
			"url": "ldap://localhost", "user": nil, "suffix": "cn=example,cn=com", "query_scope": "one",
			"page_size": 0, "alias_dereferencing": "default", "debug_level": nil, "chase_referrals": nil,
			"user_tree_dn": nil, "user_filter": nil, "user_objectclass": "inetOrgPerson", "user_id_attribute": "cn",
			"user_name_attribute": "sn", "user_mail_attribute": "mail", "user_description_attribute": "description",
			"user_pass_attribute": "userPassword", "user_enabled_attribute": "enabled", "user_enabled_invert": false,
			"user_enabled_mask": 0, "user_enabled_default": "True", "user_attribute_ignore": []any{"default_project_id"},
			"user_default_project_id_attribute": nil, "user_enabled_emulation": false, "user_enabled_emulation_dn": nil,
			"user_enabled_emulation_use_group_config": false, "user_additional_attribute_mapping": []any{},
			"group_tree_dn": nil, "group_filter": nil, "group_objectclass": "groupOfNames", "group_id_attribute": "cn",
			"group_name_attribute": "ou", "group_members_are_ids": false, "group_member_attribute": "member",
			"group_desc_attribute": "description", "group_attribute_ignore": []any{},
			"group_additional_attribute_mapping": []any{}, "tls_cacertfile": nil, "tls_cacertdir": nil,
			"use_tls": false, "tls_req_cert": "demand", "use_pool": true, "pool_size": 10, "pool_retry_max": 3,
			"pool_retry_delay": 0.1, "pool_connection_timeout": -1, "pool_connection_lifetime": 600,
			"use_auth_pool": true, "auth_pool_size": 100, "auth_pool_connection_lifetime": 60,
		},
	}
)

// securityComplianceGroup is read-only, from the deployment's configuration
// (upstream's get_security_compliance_config); Nimbus sets no password regex.
const securityComplianceGroup = "security_compliance"

var securityComplianceReadable = []string{"password_regex", "password_regex_description"}

func (s *Service) domainConfigRoutes() []httpapi.Route {
	base := "/v3/domains/{domain_id}/config"
	group := "/v3/domains/{domain_id}/{config}/{group}"
	option := group + "/{option}"
	var routes []httpapi.Route
	for _, path := range []string{base, group, option} {
		target := s.domainConfigTarget
		readPolicy := "" // get_domain_config, or the security compliance rule (readDomainConfig)
		answer := domainConfigResponse
		if path == base {
			target, readPolicy, answer = nil, "identity:get_domain_config", domainConfigRootResponse
		}
		routes = append(routes,
			// GET serves HEAD too: a HEAD route of the wildcard paths would
			// conflict with the defaults' GET routes in the mux.
			httpapi.Route{Method: "GET", Path: path, Policy: readPolicy, Target: target, Handler: s.readDomainConfig, Schemas: okBody(answer)},
			httpapi.Route{Method: "PATCH", Path: path, Policy: "identity:update_domain_config", Target: target, Handler: s.updateDomainConfig, Schemas: okBody(answer)},
			httpapi.Route{Method: "DELETE", Path: path, Policy: "identity:delete_domain_config", Target: target, Handler: s.deleteDomainConfig, Schemas: noContent},
		)
	}
	routes = append(routes, httpapi.Route{Method: "PUT", Path: base, Policy: "identity:create_domain_config", Handler: s.createDomainConfig,
		// 201 for a new configuration, 200 for one replaced, as upstream
		Schemas: schemas(nil, map[int]jsonschema.Schema{http.StatusCreated: domainConfigRootResponse, http.StatusOK: domainConfigRootResponse})})
	for _, path := range []string{"/v3/domains/config/default", "/v3/domains/config/{group}/default", "/v3/domains/config/{group}/{option}/default"} {
		routes = append(routes,
			httpapi.Route{Method: "GET", Path: path, Policy: "identity:get_domain_config_default", Handler: s.domainConfigDefault, Schemas: okBody(domainConfigResponse)})
	}
	return routes
}

// domainConfigTarget answers 404 for a path of the group and option routes whose
// second segment is not "config" (another resource of the domain's, none of
// which these routes serve).
func (s *Service) domainConfigTarget(r *http.Request) (map[string]any, error) {
	if pathParam(r, "config") != "config" {
		return nil, httpapi.NotFound("The resource could not be found.")
	}
	return nil, nil
}

// invalidDomainConfig is upstream's InvalidDomainConfig (a 403).
func invalidDomainConfig(format string, args ...any) error {
	return httpapi.Forbidden("Invalid domain specific configuration: %s.", fmt.Sprintf(format, args...))
}

func domainConfigNotFound(domainID, group, option string) error {
	what := "any options"
	switch {
	case option != "":
		what = fmt.Sprintf("option %s in group %s", option, group)
	case group != "":
		what = "group " + group
	}
	return httpapi.NotFound("Could not find %s in domain configuration for domain %s.", what, domainID)
}

// validGroupAndOption is upstream's _assert_valid_group_and_option.
func validGroupAndOption(group, option string) error {
	if group == "" {
		return nil
	}
	_, white := domainConfigWhitelisted[group]
	_, sensitive := domainConfigSensitive[group]
	if !white && !sensitive {
		return invalidDomainConfig("Group %s is not supported for domain specific configurations", group)
	}
	if option != "" && !slices.Contains(domainConfigWhitelisted[group], option) && !slices.Contains(domainConfigSensitive[group], option) {
		return invalidDomainConfig("Option %s in group %s is not supported for domain specific configurations", option, group)
	}
	return nil
}

// validConfig is upstream's _assert_valid_config: groups of options, none empty.
func validConfig(config map[string]any) (map[string]map[string]any, error) {
	if len(config) == 0 {
		return nil, invalidDomainConfig("No options specified")
	}
	out := map[string]map[string]any{}
	for group, raw := range config {
		options, ok := raw.(map[string]any)
		if !ok || len(options) == 0 {
			return nil, invalidDomainConfig("The value of group %s specified in the config should be a dictionary of options", group)
		}
		for option := range options {
			if err := validGroupAndOption(group, option); err != nil {
				return nil, err
			}
		}
		out[group] = options
	}
	return out, nil
}

// configBody reads {"config": {...}} (a missing or non-object config is none).
func configBody(r *http.Request) (map[string]any, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	var config map[string]any
	_ = json.Unmarshal(body["config"], &config)
	return config, nil
}

type domainConfigOption struct {
	group, option string
	value         any
	sensitive     bool
}

// loadDomainConfig reads a domain's options, of one group or option when given;
// sensitive ones only when asked.
func loadDomainConfig(ctx context.Context, q db.Querier, domainID, group, option string, withSensitive bool) ([]domainConfigOption, error) {
	where, args := `domain_id = ?`, []any{domainID}
	if group != "" {
		where, args = where+` AND group_name = ?`, append(args, group)
	}
	if option != "" {
		where, args = where+` AND option_name = ?`, append(args, option)
	}
	if !withSensitive {
		where += ` AND sensitive = FALSE`
	}
	return db.QueryAll(ctx, q, func(row db.Scanner) (domainConfigOption, error) {
		var o domainConfigOption
		var value string
		if err := row.Scan(&o.group, &o.option, &value, &o.sensitive); err != nil {
			return o, fmt.Errorf("load domain config: %w", err)
		}
		_ = json.Unmarshal([]byte(value), &o.value)
		return o, nil
	}, `SELECT group_name, option_name, value, sensitive FROM domain_config WHERE `+where+` ORDER BY group_name, option_name`, args...)
}

// configJSON is upstream's _list_to_config: {group: {option: value}}, or
// {option: value} when one option was asked for.
func configJSON(options []domainConfigOption, option string) map[string]any {
	out := map[string]any{}
	for _, o := range options {
		if option != "" {
			return map[string]any{o.option: o.value}
		}
		g, _ := out[o.group].(map[string]any)
		if g == nil {
			g = map[string]any{}
			out[o.group] = g
		}
		g[o.option] = o.value
	}
	return out
}

// storeOptions writes the options of config (replacing those of the same name).
func storeOptions(ctx context.Context, tx *db.Tx, domainID string, config map[string]map[string]any) error {
	for group, options := range config {
		for option, value := range options {
			data, err := json.Marshal(value)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM domain_config WHERE domain_id = ? AND group_name = ? AND option_name = ?`,
				domainID, group, option); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO domain_config (domain_id, group_name, option_name, value, sensitive)
				VALUES (?, ?, ?, ?, ?)`, domainID, group, option, string(data), slices.Contains(domainConfigSensitive[group], option)); err != nil {
				return fmt.Errorf("store domain config: %w", err)
			}
		}
	}
	return nil
}

// createDomainConfig replaces the domain's whole configuration: 201 when it had
// none, 200 when it replaced one, as upstream.
func (s *Service) createDomainConfig(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	raw, err := configBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := s.loadDomain(ctx, s.db, pathParam(r, "domain_id")); err != nil {
		return httpapi.Response{}, err
	}
	config, err := validConfig(raw)
	if err != nil {
		return httpapi.Response{}, err
	}
	domainID := pathParam(r, "domain_id")
	var had bool
	var shown []domainConfigOption
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadDomain(ctx, tx, domainID); err != nil {
			return err
		}
		before, err := loadDomainConfig(ctx, tx, domainID, "", "", true)
		if err != nil {
			return err
		}
		had = len(before) > 0
		if _, err := tx.ExecContext(ctx, `DELETE FROM domain_config WHERE domain_id = ?`, domainID); err != nil {
			return err
		}
		if err := storeOptions(ctx, tx, domainID, config); err != nil {
			return err
		}
		shown, err = loadDomainConfig(ctx, tx, domainID, "", "", false)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	status := http.StatusCreated
	if had {
		status = http.StatusOK
	}
	return httpapi.Response{Status: status, Body: map[string]any{"config": configJSON(shown, "")}}, nil
}

// readDomainConfig shows the domain's configuration, one group or one option of
// it (404 when there is none); the security_compliance group comes from the
// deployment's configuration, for the default domain only.
func (s *Service) readDomainConfig(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	domainID, group, option := pathParam(r, "domain_id"), pathParam(r, "group"), pathParam(r, "option")
	if group != "" { // the route has no policy of its own, so no target ran
		if _, err := s.domainConfigTarget(r); err != nil {
			return httpapi.Response{}, err
		}
	}
	if group == securityComplianceGroup {
		if err := httpapi.Enforce(r, s.policy, "identity:get_security_compliance_domain_config", nil); err != nil {
			return httpapi.Response{}, err
		}
		return s.securityComplianceConfig(domainID, option)
	}
	if group != "" {
		if err := httpapi.Enforce(r, s.policy, "identity:get_domain_config", nil); err != nil {
			return httpapi.Response{}, err
		}
	}
	if err := validGroupAndOption(group, option); err != nil {
		return httpapi.Response{}, err
	}
	options, err := loadDomainConfig(ctx, s.db, domainID, group, option, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(options) == 0 {
		if _, err := s.loadDomain(ctx, s.db, domainID); err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.Response{}, domainConfigNotFound(domainID, group, option)
	}
	return httpapi.OK(map[string]any{"config": configJSON(options, option)}), nil
}

func (s *Service) securityComplianceConfig(domainID, option string) (httpapi.Response, error) {
	if domainID != "default" { // upstream: [identity] default_domain_id
		return httpapi.Response{}, invalidDomainConfig("Reading security compliance information for any domain other than the default domain is not allowed or supported.")
	}
	if option != "" && !slices.Contains(securityComplianceReadable, option) {
		return httpapi.Response{}, invalidDomainConfig("Reading security compliance values other than password_regex and password_regex_description is not allowed.")
	}
	var options []domainConfigOption
	for _, o := range securityComplianceReadable {
		if option == "" || option == o {
			options = append(options, domainConfigOption{group: securityComplianceGroup, option: o})
		}
	}
	return httpapi.OK(map[string]any{"config": configJSON(options, option)}), nil
}

// updateDomainConfig merges the given options into the domain's configuration,
// as upstream's update_config: a group or option named in the URL must be the
// body's only one, and must exist already (404); the answer is the whole
// configuration.
func (s *Service) updateDomainConfig(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	domainID, group, option := pathParam(r, "domain_id"), pathParam(r, "group"), pathParam(r, "option")
	if _, err := s.loadDomain(ctx, s.db, domainID); err != nil {
		return httpapi.Response{}, err
	}
	raw, err := configBody(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if group != "" && option != "" {
		raw = map[string]any{group: map[string]any(raw)}
		if len(raw[group].(map[string]any)) == 0 {
			raw = nil
		}
	}
	config, err := validConfig(raw)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := validGroupAndOption(group, option); err != nil {
		return httpapi.Response{}, err
	}
	if group != "" {
		if len(config) != 1 || (option != "" && len(config[group]) != 1) {
			if option != "" {
				return httpapi.Response{}, invalidDomainConfig("Trying to update option %s in group %s, so that, and only that, option must be specified  in the config", option, group)
			}
			return httpapi.Response{}, invalidDomainConfig("Trying to update group %s, so that, and only that, group must be specified in the config", group)
		}
		if _, ok := config[group]; !ok {
			for other := range config {
				return httpapi.Response{}, invalidDomainConfig("request to update group %s, but config provided contains group %s instead", group, other)
			}
		}
		if _, ok := config[group][option]; option != "" && !ok {
			for other := range config[group] {
				return httpapi.Response{}, invalidDomainConfig("Trying to update option %s in group %s, but config provided contains option %s instead", option, group, other)
			}
		}
	}
	var shown []domainConfigOption
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := s.loadDomain(ctx, tx, domainID); err != nil {
			return err
		}
		if group != "" {
			existing, err := loadDomainConfig(ctx, tx, domainID, group, option, true)
			if err != nil {
				return err
			}
			if len(existing) == 0 {
				return domainConfigNotFound(domainID, group, option)
			}
		}
		if err := storeOptions(ctx, tx, domainID, config); err != nil {
			return err
		}
		var err error
		shown, err = loadDomainConfig(ctx, tx, domainID, "", "", false)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	s.changed()
	if len(shown) == 0 {
		return httpapi.Response{}, domainConfigNotFound(domainID, "", "")
	}
	return httpapi.OK(map[string]any{"config": configJSON(shown, "")}), nil
}

// deleteDomainConfig removes the domain's configuration, a group or an option of
// it; a group or option must exist (404).
func (s *Service) deleteDomainConfig(r *http.Request) (httpapi.Response, error) {
	ctx := r.Context()
	domainID, group, option := pathParam(r, "domain_id"), pathParam(r, "group"), pathParam(r, "option")
	if _, err := s.loadDomain(ctx, s.db, domainID); err != nil {
		return httpapi.Response{}, err
	}
	if err := validGroupAndOption(group, option); err != nil {
		return httpapi.Response{}, err
	}
	where, args := `domain_id = ?`, []any{domainID}
	if group != "" {
		where, args = where+` AND group_name = ?`, append(args, group)
	}
	if option != "" {
		where, args = where+` AND option_name = ?`, append(args, option)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM domain_config WHERE `+where, args...)
	if err != nil {
		return httpapi.Response{}, fmt.Errorf("delete domain config: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 && group != "" {
		return httpapi.Response{}, domainConfigNotFound(domainID, group, option)
	}
	s.changed()
	return httpapi.NoContent(), nil
}

// domainConfigDefault shows the defaults of the whitelisted options, of a group
// or of one option (a sensitive option's default is not shown: 403).
func (s *Service) domainConfigDefault(r *http.Request) (httpapi.Response, error) {
	group, option := pathParam(r, "group"), pathParam(r, "option")
	if err := validGroupAndOption(group, option); err != nil {
		return httpapi.Response{}, err
	}
	if option != "" && !slices.Contains(domainConfigWhitelisted[group], option) {
		return httpapi.Response{}, invalidDomainConfig("Reading the default for option %s in group %s is not supported", option, group)
	}
	var options []domainConfigOption
	for _, g := range []string{"identity", "ldap"} {
		if group != "" && g != group {
			continue
		}
		for _, o := range domainConfigWhitelisted[g] {
			if option == "" || o == option {
				options = append(options, domainConfigOption{group: g, option: o, value: domainConfigDefaults[g][o]})
			}
		}
	}
	return httpapi.OK(map[string]any{"config": configJSON(options, option)}), nil
}
