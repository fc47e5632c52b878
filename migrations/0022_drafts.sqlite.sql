-- Issue 13, composing: drafts kept on the server as they are typed (Discourse's drafts), so a
-- reload, a crash or another device loses nothing. One row per member and place: draft_key
-- "topic_<id>" (a reply) or "new_topic_<group id>". `data` is JSON (raw, title,
-- reply_to_post_number); `sequence` rises with each save, and a save naming another is refused,
-- so a stale window never overwrites a newer draft. The post that sends a draft deletes it.
CREATE TABLE user_drafts (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    draft_key TEXT NOT NULL,
    data TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (user_id, draft_key)
);
