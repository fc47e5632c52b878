"""Accounts: users, their sessions and API keys."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list
from forum.queries.notifications import may_read
from forum.queries.topics import recent_since, waiting

# A member's unread notifications about what they may still read; `u` is the member.
UNREAD_OF_U = (
    "SELECT count(*) FROM notifications n LEFT JOIN topics t ON t.id = n.topic_id"
    " LEFT JOIN groups g ON g.id = t.group_id"
    f" WHERE n.user_id = u.id AND NOT n.read AND (n.topic_id IS NULL OR {may_read('u', 'g')})"
)


# Topics waiting for a first answer in the groups `u` convenes (queries/topics.waiting, as
# /unanswered lists them): a member who convenes nothing costs one look at their memberships.
UNANSWERED_OF_U = (
    "SELECT count(*) FROM memberships cm JOIN groups cg ON cg.id = cm.group_id"
    " JOIN topics ct ON ct.group_id = cm.group_id AND ct.answered_at IS NULL"
    " JOIN posts cp ON cp.topic_id = ct.id AND cp.post_number = 1"
    f" WHERE cm.user_id = u.id AND cm.role = 'convener' AND {waiting('ct', 'cg', 'cp')}"
)


# Review items waiting for `u`, as /review/count.json counts them (queries/review.count_pending):
# staff, every one; conveners, their groups'; a member who reviews nothing costs one look at
# their memberships. Read with the session so the header's count is there without JavaScript.
REVIEW_OF_U = (
    "CASE WHEN u.role IN ('admin', 'moderator') THEN"
    " (SELECT count(*) FROM review_items ri WHERE ri.status = 'pending')"
    " WHEN EXISTS (SELECT 1 FROM memberships rm WHERE rm.user_id = u.id AND rm.role = 'convener')"
    " THEN (SELECT count(*) FROM review_items ri WHERE ri.status = 'pending' AND ri.group_id IN"
    " (SELECT rm.group_id FROM memberships rm WHERE rm.user_id = u.id AND rm.role = 'convener'))"
    " ELSE 0 END"
)


def _user_columns(t: str) -> str:
    """The User columns of table alias `t`, with how many groups the user convenes."""
    names = (
        "id, username, email, role, badge, created_at, badge_verified_at, is_guest,"
        " approved_posts, silenced_until, suspended_until"
    )
    return (
        ", ".join(f"{t}.{name.strip()}" for name in names.split(","))
        + f", (SELECT count(*) FROM memberships c WHERE c.user_id = {t}.id"
        " AND c.role = 'convener') AS convenes"
    )


USER_COLUMNS = _user_columns("users")
U_COLUMNS = _user_columns("u")  # for queries that join users as `u`


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str
    role: str
    badge: str
    created_at: float
    badge_verified_at: float | None = None
    is_guest: bool = False
    approved_posts: int = 0
    silenced_until: float | None = None
    suspended_until: float | None = None
    convenes: int = 0  # how many groups this user convenes: they see the review queue

    @classmethod
    def from_row(cls, row: Row) -> User:
        return cls(
            **{k: row[k] for k in ("id", "username", "email", "role", "badge")},
            created_at=row["created_at"],
            badge_verified_at=row["badge_verified_at"],
            is_guest=bool(row["is_guest"]),
            approved_posts=row["approved_posts"],
            silenced_until=row["silenced_until"],
            suspended_until=row["suspended_until"],
            convenes=row["convenes"],
        )


async def get_user(conn: Connection, user_id: int) -> User | None:
    row = await conn.fetch_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = :id", {"id": user_id})
    return User.from_row(row) if row else None


async def get_user_by_username(conn: Connection, username: str) -> User | None:
    row = await conn.fetch_one(
        f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower(:u)", {"u": username}
    )
    return User.from_row(row) if row else None


async def get_login(conn: Connection, login: str) -> tuple[User, str] | None:
    """The user a login name (username or email) names, with their password hash."""
    row = await conn.fetch_one(
        f"SELECT {USER_COLUMNS}, password_hash FROM users"
        " WHERE lower(username) = lower(:l) OR lower(email) = lower(:l)",
        {"l": login},
    )
    return (User.from_row(row), row["password_hash"]) if row else None


async def username_or_email_taken(conn: Connection, username: str, email: str) -> list[str]:
    rows = await conn.fetch_all(
        "SELECT lower(username) = lower(:u) AS name_taken, lower(email) = lower(:e) AS email_taken"
        " FROM users WHERE lower(username) = lower(:u) OR lower(email) = lower(:e)",
        {"u": username, "e": email},
    )
    taken = []
    if any(r["name_taken"] for r in rows):
        taken.append("username")
    if any(r["email_taken"] for r in rows):
        taken.append("email")
    return taken


async def insert_user(
    conn: Connection,
    *,
    username: str,
    email: str,
    password_hash: str,
    role: str,
    badge: str,
    now: float,
) -> User:
    row = await conn.fetch_one(
        "INSERT INTO users (username, email, password_hash, role, badge, created_at)"
        " VALUES (:username, :email, :hash, :role, :badge, :now)"
        f" RETURNING {USER_COLUMNS}",
        {
            "username": username,
            "email": email,
            "hash": password_hash,
            "role": role,
            "badge": badge,
            "now": now,
        },
    )
    assert row is not None
    return User.from_row(row)


async def update_password_hash(
    conn: Connection, user_id: int, password_hash: str, replacing: str
) -> None:
    """Only if the stored hash is still `replacing`: a password changed meanwhile stays."""
    await conn.execute(
        "UPDATE users SET password_hash = :h WHERE id = :id AND password_hash = :old",
        {"h": password_hash, "id": user_id, "old": replacing},
    )


async def count_users(conn: Connection) -> int:
    return int(await conn.fetch_val("SELECT count(*) FROM users"))


async def count_posts_by_user(conn: Connection, user_id: int, group_ids: list[int]) -> int:
    """Posts the user wrote in the given groups (those the viewer may read)."""
    ids_sql, params = in_list("g", group_ids)
    return int(
        await conn.fetch_val(
            "SELECT count(*) FROM posts p JOIN topics t ON t.id = p.topic_id"
            f" WHERE p.user_id = :u AND t.group_id IN {ids_sql}"
            " AND p.hidden_at IS NULL AND p.deleted_at IS NULL",
            params | {"u": user_id},
        )
    )


# --- sessions -------------------------------------------------------------------------------


async def insert_session(
    conn: Connection, *, token_hash: str, user_id: int, now: float, expires_at: float
) -> None:
    await conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
        " VALUES (:t, :u, :now, :exp)",
        {"t": token_hash, "u": user_id, "now": now, "exp": expires_at},
    )


async def get_session_user(conn: Connection, token_hash: str, now: float) -> User | None:
    found = await get_session(conn, token_hash, now)
    return found.user if found else None


@dataclass(frozen=True, slots=True)
class SessionRead:
    user: User
    unread: int  # unread notifications, the header's bell
    bell_head: int  # the last event id of the member's own channel, user:<id>
    unanswered: int  # topics waiting for an answer in the groups they convene
    review_waiting: int = 0  # review items waiting for them (staff and conveners)


async def get_session(conn: Connection, token_hash: str, now: float) -> SessionRead | None:
    """A live session's user, with their unread notifications (the header's bell) counted
    in the same statement, as queries/notifications.count_unread counts them, and the head
    of their channel as of that count: the page's live updates resume after it, so a
    notification made while the page loads still reaches its bell."""
    row = await conn.fetch_one(
        # channel_heads is realtime's table (realtime/log.head reads it the same way).
        f"SELECT {U_COLUMNS}, ({UNREAD_OF_U}) AS unread, (SELECT h.last_id FROM channel_heads h"
        " WHERE h.channel = 'user:' || CAST(u.id AS TEXT)) AS bell_head,"
        f" ({UNANSWERED_OF_U}) AS unanswered, ({REVIEW_OF_U}) AS review_waiting"
        " FROM sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.token_hash = :t AND s.expires_at > :now",
        {"t": token_hash, "now": now, "recent": recent_since(now)},
    )
    if row is None:
        return None
    return SessionRead(
        User.from_row(row),
        int(row["unread"]),
        int(row["bell_head"] or 0),
        int(row["unanswered"]),
        int(row["review_waiting"]),
    )


async def delete_session(conn: Connection, token_hash: str) -> int | None:
    """End a session; the id of its user, or None if there was no such session."""
    user_id = await conn.fetch_val(
        "DELETE FROM sessions WHERE token_hash = :t RETURNING user_id", {"t": token_hash}
    )
    return int(user_id) if user_id is not None else None


# --- API keys -------------------------------------------------------------------------------


async def insert_api_key(conn: Connection, *, key_hash: str, user_id: int, now: float) -> None:
    await conn.execute(
        "INSERT INTO api_keys (key_hash, user_id, created_at) VALUES (:k, :u, :now)",
        {"k": key_hash, "u": user_id, "now": now},
    )


async def get_api_key_user(conn: Connection, key_hash: str) -> User | None:
    row = await conn.fetch_one(
        f"SELECT {U_COLUMNS}"
        " FROM api_keys k JOIN users u ON u.id = k.user_id"
        " WHERE k.key_hash = :k AND k.revoked_at IS NULL",
        {"k": key_hash},
    )
    return User.from_row(row) if row else None


# --- badges, site roles and guests ----------------------------------------------------------


async def mark_guest(conn: Connection, user_id: int) -> User:
    await conn.execute(
        "UPDATE users SET is_guest = :yes WHERE id = :id", {"yes": True, "id": user_id}
    )
    user = await get_user(conn, user_id)
    assert user is not None
    return user


async def get_badge_verifier(conn: Connection, user_id: int) -> str | None:
    """The username of whoever verified the user's badge, if it is verified."""
    name = await conn.fetch_val(
        "SELECT v.username FROM users u JOIN users v ON v.id = u.badge_verified_by"
        " WHERE u.id = :id AND u.badge_verified_at IS NOT NULL",
        {"id": user_id},
    )
    return str(name) if name is not None else None


async def change_badge(conn: Connection, user_id: int, badge: str) -> bool:
    """Set a new badge and drop its verification (it vouched for the old one); False if same."""
    changed = await conn.fetch_val(
        "UPDATE users SET badge = :b, badge_verified_by = NULL, badge_verified_at = NULL"
        " WHERE id = :id AND badge <> :b RETURNING id",
        {"b": badge, "id": user_id},
    )
    return changed is not None


async def verify_badge(
    conn: Connection, user_id: int, *, badge: str, verified_by: int, now: float
) -> bool:
    """Mark the badge verified if it is still `badge` and not yet verified; True if it was."""
    changed = await conn.fetch_val(
        "UPDATE users SET badge_verified_by = :by, badge_verified_at = :now"
        " WHERE id = :id AND badge = :b AND badge_verified_at IS NULL RETURNING id",
        {"by": verified_by, "now": now, "id": user_id, "b": badge},
    )
    return changed is not None


async def unverify_badge(conn: Connection, user_id: int) -> bool:
    changed = await conn.fetch_val(
        "UPDATE users SET badge_verified_by = NULL, badge_verified_at = NULL"
        " WHERE id = :id AND badge_verified_at IS NOT NULL RETURNING id",
        {"id": user_id},
    )
    return changed is not None


async def lock_and_count_admins(conn: Connection) -> int:
    """Count admins while holding their rows, inside a transaction.

    The no-op UPDATE locks every admin row on PostgreSQL (SQLite already has one writer), so
    two admins demoting each other at once queue up, and the second sees the first's change:
    a plain count would let both pass and leave no admin at all.
    """
    await conn.execute("UPDATE users SET role = role WHERE role = 'admin'")
    return int(await conn.fetch_val("SELECT count(*) FROM users WHERE role = 'admin'"))


async def set_site_role(conn: Connection, user_id: int, role: str) -> None:
    await conn.execute("UPDATE users SET role = :r WHERE id = :id", {"r": role, "id": user_id})


async def list_admin_ids(conn: Connection) -> list[int]:
    """The site's admins (told of what waits for them, such as proposed groups)."""
    rows = await conn.fetch_all("SELECT id FROM users WHERE role = 'admin' ORDER BY id")
    return [int(row["id"]) for row in rows]
