"""The review queue: items, their reasons, claims and the version-checked resolution."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list

ITEM_SELECT = (
    "SELECT i.id, i.kind, i.target_id, i.group_id, i.topic_id, i.author_id,"
    " a.username AS author_username, a.badge AS author_badge, a.is_guest AS author_is_guest,"
    " a.role AS author_role,"
    " a.approved_posts AS author_approved_posts, i.title, i.raw, i.cooked,"
    " i.reply_to_post_number, i.status, i.score, i.version,"
    " c.username AS claimed_by_username, i.claimed_at, r.username AS resolved_by_username,"
    " i.resolved_at, i.resolution_note, i.created_at, i.updated_at, i.edited,"
    " g.name AS group_name, g.slug AS group_slug, t.title AS topic_title, t.slug AS topic_slug"
    " FROM review_items i JOIN users a ON a.id = i.author_id"
    " LEFT JOIN users c ON c.id = i.claimed_by LEFT JOIN users r ON r.id = i.resolved_by"
    " LEFT JOIN groups g ON g.id = i.group_id LEFT JOIN topics t ON t.id = i.topic_id"
)


@dataclass(frozen=True, slots=True)
class Reason:
    reason: str
    note: str
    score: float
    username: str | None  # who flagged; None for the forum's own checks
    created_at: float


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    kind: str  # 'queued' (waiting to be published), 'post' (published), 'user' (an account)
    target_id: int | None
    group_id: int | None
    topic_id: int | None
    author_id: int
    author_username: str
    author_badge: str
    author_is_guest: bool
    author_approved_posts: int
    title: str | None
    raw: str | None
    cooked: str | None
    reply_to_post_number: int | None
    status: str
    score: float
    version: int
    claimed_by_username: str | None
    claimed_at: float | None
    resolved_by_username: str | None
    resolved_at: float | None
    resolution_note: str | None
    created_at: float
    updated_at: float
    group_name: str | None
    group_slug: str | None
    topic_title: str | None
    topic_slug: str | None
    author_role: str = "member"
    edited: bool = False  # a moderator changed the words before approving
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def from_row(cls, row: Row, reasons: tuple[Reason, ...] = ()) -> Item:
        values = {name: row[name] for name in cls.__slots__ if name != "reasons"}
        values["author_is_guest"] = bool(values["author_is_guest"])
        values["edited"] = bool(values["edited"])
        return cls(**values, reasons=reasons)

    @property
    def is_new_topic(self) -> bool:
        return self.kind == "queued" and self.topic_id is None


async def _with_reasons(conn: Connection, rows: list[Row]) -> list[Item]:
    if not rows:
        return []
    ids_sql, params = in_list("i", [r["id"] for r in rows])
    reason_rows = await conn.fetch_all(
        "SELECT rr.item_id, rr.reason, rr.note, rr.score, u.username, rr.created_at"
        " FROM review_reasons rr LEFT JOIN users u ON u.id = rr.user_id"
        f" WHERE rr.item_id IN {ids_sql} ORDER BY rr.id",
        params,
    )
    by_item: dict[int, list[Reason]] = {}
    for r in reason_rows:
        by_item.setdefault(r["item_id"], []).append(
            Reason(r["reason"], r["note"], r["score"], r["username"], r["created_at"])
        )
    return [Item.from_row(row, tuple(by_item.get(row["id"], ()))) for row in rows]


async def get_item(conn: Connection, item_id: int) -> Item | None:
    row = await conn.fetch_one(f"{ITEM_SELECT} WHERE i.id = :id", {"id": item_id})
    if row is None:
        return None
    return (await _with_reasons(conn, [row]))[0]


async def find_item(conn: Connection, kind: str, target_id: int) -> Item | None:
    row = await conn.fetch_one(
        f"{ITEM_SELECT} WHERE i.kind = :k AND i.target_id = :t", {"k": kind, "t": target_id}
    )
    if row is None:
        return None
    return (await _with_reasons(conn, [row]))[0]


def _scope(group_ids: list[int] | None) -> tuple[str, dict[str, object]]:
    """Staff (None) see everything; conveners only their groups' items."""
    if group_ids is None:
        return "1 = 1", {}
    ids_sql, params = in_list("g", group_ids)
    return f"i.group_id IN {ids_sql}", params


async def list_items(
    conn: Connection, *, group_ids: list[int] | None, pending: bool, limit: int
) -> list[Item]:
    """Pending items oldest first (nothing waits forever); resolved ones newest first."""
    scope, params = _scope(group_ids)
    order = "i.created_at, i.id" if pending else "i.resolved_at DESC, i.id DESC"
    status = "i.status = 'pending'" if pending else "i.status <> 'pending'"
    rows = await conn.fetch_all(
        f"{ITEM_SELECT} WHERE {status} AND {scope} ORDER BY {order} LIMIT :lim",
        params | {"lim": limit},
    )
    return await _with_reasons(conn, rows)


async def count_pending(conn: Connection, group_ids: list[int] | None) -> int:
    scope, params = _scope(group_ids)
    return int(
        await conn.fetch_val(
            f"SELECT count(*) FROM review_items i WHERE i.status = 'pending' AND {scope}", params
        )
    )


async def list_authored(conn: Connection, author_id: int, limit: int) -> list[Item]:
    """What a member sent that waited for review, newest first, with the outcome."""
    rows = await conn.fetch_all(
        f"{ITEM_SELECT} WHERE i.author_id = :a AND i.kind <> 'user'"
        " ORDER BY i.created_at DESC, i.id DESC LIMIT :lim",
        {"a": author_id, "lim": limit},
    )
    return await _with_reasons(conn, rows)


async def insert_item(
    conn: Connection,
    *,
    kind: str,
    target_id: int | None,
    group_id: int | None,
    topic_id: int | None,
    author_id: int,
    now: float,
    title: str | None = None,
    raw: str | None = None,
    cooked: str | None = None,
    reply_to_post_number: int | None = None,
) -> int:
    # Two first flags on one post may race: the second finds the row the first made.
    item_id = await conn.fetch_val(
        "INSERT INTO review_items (kind, target_id, group_id, topic_id, author_id, title, raw,"
        " cooked, reply_to_post_number, created_at, updated_at)"
        " VALUES (:kind, :target, :grp, :topic, :author, :title, :raw, :cooked, :reply,"
        " :now, :now) ON CONFLICT (kind, target_id) WHERE kind <> 'queued' DO NOTHING"
        " RETURNING id",
        {
            "kind": kind,
            "target": target_id,
            "grp": group_id,
            "topic": topic_id,
            "author": author_id,
            "title": title,
            "raw": raw,
            "cooked": cooked,
            "reply": reply_to_post_number,
            "now": now,
        },
    )
    if item_id is None:
        item_id = await conn.fetch_val(
            "SELECT id FROM review_items WHERE kind = :k AND target_id = :t",
            {"k": kind, "t": target_id},
        )
    return int(item_id)


async def add_reason(
    conn: Connection,
    *,
    item_id: int,
    user_id: int | None,
    reason: str,
    note: str,
    score: float,
    now: float,
) -> float | None:
    """Add a reason and its score; the item's score now, or None if this user had already
    flagged the item.

    A new reason is a new version of the item: a moderator deciding on what they saw before
    it is told the item changed. The unique index settles two flags racing (no 500)."""
    added = await conn.fetch_one(
        "INSERT INTO review_reasons (item_id, user_id, reason, note, score, created_at)"
        " VALUES (:i, :u, :r, :n, :s, :now)"
        " ON CONFLICT (item_id, user_id) WHERE user_id IS NOT NULL DO NOTHING RETURNING id",
        {"i": item_id, "u": user_id, "r": reason, "n": note, "s": score, "now": now},
    )
    if added is None:
        return None
    total = await conn.fetch_val(
        "UPDATE review_items SET score = score + :s, version = version + 1, updated_at = :now"
        " WHERE id = :i RETURNING score",
        {"i": item_id, "s": score, "now": now},
    )
    return float(total)


async def reopen_item(conn: Connection, item_id: int, now: float) -> None:
    """A resolved item flagged again goes back to the queue, as a new version."""
    await conn.execute(
        "UPDATE review_items SET status = 'pending', version = version + 1, resolved_by = NULL,"
        " resolved_at = NULL, resolution_note = NULL, claimed_by = NULL, claimed_at = NULL,"
        " score = 0, updated_at = :now WHERE id = :i AND status <> 'pending'",
        {"i": item_id, "now": now},
    )


async def resolve_item(
    conn: Connection,
    *,
    item_id: int,
    expected_version: int,
    status: str,
    resolved_by: int,
    note: str,
    now: float,
) -> bool:
    """Resolve a pending item at the version the moderator saw. False if someone else acted
    first: on PostgreSQL the second UPDATE waits for the first's row lock, then finds the
    version moved on; on SQLite the write lock orders them the same way."""
    row = await conn.fetch_one(
        "UPDATE review_items SET status = :s, version = version + 1, resolved_by = :by,"
        " resolved_at = :now, resolution_note = :note, claimed_by = NULL, claimed_at = NULL,"
        " updated_at = :now WHERE id = :i AND version = :v AND status = 'pending' RETURNING id",
        {
            "s": status,
            "by": resolved_by,
            "now": now,
            "note": note,
            "i": item_id,
            "v": expected_version,
        },
    )
    return row is not None


async def set_item_content(
    conn: Connection, item_id: int, *, raw: str, cooked: str, now: float
) -> None:
    await conn.execute(
        "UPDATE review_items SET raw = :raw, cooked = :cooked, version = version + 1,"
        " updated_at = :now WHERE id = :i AND (raw IS NULL OR raw <> :raw)",
        {"raw": raw, "cooked": cooked, "now": now, "i": item_id},
    )


async def mark_item_edited(conn: Connection, item_id: int) -> None:
    """A moderator changed a held post's words before approving it."""
    await conn.execute("UPDATE review_items SET edited = TRUE WHERE id = :i", {"i": item_id})


async def clear_item_text(conn: Connection, item_id: int) -> None:
    """A resolved item keeps its reasons and who decided, never the text it was about: it
    may identify someone, and it is either published now (the post keeps it) or refused."""
    await conn.execute(
        "UPDATE review_items SET raw = NULL, cooked = NULL, title = NULL WHERE id = :i",
        {"i": item_id},
    )


async def set_target(conn: Connection, item_id: int, target_id: int, topic_id: int) -> None:
    """A queued post, once approved, points at the post it became."""
    await conn.execute(
        "UPDATE review_items SET target_id = :t, topic_id = :topic WHERE id = :i",
        {"t": target_id, "topic": topic_id, "i": item_id},
    )


async def claim_item(conn: Connection, item_id: int, user_id: int | None, now: float) -> bool:
    row = await conn.fetch_one(
        "UPDATE review_items SET claimed_by = :u, claimed_at = :now"
        " WHERE id = :i AND status = 'pending' RETURNING id",
        {"u": user_id, "now": now if user_id else None, "i": item_id},
    )
    return row is not None


# --- watched words --------------------------------------------------------------------------


# The watched words' version (migrations/0005): every change to the list moves it on. A
# column to read it in a statement that reads something else (forum/watched.py).
WATCHED_VERSION = "(SELECT version FROM watched_words_version) AS watched_version"


async def list_watched_words(conn: Connection) -> list[str]:
    rows = await conn.fetch_all("SELECT word FROM watched_words ORDER BY lower(word)")
    return [r["word"] for r in rows]


async def watched_words_version(conn: Connection) -> int:
    return int(await conn.fetch_val(f"SELECT {WATCHED_VERSION}"))


async def list_watched_words_at(conn: Connection) -> tuple[int, list[str]]:
    """The watched words and their version, read together (one snapshot)."""
    rows = await conn.fetch_all(
        f"SELECT {WATCHED_VERSION}, w.word FROM (SELECT 1 AS one) AS one"
        " LEFT JOIN watched_words w ON TRUE ORDER BY lower(w.word)"
    )
    return int(rows[0]["watched_version"]), [r["word"] for r in rows if r["word"] is not None]


async def add_watched_word(conn: Connection, word: str, user_id: int, now: float) -> bool:
    exists = await conn.fetch_val(
        "SELECT count(*) FROM watched_words WHERE lower(word) = lower(:w)", {"w": word}
    )
    if exists:
        return False
    await conn.execute(
        "INSERT INTO watched_words (word, created_by, created_at) VALUES (:w, :u, :now)",
        {"w": word, "u": user_id, "now": now},
    )
    return True


async def remove_watched_word(conn: Connection, word: str) -> bool:
    row = await conn.fetch_one(
        "DELETE FROM watched_words WHERE lower(word) = lower(:w) RETURNING id", {"w": word}
    )
    return row is not None


# --- posts and accounts under moderation ----------------------------------------------------


async def lock_post_item(conn: Connection, post_id: int) -> None:
    """Take a post's review item's row lock first, as decisions do (resolve_item), so an edit
    and a decision on one post wait for each other instead of deadlocking (PostgreSQL; SQLite
    has one writer)."""
    if conn.dialect == "postgresql":
        await conn.execute(
            "SELECT id FROM review_items WHERE kind = 'post' AND target_id = :p FOR UPDATE",
            {"p": post_id},
        )


async def set_post_hidden(conn: Connection, post_id: int, hidden_at: float | None) -> None:
    await conn.execute(
        "UPDATE posts SET hidden_at = :h WHERE id = :id", {"h": hidden_at, "id": post_id}
    )
    await _recount_answered(conn, post_id)


async def set_post_deleted(conn: Connection, post_id: int, now: float) -> None:
    await conn.execute(
        "UPDATE posts SET deleted_at = :now, hidden_at = NULL WHERE id = :id",
        {"now": now, "id": post_id},
    )
    await _recount_answered(conn, post_id)


async def _recount_answered(conn: Connection, post_id: int) -> None:
    """A topic is answered by a reply others can read (the conveners' unanswered list): when
    the one answer is hidden or removed, it waits again; shown again, it is answered again."""
    await conn.execute(
        "UPDATE topics SET answered_at = (SELECT min(p.created_at) FROM posts p"
        " WHERE p.topic_id = topics.id AND p.post_number > 1 AND p.user_id <> topics.user_id"
        " AND p.hidden_at IS NULL AND p.deleted_at IS NULL)"
        " WHERE id = (SELECT topic_id FROM posts WHERE id = :id)",
        {"id": post_id},
    )


async def set_standing(
    conn: Connection,
    user_id: int,
    *,
    silenced_until: float | None = None,
    suspended_until: float | None = None,
) -> None:
    if silenced_until is not None:
        await conn.execute(
            "UPDATE users SET silenced_until = :t WHERE id = :id",
            {"t": silenced_until, "id": user_id},
        )
    if suspended_until is not None:
        await conn.execute(
            "UPDATE users SET suspended_until = :t WHERE id = :id",
            {"t": suspended_until, "id": user_id},
        )
        # A suspension ends every session at once, not when the cookie expires.
        await conn.execute("DELETE FROM sessions WHERE user_id = :id", {"id": user_id})


async def convened_group_ids(conn: Connection, user_id: int) -> list[int]:
    rows = await conn.fetch_all(
        "SELECT group_id FROM memberships WHERE user_id = :u AND role = 'convener'",
        {"u": user_id},
    )
    return [r["group_id"] for r in rows]
