-- The SIG community (issue 12), welcoming: each group's Introductions topic, made with it,
-- and when a member said hello there or put the prompt to do so away. The topic's id is
-- not a foreign key: every reply updates its topic's row, and this key pointing at topics
-- with a second partial index on them cost PostgreSQL's write path about 5% together
-- (bench/speedup.py against the tree before); a group whose Introductions is gone shows
-- no invitation (forum/queries/groups.needs_welcome).
ALTER TABLE groups ADD COLUMN introductions_topic_id INTEGER;
ALTER TABLE memberships ADD COLUMN welcomed_at REAL;
