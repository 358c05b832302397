-- Webhooks: where a project's memory changes are POSTed (mnemo.storage.webhooks).
CREATE TABLE webhooks (
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL,
    url          text NOT NULL,
    event_types  text[] NOT NULL,
    -- The HMAC-SHA256 key that signs its deliveries.
    secret       text NOT NULL,
    owner        text NOT NULL,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, id)
);
CREATE UNIQUE INDEX webhooks_id ON webhooks (id);

-- One row per change per webhook, written in the transaction of the change: the outbox workers drain
-- (claimed with SKIP LOCKED under a lease, mnemo.storage.deliveries) and the log users read.
CREATE TABLE webhook_deliveries (
    project_id       text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id               uuid NOT NULL,
    webhook_id       uuid NOT NULL,
    event_type       text NOT NULL,
    memory_id        uuid NOT NULL,
    -- Mem0's event_details; a deleted memory's text is removed from it.
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    locked_by        text,
    locked_until     timestamptz,
    response_status  integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at     timestamptz,
    PRIMARY KEY (project_id, id),
    FOREIGN KEY (project_id, webhook_id) REFERENCES webhooks (project_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (project_id, webhook_id, created_at DESC);
CREATE INDEX webhook_deliveries_memory ON webhook_deliveries (project_id, memory_id);
-- The queue: only undelivered rows are indexed, so claiming stays cheap however long the log grows.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
