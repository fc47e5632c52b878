-- Find and follow (issue 11), search: FTS5 indexes over posts' text and topics' titles, kept
-- in step by triggers (external content: the text is stored once, in posts and topics).
-- Held posts are not posts yet, and a debate's questions become posts only when revealed,
-- so neither is here; hidden and removed posts are, and searches leave them out
-- (forum/queries/search.py). PostgreSQL: a tsvector column and a GIN index instead.
CREATE VIRTUAL TABLE search_posts USING fts5(
    raw, content = 'posts', content_rowid = 'id', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_posts_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_posts (rowid, raw) VALUES (new.id, new.raw);
END;
CREATE TRIGGER search_posts_delete AFTER DELETE ON posts BEGIN
    INSERT INTO search_posts (search_posts, rowid, raw) VALUES ('delete', old.id, old.raw);
END;
CREATE TRIGGER search_posts_update AFTER UPDATE OF raw ON posts BEGIN
    INSERT INTO search_posts (search_posts, rowid, raw) VALUES ('delete', old.id, old.raw);
    INSERT INTO search_posts (rowid, raw) VALUES (new.id, new.raw);
END;
INSERT INTO search_posts (search_posts) VALUES ('rebuild');

CREATE VIRTUAL TABLE search_topics USING fts5(
    title, content = 'topics', content_rowid = 'id', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_topics_insert AFTER INSERT ON topics BEGIN
    INSERT INTO search_topics (rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER search_topics_delete AFTER DELETE ON topics BEGIN
    INSERT INTO search_topics (search_topics, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER search_topics_update AFTER UPDATE OF title ON topics BEGIN
    INSERT INTO search_topics (search_topics, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO search_topics (rowid, title) VALUES (new.id, new.title);
END;
INSERT INTO search_topics (search_topics) VALUES ('rebuild');
