-- The SIG community (issue 12), profiles: what a member tells others about themselves, who
-- may see it, and their interests (which the directory searches). A member with no row has
-- an empty profile seen by signed-in members (forum/queries/profiles.py: DEFAULT_VISIBILITY).
-- A picture is kept by forum/storage.py, re-encoded (forum/content/pictures.py).
CREATE TABLE profiles (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL DEFAULT '',
    bio TEXT NOT NULL DEFAULT '',
    organisation TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    visibility TEXT NOT NULL DEFAULT 'members'
        CHECK (visibility IN ('everyone', 'members', 'shared_groups')),
    picture_key TEXT,
    picture_version INTEGER NOT NULL DEFAULT 0,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE profile_interests (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    interest TEXT NOT NULL,
    PRIMARY KEY (user_id, interest)
);
CREATE INDEX profile_interests_interest ON profile_interests (interest, user_id);
