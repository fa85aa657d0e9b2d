-- Glance's tasks: asynchronous import requests (POST /v2/tasks), with their input,
-- outcome and expiry.
CREATE TABLE image_tasks (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    input      TEXT NOT NULL,
    result     TEXT,
    message    TEXT NOT NULL DEFAULT '',
    expires_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX image_tasks_owner ON image_tasks (owner);
