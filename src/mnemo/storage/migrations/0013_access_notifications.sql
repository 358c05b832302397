-- Every change to who may call (keys, members, projects) is announced on the channel mnemo_access, whoever makes
-- it: serving processes remember the keys they have seen only while they listen to it, and forget them all on
-- each notification (mnemo.storage.key_cache). NOTIFY is sent when the changing transaction commits.
CREATE FUNCTION mnemo_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mnemo_access', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo_access_changed();
CREATE TRIGGER project_members_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON project_members
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo_access_changed();
CREATE TRIGGER projects_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION mnemo_access_changed();
