-- MNEMO_EMBEDDING_CONTEXT=deferred: a verbatim memory is stored at once with a quick vector (its own, mixed with the
-- remembered vectors of the messages before it: mnemo.pipeline.in_context), and a worker replaces it with the joint
-- vector (the model reading ``input``: the memory with those messages) when its process is idle. A row leaves with
-- its memory, and so with its project.
CREATE TABLE pending_vectors (
    project_id    text NOT NULL,
    memory_id     uuid NOT NULL,
    -- the memory's text hash when it was queued: a memory rewritten since keeps the vector of its new text
    hash          text NOT NULL,
    input         text NOT NULL,
    queued_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- a worker's claim on the row lasts until then (NULL: never claimed)
    claimed_until timestamptz,
    PRIMARY KEY (project_id, memory_id),
    FOREIGN KEY (project_id, memory_id) REFERENCES memories (project_id, id) ON DELETE CASCADE
);
CREATE INDEX pending_vectors_queued ON pending_vectors (queued_at);
