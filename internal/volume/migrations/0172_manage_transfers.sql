-- Volume manage and transfers. A volume being managed keeps the backend
-- reference its manager takes over ({"source-name": ...}) until it is.
CREATE TABLE volume_manage_refs (
    volume_id TEXT PRIMARY KEY REFERENCES volumes (id) ON DELETE CASCADE,
    ref       TEXT NOT NULL
);

-- Transfers (cinder's transfers table): the auth key is kept only as an HMAC
-- under a random salt; an accepted transfer's row goes (upstream soft-deletes
-- it, and no API lists deleted rows).
CREATE TABLE volume_transfers (
    id                TEXT PRIMARY KEY,
    volume_id         TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    name              TEXT,
    salt              TEXT NOT NULL,
    crypt_hash        TEXT NOT NULL,
    source_project_id TEXT NOT NULL,
    no_snapshots      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX volume_transfers_volume ON volume_transfers (volume_id);
CREATE INDEX volume_transfers_project ON volume_transfers (source_project_id);

-- A snapshot being managed (status creating) keeps its reference until its
-- manager has taken the object over; the snapshot convergence passes by the
-- snapshots that have one.
CREATE TABLE volume_snapshot_manage_refs (
    snapshot_id TEXT PRIMARY KEY REFERENCES volume_snapshots (id) ON DELETE CASCADE,
    ref         TEXT NOT NULL
);
