-- The SIG community (issue 12), welcoming: each group's Introductions topic, made with it,
-- and when a member said hello there or put the prompt to do so away.
ALTER TABLE groups ADD COLUMN introductions_topic_id INTEGER REFERENCES topics (id) ON DELETE SET NULL;
ALTER TABLE memberships ADD COLUMN welcomed_at REAL;
