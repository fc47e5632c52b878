"""Groups (SIGs) and who belongs to them."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row

GROUP_COLUMNS = (
    "id, slug, name, description, visibility, topic_count, post_count, created_at,"
    " hold_first_posts, email_excerpts, aim, approach, audience, measures, joining,"
    " members_listed, unanswered_hours, introductions_topic_id"
)
JOINING = ("open", "request", "invite")
MEMBERS_LISTED = ("members", "everyone")


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    slug: str
    name: str
    description: str
    visibility: str
    topic_count: int
    post_count: int
    created_at: float
    hold_first_posts: int = 1  # a new account's first N posts here wait for a moderator
    email_excerpts: bool | None = None  # emails quote its posts (None: if the group is public)
    # Its core statement: what it is trying to do, how, who for, how it will know.
    aim: str = ""
    approach: str = ""
    audience: str = ""
    measures: str = ""
    joining: str = "open"  # open, request (conveners approve) or invite (links, or added)
    members_listed: str = "members"  # who sees the member list: members, or everyone
    unanswered_hours: int = 24  # a topic with no reply from others this long is waiting
    introductions_topic_id: int | None = None  # where new members say hello

    @property
    def has_statement(self) -> bool:
        return any((self.aim, self.approach, self.audience, self.measures))

    @property
    def is_private(self) -> bool:
        return self.visibility == "private"

    @classmethod
    def from_row(cls, row: Row) -> Group:
        values = {name: row[name] for name in cls.__slots__}
        if values["email_excerpts"] is not None:
            values["email_excerpts"] = bool(values["email_excerpts"])
        return cls(**values)


async def list_groups(conn: Connection) -> list[Group]:
    rows = await conn.fetch_all(f"SELECT {GROUP_COLUMNS} FROM groups ORDER BY name, id")
    return [Group.from_row(r) for r in rows]


async def get_group(conn: Connection, group_id: int) -> Group | None:
    row = await conn.fetch_one(
        f"SELECT {GROUP_COLUMNS} FROM groups WHERE id = :id", {"id": group_id}
    )
    return Group.from_row(row) if row else None


async def get_group_by_slug(conn: Connection, slug: str) -> Group | None:
    row = await conn.fetch_one(f"SELECT {GROUP_COLUMNS} FROM groups WHERE slug = :s", {"s": slug})
    return Group.from_row(row) if row else None


async def insert_group(
    conn: Connection, *, slug: str, name: str, description: str, visibility: str, now: float
) -> Group:
    row = await conn.fetch_one(
        "INSERT INTO groups (slug, name, description, visibility, created_at)"
        f" VALUES (:slug, :name, :d, :v, :now) RETURNING {GROUP_COLUMNS}",
        {"slug": slug, "name": name, "d": description, "v": visibility, "now": now},
    )
    assert row is not None
    return Group.from_row(row)


async def count_groups(conn: Connection) -> int:
    return int(await conn.fetch_val("SELECT count(*) FROM groups"))


# --- memberships ----------------------------------------------------------------------------


async def get_membership_role(conn: Connection, group_id: int, user_id: int) -> str | None:
    role = await conn.fetch_val(
        "SELECT role FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )
    return str(role) if role is not None else None


async def get_memberships(conn: Connection, user_id: int) -> dict[int, str]:
    """group id -> role, for every group the user belongs to."""
    rows = await conn.fetch_all(
        "SELECT group_id, role FROM memberships WHERE user_id = :u", {"u": user_id}
    )
    return {int(r["group_id"]): str(r["role"]) for r in rows}


async def upsert_membership(
    conn: Connection, *, group_id: int, user_id: int, role: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO memberships (group_id, user_id, role, created_at) VALUES (:g, :u, :r, :now)"
        " ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role",
        {"g": group_id, "u": user_id, "r": role, "now": now},
    )


async def delete_membership(conn: Connection, group_id: int, user_id: int) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )


async def list_members(conn: Connection, group_id: int, limit: int = 200) -> list[Row]:
    return await conn.fetch_all(
        "SELECT u.username, u.badge, m.role FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = :g ORDER BY m.role DESC, lower(u.username) LIMIT :lim",
        {"g": group_id, "lim": limit},
    )


async def set_membership_role(conn: Connection, group_id: int, user_id: int, role: str) -> bool:
    """Change an existing member's role; False if the user is not a member."""
    found = await conn.fetch_val(
        "UPDATE memberships SET role = :r WHERE group_id = :g AND user_id = :u RETURNING user_id",
        {"r": role, "g": group_id, "u": user_id},
    )
    return found is not None


async def set_hold_first_posts(conn: Connection, group_id: int, posts: int) -> None:
    await conn.execute(
        "UPDATE groups SET hold_first_posts = :n WHERE id = :id", {"n": posts, "id": group_id}
    )


async def update_group(conn: Connection, group_id: int, **fields: object) -> None:
    """Change some of a group's own fields (description, statement, settings)."""
    allowed = {
        "name",
        "description",
        "aim",
        "approach",
        "audience",
        "measures",
        "joining",
        "members_listed",
        "unanswered_hours",
        "introductions_topic_id",
    }
    assert set(fields) <= allowed, fields
    sets = ", ".join(f"{name} = :{name}" for name in fields)
    await conn.execute(f"UPDATE groups SET {sets} WHERE id = :id", fields | {"id": group_id})


async def list_conveners(conn: Connection, group_id: int) -> list[int]:
    rows = await conn.fetch_all(
        "SELECT user_id FROM memberships WHERE group_id = :g AND role = 'convener'"
        " ORDER BY user_id",
        {"g": group_id},
    )
    return [int(row["user_id"]) for row in rows]


# --- bans, requests to join, invite links -----------------------------------------------------


async def is_banned(conn: Connection, group_id: int, user_id: int) -> bool:
    row = await conn.fetch_one(
        "SELECT 1 FROM group_bans WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )
    return row is not None


async def add_ban(
    conn: Connection, group_id: int, user_id: int, by: int, reason: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO group_bans (group_id, user_id, banned_by, reason, created_at)"
        " VALUES (:g, :u, :by, :reason, :now) ON CONFLICT (group_id, user_id) DO NOTHING",
        {"g": group_id, "u": user_id, "by": by, "reason": reason, "now": now},
    )


async def remove_ban(conn: Connection, group_id: int, user_id: int) -> bool:
    row = await conn.fetch_one(
        "DELETE FROM group_bans WHERE group_id = :g AND user_id = :u RETURNING user_id",
        {"g": group_id, "u": user_id},
    )
    return row is not None


async def list_bans(conn: Connection, group_id: int) -> list[Row]:
    return await conn.fetch_all(
        "SELECT u.username, b.reason, b.created_at FROM group_bans b"
        " JOIN users u ON u.id = b.user_id WHERE b.group_id = :g ORDER BY lower(u.username)",
        {"g": group_id},
    )


async def add_join_request(
    conn: Connection, group_id: int, user_id: int, message: str, now: float, *, retry_after: float
) -> bool:
    """A new request; False if one waits already, or one was declined after `retry_after`.
    A request declined before then is replaced."""
    row = await conn.fetch_one(
        "INSERT INTO join_requests (group_id, user_id, message, created_at)"
        " VALUES (:g, :u, :m, :now) ON CONFLICT (group_id, user_id) DO UPDATE SET"
        " message = excluded.message, created_at = excluded.created_at, declined_at = NULL"
        " WHERE join_requests.declined_at IS NOT NULL AND join_requests.declined_at < :retry"
        " RETURNING user_id",
        {"g": group_id, "u": user_id, "m": message, "now": now, "retry": retry_after},
    )
    return row is not None


async def take_join_request(conn: Connection, group_id: int, user_id: int) -> bool:
    """Remove a waiting request (accepted, withdrawn, or made moot by joining); False if
    none waited."""
    row = await conn.fetch_one(
        "DELETE FROM join_requests WHERE group_id = :g AND user_id = :u AND declined_at IS NULL"
        " RETURNING user_id",
        {"g": group_id, "u": user_id},
    )
    return row is not None


async def decline_join_request(conn: Connection, group_id: int, user_id: int, now: float) -> bool:
    """Mark a waiting request declined (kept, to hold back asking again); False if none waited."""
    row = await conn.fetch_one(
        "UPDATE join_requests SET declined_at = :now WHERE group_id = :g AND user_id = :u"
        " AND declined_at IS NULL RETURNING user_id",
        {"g": group_id, "u": user_id, "now": now},
    )
    return row is not None


async def join_request_state(conn: Connection, group_id: int, user_id: int) -> Row | None:
    """The member's request, waiting or declined (its `declined_at`), if any."""
    return await conn.fetch_one(
        "SELECT created_at, declined_at FROM join_requests WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )


async def standing(conn: Connection, group_id: int, user_id: int) -> tuple[str, bool]:
    """A non-member's standing in a group, in one statement: their request to join
    ("waiting", "declined" or "") and whether they are banned (the group page)."""
    row = await conn.fetch_one(
        "SELECT (SELECT CASE WHEN r.declined_at IS NULL THEN 'waiting' ELSE 'declined' END"
        " FROM join_requests r WHERE r.group_id = :g AND r.user_id = :u) AS asked,"
        " EXISTS (SELECT 1 FROM group_bans b WHERE b.group_id = :g AND b.user_id = :u)"
        " AS banned",
        {"g": group_id, "u": user_id},
    )
    assert row is not None
    return str(row["asked"] or ""), bool(row["banned"])


async def list_join_requests(conn: Connection, group_id: int) -> list[Row]:
    return await conn.fetch_all(
        "SELECT u.username, u.badge, r.message, r.created_at FROM join_requests r"
        " JOIN users u ON u.id = r.user_id WHERE r.group_id = :g AND r.declined_at IS NULL"
        " ORDER BY r.created_at",
        {"g": group_id},
    )


async def count_join_requests(conn: Connection, group_id: int) -> int:
    return int(
        await conn.fetch_val(
            "SELECT count(*) FROM join_requests WHERE group_id = :g AND declined_at IS NULL",
            {"g": group_id},
        )
    )


async def count_invites(conn: Connection, group_id: int, now: float) -> int:
    """The group's invite links that still work."""
    return int(
        await conn.fetch_val(
            "SELECT count(*) FROM group_invites WHERE group_id = :g AND revoked_at IS NULL"
            " AND expires_at > :now AND uses < max_uses",
            {"g": group_id, "now": now},
        )
    )


async def add_membership_if_absent(
    conn: Connection, *, group_id: int, user_id: int, now: float
) -> bool:
    """Make them a member unless they are one already (never changing a convener's role)."""
    row = await conn.fetch_one(
        "INSERT INTO memberships (group_id, user_id, role, created_at)"
        " VALUES (:g, :u, 'member', :now) ON CONFLICT (group_id, user_id) DO NOTHING"
        " RETURNING user_id",
        {"g": group_id, "u": user_id, "now": now},
    )
    return row is not None


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    group_id: int
    created_at: float
    expires_at: float
    max_uses: int
    uses: int
    revoked_at: float | None

    @classmethod
    def from_row(cls, row: Row) -> Invite:
        return cls(**{name: row[name] for name in cls.__slots__})


_INVITE_COLUMNS = "id, group_id, created_at, expires_at, max_uses, uses, revoked_at"


async def insert_invite(
    conn: Connection,
    *,
    group_id: int,
    token_hash: str,
    by: int,
    expires_at: float,
    max_uses: int,
    now: float,
) -> Invite:
    row = await conn.fetch_one(
        "INSERT INTO group_invites (group_id, token_hash, created_by, created_at, expires_at,"
        f" max_uses) VALUES (:g, :h, :by, :now, :exp, :max) RETURNING {_INVITE_COLUMNS}",
        {"g": group_id, "h": token_hash, "by": by, "now": now, "exp": expires_at, "max": max_uses},
    )
    assert row is not None
    return Invite.from_row(row)


async def list_invites(conn: Connection, group_id: int, now: float) -> list[Invite]:
    """The group's invites still usable: not revoked, not expired, not used up."""
    rows = await conn.fetch_all(
        f"SELECT {_INVITE_COLUMNS} FROM group_invites WHERE group_id = :g AND revoked_at IS NULL"
        " AND expires_at > :now AND uses < max_uses ORDER BY created_at DESC",
        {"g": group_id, "now": now},
    )
    return [Invite.from_row(row) for row in rows]


async def get_invite(conn: Connection, token_hash: str) -> Invite | None:
    row = await conn.fetch_one(
        f"SELECT {_INVITE_COLUMNS} FROM group_invites WHERE token_hash = :h", {"h": token_hash}
    )
    return Invite.from_row(row) if row else None


async def use_invite(conn: Connection, invite_id: int, now: float) -> bool:
    """Count one use, if the invite is still usable (in one statement: two people following
    the last use at once cannot both get in)."""
    row = await conn.fetch_one(
        "UPDATE group_invites SET uses = uses + 1 WHERE id = :id AND revoked_at IS NULL"
        " AND expires_at > :now AND uses < max_uses RETURNING id",
        {"id": invite_id, "now": now},
    )
    return row is not None


async def revoke_invite(conn: Connection, group_id: int, invite_id: int, now: float) -> bool:
    row = await conn.fetch_one(
        "UPDATE group_invites SET revoked_at = :now WHERE id = :id AND group_id = :g"
        " AND revoked_at IS NULL RETURNING id",
        {"id": invite_id, "g": group_id, "now": now},
    )
    return row is not None


# --- welcoming ------------------------------------------------------------------------------


async def needs_welcome(conn: Connection, group: Group, user_id: int) -> bool:
    """A member who has neither said hello in the group's Introductions topic nor put the
    prompt away."""
    if group.introductions_topic_id is None:
        return False
    # Not while the topic cannot take their hello (closed, or its opening post hidden).
    row = await conn.fetch_one(
        "SELECT 1 FROM memberships m JOIN topics t ON t.id = :t AND NOT t.closed"
        " JOIN posts p1 ON p1.topic_id = t.id AND p1.post_number = 1 AND p1.hidden_at IS NULL"
        " AND p1.deleted_at IS NULL WHERE m.group_id = :g AND m.user_id = :u"
        " AND m.role = 'member' AND m.welcomed_at IS NULL AND NOT EXISTS (SELECT 1 FROM posts p"
        " WHERE p.topic_id = :t AND p.user_id = :u)",
        {"g": group.id, "u": user_id, "t": group.introductions_topic_id},
    )
    return row is not None


async def set_welcomed(conn: Connection, group_id: int, user_id: int, now: float) -> bool:
    row = await conn.fetch_one(
        "UPDATE memberships SET welcomed_at = :now WHERE group_id = :g AND user_id = :u"
        " AND welcomed_at IS NULL RETURNING user_id",
        {"g": group_id, "u": user_id, "now": now},
    )
    return row is not None


async def set_first_posted(conn: Connection, group_id: int, user_id: int, now: float) -> None:
    """Count the member as having posted in the group (posts.write_post marks a member's
    first post for the others to welcome)."""
    await conn.execute(
        "UPDATE memberships SET first_posted_at = :now WHERE group_id = :g AND user_id = :u"
        " AND first_posted_at IS NULL",
        {"g": group_id, "u": user_id, "now": now},
    )


# Who belongs to a group changes under one lock per group, so that a ban and a join racing
# cannot both pass their checks (the join would keep a banned person in). SQLite's writers
# are one at a time already.
_MEMBERSHIP_LOCK_PREFIX = 0x6D656D62 << 32


def membership_lock(group_id: int) -> int:
    """For `db.transaction(locks=[...])`: taken with BEGIN on PostgreSQL."""
    return _MEMBERSHIP_LOCK_PREFIX + group_id


async def lock_memberships(conn: Connection, group_id: int) -> None:
    """The same lock, taken within a transaction that learns the group as it goes."""
    key = membership_lock(group_id)
    if conn.dialect == "postgresql" and key not in conn.locks:
        await conn.execute("SELECT pg_advisory_xact_lock(:key)", {"key": key})


# --- moving topics, and who can read a group --------------------------------------------------


async def list_convened(conn: Connection, user_id: int) -> list[Group]:
    """The groups the user convenes, by name."""
    columns = ", ".join(f"g.{name.strip()}" for name in GROUP_COLUMNS.split(","))
    rows = await conn.fetch_all(
        f"SELECT {columns} FROM groups g JOIN memberships m ON m.group_id = g.id"
        " WHERE m.user_id = :u AND m.role = 'convener' ORDER BY g.name, g.id",
        {"u": user_id},
    )
    return [Group.from_row(r) for r in rows]


async def shift_counts(
    conn: Connection, from_group_id: int, to_group_id: int, *, topics: int, posts: int
) -> None:
    """Move `topics` topics and `posts` posts from one group's counts to another's (a topic
    moved). The rows are changed in id order, so two moves crossing between the same two
    groups cannot deadlock on PostgreSQL."""
    signed = {from_group_id: -1, to_group_id: 1}
    for group_id in sorted(signed):
        await conn.execute(
            "UPDATE groups SET topic_count = topic_count + :topics,"
            " post_count = post_count + :posts WHERE id = :g",
            {"topics": signed[group_id] * topics, "posts": signed[group_id] * posts, "g": group_id},
        )


async def set_visibility(conn: Connection, group_id: int, visibility: str) -> bool:
    """Make a group public or private; False if it was that already. A private group is
    joined by invitation only, so making one private sets its joining to match."""
    row = await conn.fetch_one(
        "UPDATE groups SET visibility = :v,"
        " joining = CASE WHEN :v = 'private' THEN 'invite' ELSE joining END"
        " WHERE id = :g AND visibility <> :v RETURNING id",
        {"v": visibility, "g": group_id},
    )
    return row is not None


async def guest_member_names(conn: Connection, group_id: int, limit: int = 5) -> list[str]:
    """Guest accounts that belong to the group (guests may not be in a private group)."""
    rows = await conn.fetch_all(
        "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = :g AND u.is_guest ORDER BY lower(u.username) LIMIT :lim",
        {"g": group_id, "lim": limit},
    )
    return [str(r["username"]) for r in rows]
