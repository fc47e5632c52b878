-- Moderation and patient safety: account standing, verified badges, the review queue, its
-- audit log, watched words, slow mode and the shared record behind per-user rate limits.

ALTER TABLE users DROP CONSTRAINT users_badge_check;
ALTER TABLE users ADD CONSTRAINT users_badge_check
    CHECK (badge IN ('patient', 'carer', 'clinician', 'ahp', 'researcher', 'organisation', 'other'));
ALTER TABLE users ADD COLUMN badge_verified_by BIGINT REFERENCES users (id);
ALTER TABLE users ADD COLUMN badge_verified_at DOUBLE PRECISION;
ALTER TABLE users ADD COLUMN is_guest INTEGER NOT NULL DEFAULT 0;
-- Posts published or approved so far: the first posts of a new account wait for review.
ALTER TABLE users ADD COLUMN approved_posts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN silenced_until DOUBLE PRECISION;
ALTER TABLE users ADD COLUMN suspended_until DOUBLE PRECISION;

-- Members who posted before this migration are not new: their next post is not held.
UPDATE users SET approved_posts = (SELECT count(*) FROM posts WHERE posts.user_id = users.id);

ALTER TABLE groups ADD COLUMN hold_first_posts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE topics ADD COLUMN slow_mode_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE posts ADD COLUMN hidden_at DOUBLE PRECISION;
ALTER TABLE posts ADD COLUMN deleted_at DOUBLE PRECISION;

-- One row per thing that needs a moderator: a post or topic waiting to be published
-- ('queued': its text lives here until approved), a published post, or an account.
CREATE TABLE review_items (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('queued', 'post', 'user')),
    target_id BIGINT,
    group_id BIGINT REFERENCES groups (id) ON DELETE CASCADE,
    topic_id BIGINT REFERENCES topics (id) ON DELETE CASCADE,
    author_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT,
    raw TEXT,
    cooked TEXT,
    reply_to_post_number INTEGER,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'ignored')),
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    claimed_by BIGINT REFERENCES users (id),
    claimed_at DOUBLE PRECISION,
    resolved_by BIGINT REFERENCES users (id),
    resolved_at DOUBLE PRECISION,
    resolution_note TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX review_items_target ON review_items (kind, target_id)
    WHERE kind <> 'queued';
CREATE INDEX review_items_status ON review_items (status, updated_at);
CREATE INDEX review_items_author ON review_items (author_id, created_at);

-- Why an item is in the queue: each flag, each automatic hold, with its score.
CREATE TABLE review_reasons (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES review_items (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    score DOUBLE PRECISION NOT NULL DEFAULT 1,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX review_reasons_item ON review_reasons (item_id);
CREATE UNIQUE INDEX review_reasons_one_flag ON review_reasons (item_id, user_id)
    WHERE user_id IS NOT NULL;

-- The audit log: every moderator action, kept for good.
CREATE TABLE moderator_actions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id BIGINT NOT NULL REFERENCES users (id),
    action TEXT NOT NULL,
    item_id BIGINT REFERENCES review_items (id) ON DELETE SET NULL,
    group_id BIGINT REFERENCES groups (id) ON DELETE SET NULL,
    target_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    post_id BIGINT,
    topic_id BIGINT,
    note TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX moderator_actions_created ON moderator_actions (created_at DESC, id DESC);
CREATE INDEX moderator_actions_item ON moderator_actions (item_id);

CREATE TABLE watched_words (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    word TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX watched_words_ci ON watched_words (lower(word));

-- Per-user rate limits, shared by every process: one row per counted action.
CREATE TABLE pace_events (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX pace_events_user ON pace_events (user_id, action, created_at);
