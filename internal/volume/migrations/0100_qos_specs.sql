-- QoS specs (cinder's quality_of_service_specs, its key/value rows kept in a
-- table of their own) and their association with volume types: a type has
-- at most one, as upstream's volume_types.qos_specs_id.
CREATE TABLE volume_qos_specs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    consumer   TEXT NOT NULL DEFAULT 'back-end',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE volume_qos_spec_keys (
    qos_specs_id TEXT NOT NULL REFERENCES volume_qos_specs (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (qos_specs_id, key)
);

CREATE TABLE volume_qos_associations (
    volume_type_id TEXT PRIMARY KEY REFERENCES volume_types (id) ON DELETE CASCADE,
    qos_specs_id   TEXT NOT NULL REFERENCES volume_qos_specs (id) ON DELETE CASCADE
);
