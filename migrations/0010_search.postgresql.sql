-- Find and follow (issue 11), search: a tsvector column over each post's text, and an index
-- over topics' titles, both GIN, searched with websearch_to_tsquery (forum/queries/search.py).
-- Held posts are not posts yet, and a debate's questions become posts only when revealed,
-- so neither is here; hidden and removed posts are, and searches leave them out.
-- SQLite: FTS5 tables kept in step by triggers instead.
ALTER TABLE posts ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english', raw)) STORED;
CREATE INDEX posts_search ON posts USING gin (search);
CREATE INDEX topics_search ON topics USING gin (to_tsvector('english', title));
