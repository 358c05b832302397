-- A memory's vector stays in its row. pgvector stores vectors EXTERNAL, and PostgreSQL moves a row's largest
-- EXTERNAL values out of line (into the TOAST table) once the row passes ~2 kB: a 384-d vector is 1.5 kB, so a
-- memory with its text, tsv, metadata and entities was just over, and every distance of the exact scan read its
-- vector through the TOAST index, one lookup per memory in scope. Rows are now moved out of line only past 8 kB
-- (large texts, or vectors of many dimensions). Rows written before keep their out-of-line vectors until they
-- are rewritten (VACUUM FULL memories).
ALTER TABLE memories SET (toast_tuple_target = 8160);
