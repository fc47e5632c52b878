-- The SIG community (issue 12), documents: each group's shared files and links, with tags.
-- A file's bytes are kept by forum/storage.py under storage_key (random); its kind is what
-- its content is (forum/content/filetypes.py), never what its name claimed.
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    url TEXT,
    storage_key TEXT,
    filename TEXT,
    content_type TEXT,
    size_bytes INTEGER,
    created_at REAL NOT NULL,
    CHECK ((url IS NULL) <> (storage_key IS NULL))
);
CREATE INDEX documents_group ON documents (group_id, created_at);
CREATE TABLE document_tags (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (document_id, tag)
);
CREATE INDEX document_tags_tag ON document_tags (tag, document_id);
