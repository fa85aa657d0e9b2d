-- Claims that hold with concurrent requests and several processes on one
-- database (issue 17).

-- The resources each instance holds on its host (upstream placement's
-- allocations): its flavor, and during a resize until it is confirmed or
-- reverted the other flavor too. A host's usage is the sum of its claims, so
-- it is always what its live instances hold; giving a claim back deletes its
-- row, which a second release finds gone (released twice, the counters went
-- negative and the host was then overcommitted). The instances' own data
-- (before this migration) is claimed by the service at start (claimPlaced).
CREATE TABLE instance_claims (
    instance_uuid TEXT NOT NULL,
    flavor_id     TEXT NOT NULL,
    host          TEXT NOT NULL,
    vcpus         INTEGER NOT NULL CHECK (vcpus >= 0),
    memory_mb     INTEGER NOT NULL CHECK (memory_mb >= 0),
    disk_gb       INTEGER NOT NULL CHECK (disk_gb >= 0),
    PRIMARY KEY (instance_uuid, flavor_id)
);
CREATE INDEX instance_claims_host ON instance_claims (host);

-- A claim bumps its host's generation on the condition that it is still the
-- one read with the host's usage (placement's resource provider generation),
-- so two claims racing for the last room on a host cannot both win.
ALTER TABLE compute_services ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE compute_services DROP COLUMN vcpus_used;
ALTER TABLE compute_services DROP COLUMN memory_mb_used;
ALTER TABLE compute_services DROP COLUMN local_gb_used;
