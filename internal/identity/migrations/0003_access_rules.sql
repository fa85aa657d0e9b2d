-- Application credential access rules. A rule belongs to a user and is shared by
-- every application credential of that user that names the same (service, path,
-- method), as upstream; it outlives the credentials until deleted explicitly.
CREATE TABLE access_rules (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service    TEXT NOT NULL,
    path       TEXT NOT NULL,
    method     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, service, path, method)
);

-- The rules of an application credential, in the order they were given.
CREATE TABLE application_credential_access_rules (
    application_credential_id TEXT NOT NULL REFERENCES application_credentials (id) ON DELETE CASCADE,
    access_rule_id            TEXT NOT NULL REFERENCES access_rules (id) ON DELETE CASCADE,
    ordinal                   BIGINT NOT NULL,
    PRIMARY KEY (application_credential_id, access_rule_id)
);
CREATE INDEX application_credential_access_rules_rule
    ON application_credential_access_rules (access_rule_id);
