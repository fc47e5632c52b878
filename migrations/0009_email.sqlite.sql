-- Find and follow (issue 11), email: each member's choices, and a durable outbox that
-- `forum serve` sends from (forum/mailer.py). A row names what to send, not its text: the
-- message is made at sending time, so nothing goes to someone who has since lost access,
-- and no held, hidden or removed text goes out.
CREATE TABLE email_prefs (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    immediate BOOLEAN NOT NULL DEFAULT TRUE,
    digest TEXT NOT NULL DEFAULT 'off' CHECK (digest IN ('off', 'daily', 'weekly')),
    last_digest_at REAL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('notification', 'digest')),
    notification_id INTEGER REFERENCES notifications (id) ON DELETE CASCADE,
    since REAL,
    created_at REAL NOT NULL,
    due_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    claimed_until REAL,
    finished_at REAL,
    outcome TEXT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE finished_at IS NULL;

-- Whether emails about this group's posts quote them: NULL follows the group's visibility
-- (public groups yes, private groups no).
ALTER TABLE groups ADD COLUMN email_excerpts BOOLEAN;
