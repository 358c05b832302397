-- The workers that are running: each registers when it starts and beats with its lease heartbeat, so an
-- operator (and /readyz) can tell whether anyone is draining the queue.
CREATE TABLE workers (
    id            text PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
