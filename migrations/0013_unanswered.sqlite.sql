-- The SIG community (issue 12), no post unanswered: when someone other than its author first
-- replied to a topic (set by the reply's own statement, forum/queries/posts.py), and how many
-- hours a group's conveners give a topic before it counts as waiting for an answer.
ALTER TABLE groups ADD COLUMN unanswered_hours INTEGER NOT NULL DEFAULT 24
    CHECK (unanswered_hours BETWEEN 1 AND 720);
ALTER TABLE topics ADD COLUMN answered_at REAL;
UPDATE topics SET answered_at = (
    SELECT min(p.created_at) FROM posts p
    WHERE p.topic_id = topics.id AND p.post_number > 1 AND p.user_id <> topics.user_id
);
CREATE INDEX topics_unanswered ON topics (group_id, created_at) WHERE answered_at IS NULL;
