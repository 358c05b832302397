-- Project members (mnemo.storage.members) and the keys issued to them (`mnemo keys create --member EMAIL`).
-- A member key's powers come from the member's role at each request: READER reads only, OWNER reads and
-- writes; a key of a removed member is revoked (and no longer authenticates even if it were not).
CREATE TABLE project_members (
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('READER', 'OWNER')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, email)
);

-- NULL: the project's own key (no member), with every power but what read_only removes.
ALTER TABLE api_keys ADD COLUMN member_email text;
CREATE INDEX api_keys_member ON api_keys (project_id, member_email) WHERE member_email IS NOT NULL;
