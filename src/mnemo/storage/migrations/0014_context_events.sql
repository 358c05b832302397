-- The adds of the (up to four) messages that came just before a memory's in its conversation:
-- a search lifts the memories next to one that matches (mnemo.domain.neighbours). Memories written before keep
-- an empty list: they have no neighbours but those of their own add.
ALTER TABLE memories ADD COLUMN context_events uuid[] NOT NULL DEFAULT '{}';
