-- Every image id ever given, kept after its image is deleted, so that no later
-- image (of any project) gets it again (OSSN-0075: upstream Glance keeps deleted
-- image rows for the same reason). Whatever keyed data by image id, a cache of
-- the compute hosts, a client, must never find another image's under it.
CREATE TABLE image_ids (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
INSERT INTO image_ids (id, created_at) SELECT id, created_at FROM images;
