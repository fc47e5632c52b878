-- The forum core: accounts, groups, topics, posts, revisions and the live event log.
-- Times are seconds since the epoch (REAL), the same in both dialects.
-- channel_heads and events belong to realtime/, whose realtime/schema.py now defines them;
-- migrate() applies that DDL after this file, which finds them made here as before.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator', 'admin')),
    badge TEXT NOT NULL DEFAULT 'other'
        CHECK (badge IN ('patient', 'carer', 'clinician', 'ahp', 'researcher', 'other')),
    created_at REAL NOT NULL
);
-- Queries compare lower(username) on both dialects; these let that use an index here too.
CREATE INDEX users_username_lower ON users (lower(username));
CREATE INDEX users_email_lower ON users (lower(email));

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    revoked_at REAL
);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
    topic_count INTEGER NOT NULL DEFAULT 0,
    post_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

CREATE TABLE memberships (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'convener')),
    created_at REAL NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    slug TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    bumped_at REAL NOT NULL,
    reply_count INTEGER NOT NULL DEFAULT 0,
    highest_post_number INTEGER NOT NULL DEFAULT 0,
    last_poster_id INTEGER REFERENCES users (id),
    closed INTEGER NOT NULL DEFAULT 0,
    pinned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX topics_group_bumped ON topics (group_id, bumped_at DESC, id DESC);
CREATE INDEX topics_bumped ON topics (bumped_at DESC, id DESC);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    post_number INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    raw TEXT NOT NULL,
    cooked TEXT NOT NULL,
    reply_to_post_number INTEGER,
    created_at REAL NOT NULL,
    edited_at REAL,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (topic_id, post_number)
);
CREATE INDEX posts_user ON posts (user_id, created_at);

CREATE TABLE post_revisions (
    id INTEGER PRIMARY KEY,
    post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    raw TEXT NOT NULL,
    cooked TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    UNIQUE (post_id, version)
);

-- The live event log. Ids are per channel and gapless: a writer takes the next id from the
-- channel's head row inside its own transaction, so commit order is id order.
CREATE TABLE channel_heads (
    channel TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (channel, id)
);
CREATE INDEX events_created ON events (created_at);
