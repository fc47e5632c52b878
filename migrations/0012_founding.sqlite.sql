-- The SIG community (issue 12), founding and running groups: a group's core statement and how
-- people join it; proposals for new groups, decided by an admin; requests to join, invite
-- links and bans, decided by the group's conveners (forum/actions/founding.py, membership.py).
ALTER TABLE groups ADD COLUMN aim TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN approach TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN measures TEXT NOT NULL DEFAULT '';
-- open: anyone signed in joins; request: conveners approve; invite: an invite link or a
-- convener adds them (the only way into a private group, which others cannot see).
ALTER TABLE groups ADD COLUMN joining TEXT NOT NULL DEFAULT 'open'
    CHECK (joining IN ('open', 'request', 'invite'));
-- Who sees the member list: its members (and staff), or everyone who may read the group.
ALTER TABLE groups ADD COLUMN members_listed TEXT NOT NULL DEFAULT 'members'
    CHECK (members_listed IN ('members', 'everyone'));
UPDATE groups SET joining = 'invite' WHERE visibility = 'private';

CREATE TABLE group_proposals (
    id INTEGER PRIMARY KEY,
    proposer_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    description TEXT NOT NULL,
    aim TEXT NOT NULL,
    approach TEXT NOT NULL,
    audience TEXT NOT NULL,
    measures TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined')),
    reason TEXT NOT NULL DEFAULT '',
    decided_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    decided_at REAL,
    group_id INTEGER REFERENCES groups (id) ON DELETE SET NULL,
    created_at REAL NOT NULL
);
CREATE INDEX group_proposals_pending ON group_proposals (created_at) WHERE status = 'pending';
CREATE INDEX group_proposals_proposer ON group_proposals (proposer_id, created_at);

CREATE TABLE proposal_conveners (
    proposal_id INTEGER NOT NULL REFERENCES group_proposals (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (proposal_id, user_id)
);

CREATE TABLE join_requests (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    -- Declined: kept a while, so the asker cannot ask again at once (and tell every
    -- convener again); asking after that starts a new request.
    declined_at REAL,
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE group_invites (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    max_uses INTEGER NOT NULL CHECK (max_uses > 0),
    uses INTEGER NOT NULL DEFAULT 0,
    revoked_at REAL
);
CREATE INDEX group_invites_group ON group_invites (group_id, created_at);

CREATE TABLE group_bans (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
