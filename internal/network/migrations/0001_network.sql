-- Neutron's resources are stored as a JSON body (the upstream attributes, rendered
-- as they are) with the columns lists and joins need beside it. What must stay
-- consistent under concurrency lives in tables of its own with constraints: an IP
-- address belongs to one port (ip_allocations' primary key), a segment to one
-- network (segment_allocations').
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX networks_project ON networks (project_id);

CREATE TABLE segment_allocations (
    network_type     TEXT NOT NULL,
    physical_network TEXT NOT NULL,
    segmentation_id  INTEGER NOT NULL,
    network_id       TEXT NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    PRIMARY KEY (network_type, physical_network, segmentation_id)
);

CREATE TABLE subnets (
    id         TEXT PRIMARY KEY,
    network_id TEXT NOT NULL REFERENCES networks (id),
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX subnets_network ON subnets (network_id);

CREATE TABLE ports (
    id          TEXT PRIMARY KEY,
    network_id  TEXT NOT NULL REFERENCES networks (id),
    project_id  TEXT NOT NULL,
    mac_address TEXT NOT NULL,
    device_id   TEXT NOT NULL DEFAULT '',
    host_id     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    UNIQUE (network_id, mac_address)
);
CREATE INDEX ports_project ON ports (project_id);
CREATE INDEX ports_device ON ports (device_id);
CREATE INDEX ports_host ON ports (host_id);

CREATE TABLE ip_allocations (
    subnet_id  TEXT NOT NULL REFERENCES subnets (id),
    ip_address TEXT NOT NULL,
    network_id TEXT NOT NULL,
    port_id    TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX ip_allocations_port ON ip_allocations (port_id);

CREATE TABLE security_groups (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);

CREATE TABLE security_group_rules (
    id                TEXT PRIMARY KEY,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    project_id        TEXT NOT NULL,
    body              TEXT NOT NULL
);
CREATE INDEX security_group_rules_group ON security_group_rules (security_group_id);

CREATE TABLE port_security_groups (
    port_id           TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    security_group_id TEXT NOT NULL REFERENCES security_groups (id),
    PRIMARY KEY (port_id, security_group_id)
);
CREATE INDEX port_security_groups_group ON port_security_groups (security_group_id);

CREATE TABLE routers (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE router_ports (
    router_id TEXT NOT NULL REFERENCES routers (id),
    port_id   TEXT NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    port_type TEXT NOT NULL,
    PRIMARY KEY (router_id, port_id)
);

CREATE TABLE floatingips (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL,
    floating_network_id TEXT NOT NULL,
    floating_port_id    TEXT NOT NULL,
    port_id             TEXT,
    body                TEXT NOT NULL
);
CREATE INDEX floatingips_port ON floatingips (port_id);

CREATE TABLE quotas (
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    agent_type     TEXT NOT NULL,
    host           TEXT NOT NULL,
    heartbeat_at   TEXT NOT NULL,
    body           TEXT NOT NULL,
    UNIQUE (agent_type, host)
);

-- One default security group per project, also when two requests create it at once.
CREATE UNIQUE INDEX security_groups_one_default ON security_groups (project_id) WHERE name = 'default';
