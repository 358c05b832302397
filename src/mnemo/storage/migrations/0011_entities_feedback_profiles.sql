-- Entities as records (mnemo.storage.entities): a user, agent, app or run exists from its first memory until
-- it is deleted by name (DELETE /v2/entities/{type}/{name}/), whatever happens to its memories meanwhile.
CREATE TABLE entities (
    project_id           text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id                   bigint GENERATED ALWAYS AS IDENTITY,
    kind                 text NOT NULL CHECK (kind IN ('user', 'agent', 'app', 'run')),
    name                 text NOT NULL,
    metadata             jsonb,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- A user's profile (mnemo.storage.profiles): what the last generation wrote, by what, when.
    profile              jsonb,
    profile_by           text,
    profile_error        text,
    profile_updated_at   timestamptz,
    profile_generations  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, kind, name)
);
CREATE UNIQUE INDEX entities_id ON entities (id);
CREATE INDEX entities_created ON entities (project_id, created_at DESC, kind, name);

-- Entities of the memories stored before this migration: first seen at their oldest memory.
INSERT INTO entities (project_id, kind, name, created_at, updated_at)
SELECT project_id, kind, name, min(created_at), max(updated_at)
FROM (
    SELECT project_id, 'user' AS kind, user_id AS name, created_at, updated_at FROM memories WHERE user_id IS NOT NULL
    UNION ALL
    SELECT project_id, 'agent', agent_id, created_at, updated_at FROM memories WHERE agent_id IS NOT NULL
    UNION ALL
    SELECT project_id, 'app', app_id, created_at, updated_at FROM memories WHERE app_id IS NOT NULL
    UNION ALL
    SELECT project_id, 'run', run_id, created_at, updated_at FROM memories WHERE run_id IS NOT NULL
) owners
GROUP BY project_id, kind, name;

-- Every memory written (add, import, any path) records its entities in the writer's own transaction. A row
-- trigger on the memory's own project: it adds rows, never reads another project's.
CREATE FUNCTION mnemo_memory_entities() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO entities (project_id, kind, name)
    SELECT NEW.project_id, owner.kind, owner.name
    FROM (VALUES ('user', NEW.user_id), ('agent', NEW.agent_id), ('app', NEW.app_id), ('run', NEW.run_id))
        AS owner (kind, name)
    WHERE owner.name IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER memories_entities AFTER INSERT ON memories FOR EACH ROW EXECUTE FUNCTION mnemo_memory_entities();

-- Deleted means deleted: a user's profile was built from its memories, so deleting any of them forgets the
-- profile (GET profile answers "pending" until it is generated again).
CREATE FUNCTION mnemo_forget_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE entities e
    SET profile = NULL, profile_by = NULL, profile_error = NULL, profile_updated_at = NULL
    FROM (SELECT DISTINCT project_id, user_id FROM gone WHERE user_id IS NOT NULL) owner
    WHERE e.project_id = owner.project_id AND e.kind = 'user' AND e.name = owner.user_id
      AND (e.profile IS NOT NULL OR e.profile_error IS NOT NULL);
    RETURN NULL;
END
$$;
CREATE TRIGGER memories_forget_profiles AFTER DELETE ON memories REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo_forget_profiles();

-- Feedback on a memory (POST /v1/feedback/): the latest one wins; it goes with its memory.
CREATE TABLE memory_feedback (
    project_id  text NOT NULL,
    memory_id   uuid NOT NULL,
    feedback    text CHECK (feedback IN ('POSITIVE', 'NEGATIVE', 'VERY_NEGATIVE')),
    reason      text,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, memory_id),
    FOREIGN KEY (project_id, memory_id) REFERENCES memories (project_id, id) ON DELETE CASCADE
);

-- Profile generation settings of a project (GET/POST /v2/profiles/settings/); no row: the defaults.
CREATE TABLE profile_settings (
    project_id           text PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    enabled              boolean NOT NULL,
    schema               jsonb,
    custom_instructions  text,
    updated_at           timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Profile generation jobs (POST /v2/profiles/jobs/): run in the request; the row says how it went.
CREATE TABLE profile_jobs (
    project_id    text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    operation     text NOT NULL CHECK (operation IN ('trigger', 'sample')),
    entity_type   text NOT NULL,
    entity_ids    text[] NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    succeeded     integer NOT NULL DEFAULT 0,
    failed        integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at  timestamptz,
    PRIMARY KEY (project_id, id)
);
