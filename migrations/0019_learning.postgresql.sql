-- The SIG community (issue 12), sharing learning: a group's conveners post a short summary
-- of what the group learned, linking the topics, debates and documents it came from; the
-- Learning page and its Atom feed gather them (a private group's, for its members only).
CREATE TABLE learning_updates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    summary_raw TEXT NOT NULL,
    summary_cooked TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX learning_updates_created ON learning_updates (created_at);
CREATE INDEX learning_updates_group ON learning_updates (group_id, created_at);
-- Where it came from: a topic, a debate or a document of the same group.
CREATE TABLE learning_sources (
    update_id BIGINT NOT NULL REFERENCES learning_updates (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('topic', 'debate', 'document')),
    ref_id BIGINT NOT NULL,
    PRIMARY KEY (update_id, position)
);
