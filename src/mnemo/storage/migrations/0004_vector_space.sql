-- Deployment-wide facts that every process must agree on (not tenant data).
-- "vector_space": the embedding model whose vectors the memories hold, recorded by the first process
-- that starts; a process configured with another model refuses to start instead of mixing vectors.
CREATE TABLE deployment (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
