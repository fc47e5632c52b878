-- SQLite brought to the schema PostgreSQL already has (tests/test_schema.py compares the two).
-- PostgreSQL needs no change, so this version exists for SQLite only. Rebuilt columns and
-- tables keep their rows; nothing the app reads changes.

-- topics.closed and topics.pinned are booleans, as on PostgreSQL. SQLite keeps 0 and 1 in a
-- BOOLEAN column as in an INTEGER one, and the app reads both with bool(). SQLite cannot
-- change a column's type, so each is added anew, copied, and put in the old one's place.
ALTER TABLE topics ADD COLUMN closed_new BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE topics SET closed_new = closed;
ALTER TABLE topics DROP COLUMN closed;
ALTER TABLE topics RENAME COLUMN closed_new TO closed;

ALTER TABLE topics ADD COLUMN pinned_new BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE topics SET pinned_new = pinned;
ALTER TABLE topics DROP COLUMN pinned;
ALTER TABLE topics RENAME COLUMN pinned_new TO pinned;

-- Case-insensitive uniqueness under the names and in the form PostgreSQL has: a unique index
-- on lower(). The columns' COLLATE NOCASE UNIQUE already forbids the same duplicates (both
-- fold ASCII only), so no existing row can fail these.
DROP INDEX users_username_lower;
DROP INDEX users_email_lower;
CREATE UNIQUE INDEX users_username_ci ON users (lower(username));
CREATE UNIQUE INDEX users_email_ci ON users (lower(email));
CREATE UNIQUE INDEX watched_words_ci ON watched_words (lower(word));

-- channel_heads.channel may not be NULL, as on PostgreSQL (SQLite lets a primary key that is
-- not an INTEGER hold NULLs). The table is rebuilt as realtime/schema.py defines it. A row
-- with a NULL channel could never be read (no channel is NULL) nor bumped (NULLs never
-- conflict), so none is copied.
CREATE TABLE channel_heads_aligned (
    channel TEXT NOT NULL PRIMARY KEY,
    last_id INTEGER NOT NULL
);
INSERT INTO channel_heads_aligned (channel, last_id)
    SELECT channel, last_id FROM channel_heads WHERE channel IS NOT NULL;
DROP TABLE channel_heads;
ALTER TABLE channel_heads_aligned RENAME TO channel_heads;
