-- OS-OAUTH1: consumers delegate a user's roles on one project through OAuth 1.0a.
-- Secrets are kept as given, as upstream: HMAC-SHA1 verification needs the raw
-- consumer and token secrets. Times are Unix microseconds.
CREATE TABLE oauth1_consumers (
    id          TEXT PRIMARY KEY,
    description TEXT,
    secret      TEXT NOT NULL,
    extra       TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);

-- A request token until it is exchanged; authorizing_user_id, role_ids (a JSON
-- list) and verifier are set when a user authorizes it.
CREATE TABLE oauth1_request_tokens (
    id                   TEXT PRIMARY KEY,
    secret               TEXT NOT NULL,
    consumer_id          TEXT NOT NULL REFERENCES oauth1_consumers (id) ON DELETE CASCADE,
    requested_project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    authorizing_user_id  TEXT REFERENCES users (id) ON DELETE CASCADE,
    role_ids             TEXT,
    verifier             TEXT,
    expires_at           BIGINT NOT NULL
);
CREATE INDEX oauth1_request_tokens_consumer ON oauth1_request_tokens (consumer_id);

CREATE TABLE oauth1_access_tokens (
    id                  TEXT PRIMARY KEY,
    secret              TEXT NOT NULL,
    consumer_id         TEXT NOT NULL REFERENCES oauth1_consumers (id) ON DELETE CASCADE,
    project_id          TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    authorizing_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_ids            TEXT NOT NULL,
    expires_at          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL
);
CREATE INDEX oauth1_access_tokens_user ON oauth1_access_tokens (authorizing_user_id);
CREATE INDEX oauth1_access_tokens_consumer ON oauth1_access_tokens (consumer_id);
