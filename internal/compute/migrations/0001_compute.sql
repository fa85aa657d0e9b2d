-- Nova's data model, portable between SQLite and PostgreSQL: structured values
-- (flavor copies, metadata, requests, faults) are JSON text.

-- Compute services (os-services) and their hosts' resources (os-hypervisors):
-- one row per nova-compute, heartbeat in last_seen_at.
CREATE TABLE compute_services (
    id              TEXT PRIMARY KEY,
    host            TEXT NOT NULL UNIQUE,
    service_binary  TEXT NOT NULL,
    zone            TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    forced_down     BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_at    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- the hypervisor (compute node) of the host
    node_id           BIGINT NOT NULL UNIQUE,
    node_uuid         TEXT NOT NULL,
    host_ip           TEXT NOT NULL DEFAULT '',
    hypervisor_type   TEXT NOT NULL DEFAULT '',
    hypervisor_version BIGINT NOT NULL DEFAULT 0,
    cpu_info          TEXT NOT NULL DEFAULT '{}',
    vcpus             INTEGER NOT NULL DEFAULT 0,
    memory_mb         INTEGER NOT NULL DEFAULT 0,
    local_gb          INTEGER NOT NULL DEFAULT 0,
    -- claimed by the instances placed here (the scheduler's claims)
    vcpus_used        INTEGER NOT NULL DEFAULT 0,
    memory_mb_used    INTEGER NOT NULL DEFAULT 0,
    local_gb_used     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE flavors (
    id          TEXT PRIMARY KEY, -- flavorid, as the API shows it
    name        TEXT NOT NULL UNIQUE,
    vcpus       INTEGER NOT NULL,
    ram         INTEGER NOT NULL,
    disk        INTEGER NOT NULL,
    ephemeral   INTEGER NOT NULL DEFAULT 0,
    swap        INTEGER NOT NULL DEFAULT 0,
    rxtx_factor REAL NOT NULL DEFAULT 1.0,
    is_public   BOOLEAN NOT NULL DEFAULT TRUE,
    description TEXT,
    extra_specs TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);

CREATE TABLE flavor_projects (
    flavor_id  TEXT NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);

CREATE TABLE keypairs (
    user_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Instances: the desired state (vm_state + task_state, host) the conductor and the
-- compute agents converge to, and what they observed (power_state).
CREATE TABLE instances (
    uuid              TEXT PRIMARY KEY,
    id                BIGINT NOT NULL UNIQUE, -- instance-%08x, EC2's i-%08x
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    hostname          TEXT NOT NULL,
    host              TEXT,
    availability_zone TEXT,
    vm_state          TEXT NOT NULL,
    task_state        TEXT,
    power_state       INTEGER NOT NULL DEFAULT 0,
    flavor            TEXT NOT NULL,
    image_ref         TEXT NOT NULL,
    key_name          TEXT,
    metadata          TEXT NOT NULL DEFAULT '{}',
    tags              TEXT NOT NULL DEFAULT '[]',
    locked            BOOLEAN NOT NULL DEFAULT FALSE,
    locked_by         TEXT,
    locked_reason     TEXT,
    -- everything else of the create request: networks, security groups, user
    -- data, key data, config drive, launch index, reservation, scheduling retries
    request           TEXT NOT NULL,
    fault             TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    launched_at       TEXT,
    terminated_at     TEXT,
    deleted           BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX instances_project ON instances (project_id, deleted);
CREATE INDEX instances_host ON instances (host, deleted);
CREATE INDEX instances_build ON instances (vm_state, task_state);

CREATE TABLE instance_actions (
    id            TEXT PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    action        TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    message       TEXT,
    start_time    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    -- the events of the action: [{event, start_time, finish_time, result, host, traceback}]
    events        TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX instance_actions_instance ON instance_actions (instance_uuid, start_time);

CREATE TABLE server_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    policy     TEXT NOT NULL,
    rules      TEXT NOT NULL DEFAULT '{}',
    members    TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL
);

CREATE TABLE aggregates (
    id         BIGINT PRIMARY KEY,
    uuid       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL UNIQUE,
    metadata   TEXT NOT NULL DEFAULT '{}',
    hosts      TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE compute_quotas (
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
