-- mnemo schema, version 1.
-- Every tenant-owned row carries project_id; every query on them is scoped in mnemo.storage.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE organizations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX projects_one_default ON projects (is_default) WHERE is_default;

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    read_only   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE memories (
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    user_id         text,
    agent_id        text,
    app_id          text,
    run_id          text,
    memory          text NOT NULL,
    hash            text NOT NULL,
    metadata        jsonb,
    categories      text[] NOT NULL DEFAULT '{}',
    immutable       boolean NOT NULL DEFAULT false,
    expiration_date date,
    attributed_to   text,
    actor_name      text,
    replaced_by     uuid,
    state           text NOT NULL DEFAULT 'active',
    event_id        uuid,
    embedding       vector NOT NULL,
    -- Ranking features computed at write time: proper nouns, and dates the text refers to.
    entities        text[] NOT NULL DEFAULT '{}',
    dates           datemultirange,
    -- Keyword index: stemmed English lexemes of the speaker's name (weight A) and the text.
    tsv             tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', coalesce(actor_name, '')), 'A')
                        || to_tsvector('english', memory)) STORED,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX memories_tsv ON memories USING gin (tsv);
-- Exact-text dedup within one scope and speaker, safe under concurrency (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX memories_scope_hash ON memories
    (project_id, user_id, agent_id, app_id, run_id, actor_name, hash) NULLS NOT DISTINCT;
CREATE INDEX memories_user ON memories (project_id, user_id, created_at DESC);
CREATE INDEX memories_agent ON memories (project_id, agent_id, created_at DESC) WHERE agent_id IS NOT NULL;
CREATE INDEX memories_app ON memories (project_id, app_id) WHERE app_id IS NOT NULL;
CREATE INDEX memories_run ON memories (project_id, run_id) WHERE run_id IS NOT NULL;
CREATE INDEX memories_created ON memories (project_id, created_at DESC);

CREATE TABLE memory_history (
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    memory_id   uuid NOT NULL,
    event       text NOT NULL,
    old_memory  text,
    new_memory  text,
    input       jsonb,
    user_id     text,
    agent_id    text,
    app_id      text,
    run_id      text,
    categories  text[],
    metadata    jsonb,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, id)
);
CREATE INDEX memory_history_memory ON memory_history (project_id, memory_id, created_at);

-- An event is also the job that processes it: one row, committed once, claimed with SKIP LOCKED.
CREATE TABLE events (
    project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    event_type    text NOT NULL,
    status        text NOT NULL,
    -- The scope an add wrote to (for the extractor's "recent messages of this scope").
    user_id       text,
    agent_id      text,
    app_id        text,
    run_id        text,
    payload       jsonb NOT NULL,
    metadata      jsonb,
    results       jsonb NOT NULL DEFAULT '[]'::jsonb,
    error         text,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 5,
    run_after     timestamptz NOT NULL DEFAULT now(),
    locked_by     text,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at    timestamptz,
    completed_at  timestamptz,
    PRIMARY KEY (project_id, id)
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE INDEX events_project_created ON events (project_id, created_at DESC);
CREATE INDEX events_scope ON events (project_id, user_id, agent_id, created_at DESC) WHERE event_type = 'ADD';
-- The queue: only unfinished jobs are indexed, so claiming stays cheap however many events exist.
CREATE INDEX events_queue ON events (run_after) WHERE status IN ('PENDING', 'RUNNING');

-- Idempotency-Key: a retried write with the same key returns the first response and writes nothing.
CREATE TABLE idempotency_keys (
    project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key           text NOT NULL,
    route         text NOT NULL,
    request_hash  text NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);
