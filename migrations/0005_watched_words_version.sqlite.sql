-- Watched words kept in memory by each process (forum/watched.py): a version that every change
-- to the list moves on, whoever makes it (the forum, another process, the command line, an
-- operator's SQL). A content check reads it in its own transaction and re-reads the list only
-- when it has moved, so a word added is in force for every post written after it.
CREATE TABLE watched_words_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO watched_words_version (id, version) VALUES (1, 1);

CREATE TRIGGER watched_words_added AFTER INSERT ON watched_words
BEGIN
    UPDATE watched_words_version SET version = version + 1;
END;

CREATE TRIGGER watched_words_removed AFTER DELETE ON watched_words
BEGIN
    UPDATE watched_words_version SET version = version + 1;
END;

CREATE TRIGGER watched_words_changed AFTER UPDATE ON watched_words
BEGIN
    UPDATE watched_words_version SET version = version + 1;
END;
