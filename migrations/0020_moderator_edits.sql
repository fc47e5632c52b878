-- Issue 13: a held post a moderator edited before approving says so, to its author (their
-- "posts in review" page) and to its readers (a mark on the post). The author's original
-- words are not kept (the edit usually took out something that must not be seen).
ALTER TABLE review_items ADD COLUMN edited BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE posts ADD COLUMN edited_by_moderator BOOLEAN NOT NULL DEFAULT FALSE;
