-- Keystone's data model. Domains are projects with is_domain, as upstream stores them;
-- their domain_id is the root sentinel '<<keystone.domain.root>>'.
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL,
    parent_id   TEXT,
    description TEXT NOT NULL DEFAULT '',
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    is_domain   BOOLEAN NOT NULL DEFAULT FALSE,
    extra       TEXT NOT NULL DEFAULT '{}',
    options     TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);
CREATE INDEX projects_parent ON projects (parent_id);

CREATE TABLE project_tags (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    domain_id           TEXT NOT NULL,
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    default_project_id  TEXT,
    password_hash       TEXT,
    password_created_at BIGINT,
    password_expires_at BIGINT,
    failed_auth_count   INTEGER NOT NULL DEFAULT 0,
    last_failed_auth_at BIGINT,
    extra               TEXT NOT NULL DEFAULT '{}',
    options             TEXT NOT NULL DEFAULT '{}',
    created_at          BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (domain_id, name)
);

CREATE TABLE user_group_membership (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX membership_group ON user_group_membership (group_id);

-- Global roles have domain_id '<<null>>' (upstream's NULL_DOMAIN_ID).
CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain_id   TEXT NOT NULL DEFAULT '<<null>>',
    description TEXT NOT NULL DEFAULT '',
    extra       TEXT NOT NULL DEFAULT '{}',
    options     TEXT NOT NULL DEFAULT '{}',
    UNIQUE (name, domain_id)
);

CREATE TABLE implied_roles (
    prior_role_id   TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    implied_role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- type: UserProject, GroupProject, UserDomain, GroupDomain, UserSystem, GroupSystem.
-- System assignments have target_id 'system'.
CREATE TABLE assignments (
    type      TEXT NOT NULL,
    actor_id  TEXT NOT NULL,
    target_id TEXT NOT NULL,
    role_id   TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    inherited BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (type, actor_id, target_id, role_id, inherited)
);
CREATE INDEX assignments_actor ON assignments (actor_id);
CREATE INDEX assignments_target ON assignments (target_id);

CREATE TABLE regions (
    id               TEXT PRIMARY KEY,
    description      TEXT NOT NULL DEFAULT '',
    parent_region_id TEXT,
    extra            TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE services (
    id      TEXT PRIMARY KEY,
    type    TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    extra   TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
    id         TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    interface  TEXT NOT NULL,
    url        TEXT NOT NULL,
    region_id  TEXT,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    extra      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE application_credentials (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id   TEXT,
    system       TEXT,
    expires_at   BIGINT,
    unrestricted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE application_credential_roles (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials (id) ON DELETE CASCADE,
    role_id                   TEXT NOT NULL,
    PRIMARY KEY (application_credential_id, role_id)
);

CREATE TABLE credentials (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    project_id TEXT,
    type       TEXT NOT NULL,
    blob       TEXT NOT NULL,
    extra      TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE revocation_events (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL DEFAULT '',
    project_id      TEXT NOT NULL DEFAULT '',
    domain_id       TEXT NOT NULL DEFAULT '',
    role_id         TEXT NOT NULL DEFAULT '',
    access_token_id TEXT NOT NULL DEFAULT '',
    audit_id        TEXT NOT NULL DEFAULT '',
    audit_chain_id  TEXT NOT NULL DEFAULT '',
    issued_before   BIGINT NOT NULL,
    revoked_at      BIGINT NOT NULL
);
CREATE INDEX revocation_issued_before ON revocation_events (issued_before);
