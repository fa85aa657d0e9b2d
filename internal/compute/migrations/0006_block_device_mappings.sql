-- Block device mappings (issue 20): the volumes of each instance, upstream's
-- block_device_mapping table for destination_type volume. A row is written
-- when the volume is reserved for the instance (its Cinder attachment made)
-- and goes once the attachment is deleted; status is where the attach or
-- detach is, which the host's agent converges the guest to:
--   attaching: the attachment has its connection; the agent hot-plugs the
--              disk, then the service completes the attachment (in-use)
--   attached:  the guest has the disk (and gets it back at every start)
--   detaching: the agent unplugs the disk, then the service deletes the
--              attachment and the row
-- connection_info is the attachment's (JSON, upstream's connection_info) for
-- the host connector_host names;
-- extend_pending asks the agent to show the guest the volume's new size_gb.
CREATE TABLE block_device_mappings (
    uuid                  TEXT PRIMARY KEY,
    instance_uuid         TEXT NOT NULL,
    volume_id             TEXT NOT NULL,
    attachment_id         TEXT,
    device_name           TEXT NOT NULL,
    boot_index            INTEGER,
    source_type           TEXT NOT NULL,
    destination_type      TEXT NOT NULL DEFAULT 'volume',
    delete_on_termination BOOLEAN NOT NULL DEFAULT FALSE,
    tag                   TEXT,
    image_id              TEXT,
    size_gb               INTEGER NOT NULL DEFAULT 0,
    status                TEXT NOT NULL,
    connection_info       TEXT,
    connector_host        TEXT,
    extend_pending        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            TEXT NOT NULL,
    UNIQUE (instance_uuid, volume_id)
);
CREATE INDEX block_device_mappings_volume ON block_device_mappings (volume_id);
