-- The SIG community (issue 12), events: a group's meetings, with who is going, a waiting list
-- when places are limited, and calendar feeds. Times are epoch seconds (UTC); time_zone is
-- the organiser's, to show and edit them in. A member's private feed address is signed with
-- the site's secret over calendar_version: resetting it (version + 1) ends the old address.
CREATE TABLE group_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    time_zone TEXT NOT NULL,
    online_url TEXT,
    place TEXT,
    capacity INTEGER CHECK (capacity IS NULL OR capacity > 0),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    cancelled_at REAL,
    sequence INTEGER NOT NULL DEFAULT 0,
    CHECK (ends_at > starts_at)
);
CREATE INDEX group_events_group ON group_events (group_id, starts_at);
CREATE TABLE group_event_answers (
    event_id INTEGER NOT NULL REFERENCES group_events (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    answer TEXT NOT NULL CHECK (answer IN ('going', 'waiting', 'maybe', 'not_going')),
    answered_at REAL NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
ALTER TABLE memberships ADD COLUMN calendar_version INTEGER NOT NULL DEFAULT 0;
