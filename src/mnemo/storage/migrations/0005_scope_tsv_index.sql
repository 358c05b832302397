-- Keyword matching reads only the searched scope's matches: the full-text index also holds the
-- project and user (btree_gin), so a common word no longer returns every user's rows before the
-- scope filter (the keyword leg grew from 2.6 to 7.9 ms p50 between 100,000 and 1,000,000 memories).
-- Scopes without a user (agent, run) still use the project column of the same index.
CREATE EXTENSION IF NOT EXISTS btree_gin;
CREATE INDEX memories_scope_tsv ON memories USING gin (project_id, user_id, tsv);
DROP INDEX memories_tsv;
