-- A message stored verbatim in which the offline extractor's rules find nothing to keep (a greeting, thanks, a
-- question, a reaction to the other speaker): a search keeps part of its score (RankingWeights.small_talk), so
-- what was said about someone comes before what was said around it. Memories written before stay false.
ALTER TABLE memories ADD COLUMN small_talk boolean NOT NULL DEFAULT false;
