-- mnemo schema, version 3: an export records the memories it holds, and deleting any of them deletes the
-- export (ProjectStore.delete_memories, in the transaction that deletes the memories): "delete" removes a
-- memory from exports too.

ALTER TABLE memory_exports ADD COLUMN memory_ids uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX memory_exports_memory_ids ON memory_exports USING gin (memory_ids);

-- Exports made before this version did not record their memories: link them from their snapshot, erring
-- towards linking too much. A string of the snapshot links the memory of the project with that id, or the
-- memories of the export's scope that had that text when the export was made (schemas whose items are
-- plain strings hold no ids). memory_history keeps every memory's ids and texts, deleted ones included.
WITH strings AS (
    SELECT DISTINCT e.project_id, e.id, value #>> '{}' AS text
    FROM memory_exports e, jsonb_path_query(e.result, 'strict $.**') AS value
    WHERE jsonb_typeof(value) = 'string'
), by_id AS (
    SELECT s.project_id, s.id, h.memory_id
    FROM strings s
    JOIN memory_history h ON h.project_id = s.project_id
        AND h.memory_id = CASE
            WHEN s.text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN s.text::uuid
        END
), by_text AS (
    SELECT s.project_id, s.id, h.memory_id
    FROM strings s
    JOIN memory_exports e ON e.project_id = s.project_id AND e.id = s.id
    JOIN memory_history h ON h.project_id = s.project_id AND h.new_memory = s.text AND h.created_at <= e.created_at
    WHERE (e.user_id IS NULL OR h.user_id = e.user_id)
      AND (e.agent_id IS NULL OR h.agent_id = e.agent_id)
      AND (e.app_id IS NULL OR h.app_id = e.app_id)
      AND (e.run_id IS NULL OR h.run_id = e.run_id)
      AND NOT EXISTS (
          SELECT 1 FROM memory_history d
          WHERE d.project_id = h.project_id AND d.memory_id = h.memory_id AND d.event = 'DELETE'
            AND d.created_at <= e.created_at)
), linked AS (
    SELECT project_id, id, array_agg(DISTINCT memory_id) AS ids
    FROM (SELECT * FROM by_id UNION SELECT * FROM by_text) found
    GROUP BY project_id, id
)
UPDATE memory_exports e SET memory_ids = linked.ids
FROM linked
WHERE e.project_id = linked.project_id AND e.id = linked.id;

-- ...and an export holding a memory deleted since it was made goes, as it would have from now on.
DELETE FROM memory_exports e
WHERE EXISTS (
    SELECT 1 FROM memory_history h
    WHERE h.project_id = e.project_id AND h.memory_id = ANY (e.memory_ids) AND h.event = 'DELETE');
