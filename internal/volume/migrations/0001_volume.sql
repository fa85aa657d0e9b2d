-- Cinder's data model, hard-deleted rows instead of upstream's soft delete.
-- Tables other services could name too (services, quotas, snapshots,
-- backups) carry the volume_ prefix: every service shares one database.
-- Volumes keep their place (host@backend#pool) so each backend's volume
-- manager finds the rows it drives; metadata, admin metadata and image
-- metadata are key/value tables as upstream's.
CREATE TABLE volume_types (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public   BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE volume_type_extra_specs (
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (volume_type_id, key)
);

CREATE TABLE volume_type_projects (
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL,
    PRIMARY KEY (volume_type_id, project_id)
);

CREATE TABLE volumes (
    id                TEXT PRIMARY KEY,
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    name              TEXT,
    description       TEXT,
    size              INTEGER NOT NULL,
    status            TEXT NOT NULL,
    previous_status   TEXT,
    attach_status     TEXT NOT NULL DEFAULT 'detached',
    migration_status  TEXT,
    availability_zone TEXT NOT NULL,
    volume_type_id    TEXT NOT NULL,
    -- host@backend#pool once scheduled; empty before
    host              TEXT NOT NULL DEFAULT '',
    snapshot_id       TEXT,
    source_volid      TEXT,
    backup_id         TEXT,
    image_id          TEXT,
    bootable          BOOLEAN NOT NULL DEFAULT FALSE,
    multiattach       BOOLEAN NOT NULL DEFAULT FALSE,
    use_quota         BOOLEAN NOT NULL DEFAULT TRUE,
    -- the size the manager must extend to while status is extending
    target_size       INTEGER,
    -- the snapshot the manager reverts to while status is reverting
    revert_snapshot_id TEXT,
    -- the image the manager uploads the volume to while status is uploading
    upload_image_id   TEXT,
    -- why the last step failed, for the log and the admin
    fail_reason       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    launched_at       TEXT
);
CREATE INDEX volumes_project ON volumes (project_id);
CREATE INDEX volumes_host_status ON volumes (host, status);

CREATE TABLE volume_metadata (
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (volume_id, key)
);

-- readonly, attached_mode: what only the service and admins set
CREATE TABLE volume_admin_metadata (
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (volume_id, key)
);

-- volume_image_metadata: the image's properties a volume made from it carries
CREATE TABLE volume_glance_metadata (
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (volume_id, key)
);

CREATE TABLE volume_attachments (
    id              TEXT PRIMARY KEY,
    volume_id       TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    project_id      TEXT NOT NULL,
    instance_uuid   TEXT,
    attached_host   TEXT,
    mountpoint      TEXT,
    attach_mode     TEXT NOT NULL DEFAULT 'rw',
    -- attaching, attached, detaching, detached, reserved, error_attaching
    attach_status   TEXT NOT NULL,
    -- os-brick's connector (JSON) and the backend's connection_info (JSON)
    connector       TEXT,
    connection_info TEXT,
    attach_time     TEXT,
    detach_time     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX volume_attachments_volume ON volume_attachments (volume_id);

CREATE TABLE volume_snapshots (
    id                TEXT PRIMARY KEY,
    volume_id         TEXT NOT NULL,
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    name              TEXT,
    description       TEXT,
    status            TEXT NOT NULL,
    progress          TEXT,
    volume_size       INTEGER NOT NULL,
    volume_type_id    TEXT,
    host              TEXT NOT NULL DEFAULT '',
    use_quota         BOOLEAN NOT NULL DEFAULT TRUE,
    fail_reason       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX volume_snapshots_volume ON volume_snapshots (volume_id);
CREATE INDEX volume_snapshots_project ON volume_snapshots (project_id);

CREATE TABLE volume_snapshot_metadata (
    snapshot_id TEXT NOT NULL REFERENCES volume_snapshots (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, key)
);

CREATE TABLE volume_backups (
    id                TEXT PRIMARY KEY,
    volume_id         TEXT NOT NULL,
    snapshot_id       TEXT,
    project_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    name              TEXT,
    description       TEXT,
    status            TEXT NOT NULL,
    fail_reason       TEXT,
    size              INTEGER NOT NULL,
    object_count      INTEGER NOT NULL DEFAULT 0,
    container         TEXT,
    service           TEXT,
    availability_zone TEXT,
    parent_id         TEXT,
    num_dependent_backups INTEGER NOT NULL DEFAULT 0,
    restore_volume_id TEXT,
    host              TEXT NOT NULL DEFAULT '',
    -- the backup driver's own record (upstream's service_metadata)
    service_metadata  TEXT,
    data_timestamp    TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX volume_backups_project ON volume_backups (project_id);
CREATE INDEX volume_backups_volume ON volume_backups (volume_id);

CREATE TABLE volume_backup_metadata (
    backup_id TEXT NOT NULL REFERENCES volume_backups (id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (backup_id, key)
);

-- one row per host@backend volume manager (and per backup host), its
-- heartbeat and the capacities the scheduler reads
CREATE TABLE volume_services (
    id                TEXT PRIMARY KEY,
    host              TEXT NOT NULL,
    -- cinder-volume, cinder-backup, cinder-scheduler
    binary_name       TEXT NOT NULL,
    topic             TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    disabled          BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason   TEXT,
    frozen            BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON: the backend's Capacity and its pools, as get_volume_stats
    capabilities      TEXT NOT NULL DEFAULT '{}',
    heartbeat_at      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (host, binary_name)
);

-- per-project limits (os-quota-sets); the defaults are quota class "default"
CREATE TABLE volume_quotas (
    project_id TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE volume_quota_classes (
    class_name TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (class_name, resource)
);
