package identity

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// TestSchemaCoverage holds every route the identity API mounts to having
// upstream's request schema (for a body it takes) and its response schemas
// (with its success statuses), except where upstream itself reads no JSON
// body it validates: each exception says what upstream does instead.
func TestSchemaCoverage(t *testing.T) {
	e := newTestEnv(t)
	httpapitest.CheckSchemaCoverage(t, e.Svc.routes(), schemaExceptions)
}

// grantNoBody is why a PUT that creates a grant or association has no request
// schema: upstream's method reads no body (request_body_schema(None) or none at
// all), the path names everything.
const grantNoBody = "upstream reads no body: the path names the grant"

// schemaExceptions are the routes without a schema of a kind because upstream
// has none either; each says what upstream does instead.
var schemaExceptions = map[string]string{
	"PUT /v3/projects/{project_id}/users/{user_id}/roles/{role_id}: no request schema":                                    grantNoBody,
	"PUT /v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects: no request schema":   grantNoBody,
	"PUT /v3/domains/{domain_id}/users/{user_id}/roles/{role_id}: no request schema":                                      grantNoBody,
	"PUT /v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects: no request schema":     grantNoBody,
	"PUT /v3/system/users/{user_id}/roles/{role_id}: no request schema":                                                   grantNoBody,
	"PUT /v3/projects/{project_id}/groups/{group_id}/roles/{role_id}: no request schema":                                  grantNoBody,
	"PUT /v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects: no request schema": grantNoBody,
	"PUT /v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}: no request schema":                                    grantNoBody,
	"PUT /v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects: no request schema":   grantNoBody,
	"PUT /v3/system/groups/{group_id}/roles/{role_id}: no request schema":                                                 grantNoBody,
	"PUT /v3/projects/{project_id}/tags/{tag}: no request schema":                                                         "upstream reads no body (request_body_schema(None)): the tag is the path's, checked by project_tag_create",
	"PUT /v3/groups/{group_id}/users/{user_id}: no request schema":                                                        grantNoBody,
	"PUT /v3/roles/{prior_role_id}/implies/{implied_role_id}: no request schema":                                          grantNoBody,
	"PUT /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}: no request schema":                               grantNoBody,
	"PUT /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}: no request schema":                   grantNoBody,
	// Bodies upstream reads without a JSON schema.
	"PUT /v3/domains/{domain_id}/config: no request schema":                      domainConfigByManager,
	"PATCH /v3/domains/{domain_id}/config: no request schema":                    domainConfigByManager,
	"PATCH /v3/domains/{domain_id}/{config}/{group}: no request schema":          domainConfigByManager,
	"PATCH /v3/domains/{domain_id}/{config}/{group}/{option}: no request schema": domainConfigByManager,
	"PUT /v3/OS-FEDERATION/mappings/{mapping_id}: no request schema":             mappingByStructure,
	"PATCH /v3/OS-FEDERATION/mappings/{mapping_id}: no request schema":           mappingByStructure,
	"POST /v3/users/{user_id}/credentials/OS-EC2: no request schema":             "upstream reads tenant_id from the body and looks the project up (keystone/api/users.py), no schema",
	"POST /v3/s3tokens: no request schema":                                       ec2CredentialsByHand,
	"POST /v3/ec2tokens: no request schema":                                      ec2CredentialsByHand,
	"POST /v3/OS-OAUTH1/request_token: no request schema":                        oauth1Signed,
	"POST /v3/OS-OAUTH1/access_token: no request schema":                         oauth1Signed,
}

// Why the bodies upstream reads without a JSON schema have none here.
const (
	domainConfigByManager = "upstream's domain_config_api checks the config's groups and options (keystone/resource/core.py DomainConfigManager), no JSON schema"
	mappingByStructure    = "upstream checks the rules with keystone/federation/utils.py's validate_mapping_structure, which decodeMapping reproduces"
	ec2CredentialsByHand  = "upstream reads credentials, credential or ec2Credentials and checks their fields by hand (keystone/api/_shared/EC2_S3_Resource.py)"
	oauth1Signed          = "an OAuth1 signed request: its parameters are the Authorization header's, no JSON body (keystone/api/os_oauth1.py)"
)
