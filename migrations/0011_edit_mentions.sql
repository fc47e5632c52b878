-- Find and follow (issue 11): an edit that adds @mentions tells the people it adds. Their
-- alert waits in post_alerts like a new post's, marked to tell only those mentioned (the
-- post's watchers and the author it replies to were told, or not, when it was published).
ALTER TABLE post_alerts ADD COLUMN mentions_only BOOLEAN NOT NULL DEFAULT FALSE;
