-- The control plane's services (nova-scheduler, nova-conductor) as os-services
-- lists them beside the compute hosts: each process running the conductor
-- heartbeats its rows. Their integer ids share one sequence with the compute
-- services' (nextServiceNumber), as upstream's single services table does.
CREATE TABLE control_services (
    id              TEXT PRIMARY KEY,
    number          BIGINT NOT NULL UNIQUE,
    host            TEXT NOT NULL,
    service_binary  TEXT NOT NULL,
    zone            TEXT NOT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    forced_down     BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_at    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (host, service_binary)
);
