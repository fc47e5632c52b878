-- Find and follow (issue 11), notifications: what a member is told (Discourse's
-- notification types: 1 mentioned, 2 replied, 3 quoted, 9 posted, 14 custom, 17 a new topic
-- in a watched group, 20 post approved), how closely each follows a topic or a group (0 muted,
-- 1 normal, 2 tracking, 3 watching), and whom each has muted.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notification_type INTEGER NOT NULL,
    topic_id INTEGER REFERENCES topics (id) ON DELETE CASCADE,
    post_id INTEGER REFERENCES posts (id) ON DELETE CASCADE,
    post_number INTEGER,
    actor_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    data TEXT NOT NULL DEFAULT '{}',
    read BOOLEAN NOT NULL DEFAULT FALSE,
    created_at REAL NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id) WHERE NOT read;
-- A member is told of a post once, for the strongest reason (a mention before a reply).
CREATE UNIQUE INDEX notifications_once ON notifications (user_id, post_id) WHERE post_id IS NOT NULL;

-- One row per member and topic they follow or have read: the level (NULL set_at: chosen by
-- the forum, when they started or replied to it) and how far they have read.
CREATE TABLE topic_users (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    notification_level INTEGER NOT NULL DEFAULT 1 CHECK (notification_level >= 0 AND notification_level <= 3),
    level_set_at REAL,
    last_read_post_number INTEGER NOT NULL DEFAULT 0,
    last_visited_at REAL,
    PRIMARY KEY (user_id, topic_id)
);
CREATE INDEX topic_users_topic ON topic_users (topic_id, notification_level);

CREATE TABLE group_users (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    notification_level INTEGER NOT NULL CHECK (notification_level >= 0 AND notification_level <= 3),
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX group_users_group ON group_users (group_id, notification_level);

CREATE TABLE user_mutes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    muted_user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    PRIMARY KEY (user_id, muted_user_id),
    CHECK (user_id <> muted_user_id)
);
CREATE INDEX user_mutes_muted ON user_mutes (muted_user_id);

-- Posts whose notifications are still to be made (forum/alerter.py): written in the post's
-- own transaction, so none is lost; done by a background alerter on any node, so a reply
-- costs the same however many people watch its topic.
CREATE TABLE post_alerts (
    post_id INTEGER PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    new_topic BOOLEAN NOT NULL DEFAULT FALSE,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL,
    done_at REAL
);
CREATE INDEX post_alerts_due ON post_alerts (attempts, created_at) WHERE done_at IS NULL;
