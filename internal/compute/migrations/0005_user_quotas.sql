-- Per-user quota limits (upstream's project_user_quotas): a user's limit of
-- a resource in a project, over the project's limit, which it may not exceed
-- (issue 18).
CREATE TABLE compute_user_quotas (
    project_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    resource   TEXT NOT NULL,
    hard_limit INTEGER NOT NULL CHECK (hard_limit >= -1),
    PRIMARY KEY (project_id, user_id, resource)
);
