-- Address scopes, subnet pools, address groups and trunks, stored as the other
-- resources are: the upstream body in JSON, with the columns joins and
-- invariants need beside it.
CREATE TABLE address_scopes (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);

-- is_default is 1 for the default pool of its IP version; upstream allows one per
-- version (SubnetPoolDefaultAlreadyExists... "A default subnetpool for this IP
-- family has already been set"), which the partial unique index holds.
CREATE TABLE subnetpools (
    id               TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    ip_version       INTEGER NOT NULL,
    is_default       INTEGER NOT NULL DEFAULT 0,
    address_scope_id TEXT REFERENCES address_scopes (id),
    body             TEXT NOT NULL
);
CREATE UNIQUE INDEX subnetpools_one_default ON subnetpools (ip_version) WHERE is_default = 1;
CREATE INDEX subnetpools_scope ON subnetpools (address_scope_id);

CREATE TABLE address_groups (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    body       TEXT NOT NULL
);

-- A port is the parent of at most one trunk, and a sub-port of at most one trunk;
-- within a trunk, a segmentation (type, id) is used once.
CREATE TABLE trunks (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    port_id    TEXT NOT NULL UNIQUE REFERENCES ports (id),
    body       TEXT NOT NULL
);

CREATE TABLE trunk_subports (
    port_id           TEXT PRIMARY KEY REFERENCES ports (id),
    trunk_id          TEXT NOT NULL REFERENCES trunks (id) ON DELETE CASCADE,
    segmentation_type TEXT NOT NULL,
    segmentation_id   INTEGER NOT NULL,
    UNIQUE (trunk_id, segmentation_type, segmentation_id)
);

-- The pool a subnet was allocated from (a pool in use is not deleted: upstream's
-- SubnetPoolInUse), and the address group a rule names (AddressGroupInUse).
ALTER TABLE subnets ADD COLUMN subnetpool_id TEXT REFERENCES subnetpools (id);
CREATE INDEX subnets_pool ON subnets (subnetpool_id);
ALTER TABLE security_group_rules ADD COLUMN remote_address_group_id TEXT REFERENCES address_groups (id);
