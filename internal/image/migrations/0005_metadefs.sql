-- Glance's metadata definitions (glance/db/sqlalchemy/models_metadef.py):
-- namespaces, the resource types they apply to, and their objects, properties
-- and tags. A namespace is renamed in place, so its children refer to its id;
-- objects and properties keep upstream's JSON documents as text.
CREATE TABLE metadef_namespaces (
    id           TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL UNIQUE,
    display_name TEXT,
    description  TEXT,
    visibility   TEXT NOT NULL,
    protected    BOOLEAN NOT NULL DEFAULT FALSE,
    owner        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE metadef_resource_types (
    name       TEXT PRIMARY KEY,
    protected  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE metadef_namespace_resource_types (
    namespace_id      TEXT NOT NULL REFERENCES metadef_namespaces (id) ON DELETE CASCADE,
    resource_type     TEXT NOT NULL REFERENCES metadef_resource_types (name),
    prefix            TEXT,
    properties_target TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
);

CREATE TABLE metadef_objects (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT,
    required     TEXT NOT NULL DEFAULT '[]',
    properties   TEXT NOT NULL DEFAULT '{}',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (namespace_id, name)
);

CREATE TABLE metadef_properties (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    json_schema  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (namespace_id, name)
);

-- tag names are unique in a namespace whatever their case, as upstream's
CREATE TABLE metadef_tags (
    namespace_id TEXT NOT NULL REFERENCES metadef_namespaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    folded_name  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (namespace_id, name),
    UNIQUE (namespace_id, folded_name)
);
