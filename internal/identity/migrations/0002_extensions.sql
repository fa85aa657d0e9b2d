-- Keystone's smaller APIs: policy blobs, unified limits, endpoint filtering,
-- federation mappings and trusts. EC2 credentials live in the credentials table.

-- /v3/policies: opaque rule sets stored for other services.
CREATE TABLE policies (
    id    TEXT PRIMARY KEY,
    type  TEXT NOT NULL,
    blob  TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}'
);

-- Unified limits. A registered limit is the default for (service, region,
-- resource); a NULL region means every region.
CREATE TABLE registered_limits (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    region_id     TEXT REFERENCES regions (id) ON DELETE CASCADE,
    resource_name TEXT NOT NULL,
    default_limit BIGINT NOT NULL,
    description   TEXT
);
CREATE UNIQUE INDEX registered_limits_unique
    ON registered_limits (service_id, COALESCE(region_id, ''), resource_name);

-- A limit overrides a registered limit for one project or one domain.
CREATE TABLE limits (
    id                  TEXT PRIMARY KEY,
    registered_limit_id TEXT NOT NULL REFERENCES registered_limits (id) ON DELETE CASCADE,
    project_id          TEXT REFERENCES projects (id) ON DELETE CASCADE,
    domain_id           TEXT REFERENCES projects (id) ON DELETE CASCADE,
    resource_limit      BIGINT NOT NULL,
    description         TEXT
);
CREATE UNIQUE INDEX limits_unique
    ON limits (registered_limit_id, COALESCE(project_id, ''), COALESCE(domain_id, ''));
CREATE INDEX limits_project ON limits (project_id);

-- OS-EP-FILTER: endpoints associated with a project.
CREATE TABLE project_endpoints (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, endpoint_id)
);
CREATE INDEX project_endpoints_endpoint ON project_endpoints (endpoint_id);

-- OS-FEDERATION mappings; rules are the JSON list as given.
CREATE TABLE federation_mappings (
    id             TEXT PRIMARY KEY,
    rules          TEXT NOT NULL,
    schema_version TEXT NOT NULL DEFAULT '1.0'
);

-- OS-TRUST. expires_at is Unix microseconds; a trust goes with its users and project.
CREATE TABLE trusts (
    id                   TEXT PRIMARY KEY,
    trustor_user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    trustee_user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id           TEXT REFERENCES projects (id) ON DELETE CASCADE,
    impersonation        BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at           BIGINT,
    remaining_uses       BIGINT,
    redelegation_count   BIGINT NOT NULL DEFAULT 0,
    redelegated_trust_id TEXT,
    created_at           BIGINT NOT NULL
);
CREATE INDEX trusts_trustor ON trusts (trustor_user_id);
CREATE INDEX trusts_trustee ON trusts (trustee_user_id);

CREATE TABLE trust_roles (
    trust_id TEXT NOT NULL REFERENCES trusts (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (trust_id, role_id)
);
