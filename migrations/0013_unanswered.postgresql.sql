-- The SIG community (issue 12), no post unanswered: when someone other than its author first
-- replied to a topic (set by the reply's own statement, forum/queries/posts.py), and how many
-- hours a group's conveners give a topic before it counts as waiting for an answer.
ALTER TABLE groups ADD COLUMN unanswered_hours INTEGER NOT NULL DEFAULT 24
    CHECK (unanswered_hours >= 1 AND unanswered_hours <= 720);
ALTER TABLE topics ADD COLUMN answered_at DOUBLE PRECISION;
-- Only the topics someone answered are written (most are, once): one pass over the replies.
UPDATE topics SET answered_at = a.first_answer FROM (
    SELECT p.topic_id, min(p.created_at) AS first_answer FROM posts p
    JOIN topics t ON t.id = p.topic_id
    WHERE p.post_number > 1 AND p.user_id <> t.user_id GROUP BY p.topic_id
) a WHERE a.topic_id = topics.id;
-- The conveners' list and count, by age. (The group page's Unanswered filter walks the
-- group's topics by bump, topics_group_bumped: an index for it would be one more for every
-- reply to keep.)
CREATE INDEX topics_unanswered ON topics (group_id, created_at) WHERE answered_at IS NULL;
