-- mnemo schema, version 2: memory exports (POST /v1/exports/).
-- An export is a point-in-time snapshot: the memories its filters selected, shaped into the caller's
-- schema, stored once when the export is created. Like every tenant row it carries project_id.

CREATE TABLE memory_exports (
    project_id          text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id                  uuid NOT NULL,
    -- The entity ids the export's filters pin by equality (NULL when they do not pin one);
    -- POST /v1/exports/get/ with filters selects exports by these and by created_at / updated_at.
    user_id             text,
    agent_id            text,
    app_id              text,
    run_id              text,
    schema              jsonb NOT NULL,
    filters             jsonb NOT NULL,
    export_instructions text,
    memory_count        integer NOT NULL,
    result              jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (project_id, id)
);
CREATE INDEX memory_exports_created ON memory_exports (project_id, created_at DESC);
