-- Hardening: shared login and sign-up limits, idempotent writes, text removed for safety,
-- and table alignment as classes (the pages' Content-Security-Policy forbids inline styles).
-- One file for both dialects: no surrogate ids here, and SQLite reads these type names as
-- the affinities it needs.

-- Rate limits every process shares (logins, sign-ups): one row per counted attempt. Keys
-- are digests (forum/ratelimit.py), never the login name or address itself.
CREATE TABLE rate_events (
    key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX rate_events_key ON rate_events (key, created_at);
CREATE INDEX rate_events_created ON rate_events (created_at);

-- A write sent again with the same Idempotency-Key (and the same content: `digest`) returns
-- what the first one made.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    topic_id BIGINT,
    post_id BIGINT,
    item_id BIGINT,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (user_id, key, digest)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Versions of a post removed from its history for safety (a moderator's redaction, or its
-- author removing identifiable data): readers see that a version was removed; its text
-- moves to redacted_revisions, which only moderators' pages read.
ALTER TABLE post_revisions ADD COLUMN redacted_at DOUBLE PRECISION;
ALTER TABLE post_revisions ADD COLUMN redacted_by BIGINT REFERENCES users (id);
CREATE TABLE redacted_revisions (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    raw TEXT NOT NULL,
    cooked TEXT NOT NULL,
    PRIMARY KEY (post_id, version)
);

UPDATE posts SET cooked =
    replace(replace(replace(replace(replace(replace(cooked,
        '<th style="text-align:left">', '<th class="align-left">'),
        '<th style="text-align:center">', '<th class="align-center">'),
        '<th style="text-align:right">', '<th class="align-right">'),
        '<td style="text-align:left">', '<td class="align-left">'),
        '<td style="text-align:center">', '<td class="align-center">'),
        '<td style="text-align:right">', '<td class="align-right">')
    WHERE cooked LIKE '%style="text-align:%';
UPDATE post_revisions SET cooked =
    replace(replace(replace(replace(replace(replace(cooked,
        '<th style="text-align:left">', '<th class="align-left">'),
        '<th style="text-align:center">', '<th class="align-center">'),
        '<th style="text-align:right">', '<th class="align-right">'),
        '<td style="text-align:left">', '<td class="align-left">'),
        '<td style="text-align:center">', '<td class="align-center">'),
        '<td style="text-align:right">', '<td class="align-right">')
    WHERE cooked LIKE '%style="text-align:%';
UPDATE review_items SET cooked =
    replace(replace(replace(replace(replace(replace(cooked,
        '<th style="text-align:left">', '<th class="align-left">'),
        '<th style="text-align:center">', '<th class="align-center">'),
        '<th style="text-align:right">', '<th class="align-right">'),
        '<td style="text-align:left">', '<td class="align-left">'),
        '<td style="text-align:center">', '<td class="align-center">'),
        '<td style="text-align:right">', '<td class="align-right">')
    WHERE cooked LIKE '%style="text-align:%';
