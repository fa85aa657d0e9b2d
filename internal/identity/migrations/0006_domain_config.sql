-- Domain-specific configuration (/v3/domains/{id}/config): one row per option of
-- a domain, its value the JSON given; sensitive options (the LDAP password) are
-- stored but never shown, as upstream's sensitive_config table.
CREATE TABLE domain_config (
    domain_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_name  TEXT NOT NULL,
    option_name TEXT NOT NULL,
    value       TEXT NOT NULL,
    sensitive   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (domain_id, group_name, option_name)
);
