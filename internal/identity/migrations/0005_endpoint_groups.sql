-- OS-EP-FILTER endpoint groups: a filter on endpoint attributes (a JSON object of
-- interface, service_id and region_id), associated with projects whose catalog
-- then holds the endpoints it matches.
CREATE TABLE endpoint_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    filters     TEXT NOT NULL
);

CREATE TABLE project_endpoint_groups (
    endpoint_group_id TEXT NOT NULL REFERENCES endpoint_groups (id) ON DELETE CASCADE,
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (endpoint_group_id, project_id)
);
CREATE INDEX project_endpoint_groups_project ON project_endpoint_groups (project_id);
