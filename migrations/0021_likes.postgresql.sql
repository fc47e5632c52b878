-- Issue 13: "thank you" on posts (Discourse's like, post_action_type_id 2). One row per member
-- and post; posts.like_count is kept with each change, in its transaction, so a page reads
-- the count with the post and never counts rows.
CREATE TABLE post_likes (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_user ON post_likes (user_id, post_id);
ALTER TABLE posts ADD COLUMN like_count INTEGER NOT NULL DEFAULT 0;
