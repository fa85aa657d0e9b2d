-- Integer ids that hold with concurrent creates and several processes on one
-- database (issue 17): they are drawn from a counter row per kind in one statement
-- (nextIDs: UPDATE ... RETURNING), never as MAX(id) + 1, which two
-- transactions running side by side read alike: instance ids, aggregate ids,
-- and the numbers compute and control services share (os-services' ids before
-- 2.53, the hypervisors' node ids).
CREATE TABLE compute_sequences (
    name       TEXT PRIMARY KEY,
    last_value BIGINT NOT NULL
);
INSERT INTO compute_sequences (name, last_value) SELECT 'instances', COALESCE(MAX(id), 0) FROM instances;
INSERT INTO compute_sequences (name, last_value) SELECT 'aggregates', COALESCE(MAX(id), 0) FROM aggregates;
INSERT INTO compute_sequences (name, last_value) SELECT 'services', COALESCE(MAX(n), 0) FROM
    (SELECT node_id AS n FROM compute_services UNION ALL SELECT number AS n FROM control_services) AS ids;
