"""Posts and their revisions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from forum.db import Connection, Row
from forum.queries._sql import in_list

# The author's role in the post's group ("convener" is marked beside their name), read by
# the memberships primary key.
GROUP_ROLE = (
    "coalesce((SELECT m.role FROM memberships m JOIN topics gt ON gt.group_id = m.group_id"
    " WHERE gt.id = p.topic_id AND m.user_id = p.user_id), '') AS group_role"
)
# A picture shown beside posts only when its owner shows their profile to everyone: the
# same post reaches every reader of the topic, live as on the page (else initials).
PUBLIC_PICTURE = (
    "CASE WHEN pr.visibility = 'everyone' AND pr.picture_key IS NOT NULL"
    " THEN pr.picture_version ELSE 0 END AS picture_version"
)
POST_SELECT = (
    "SELECT p.id, p.topic_id, p.post_number, p.user_id, u.username, u.badge, p.raw, p.cooked,"
    " p.reply_to_post_number, p.created_at, p.edited_at, p.version,"
    " u.badge_verified_at IS NOT NULL AS badge_verified, p.hidden_at, p.deleted_at,"
    " u.role AS author_role, p.first_in_group, p.edited_by_moderator, p.like_count,"
    f" {GROUP_ROLE}, {PUBLIC_PICTURE}"
    " FROM posts p JOIN users u ON u.id = p.user_id"
    " LEFT JOIN profiles pr ON pr.user_id = p.user_id"
)


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    topic_id: int
    post_number: int
    user_id: int
    username: str
    badge: str
    raw: str
    cooked: str
    reply_to_post_number: int | None
    created_at: float
    edited_at: float | None
    version: int
    badge_verified: bool = False
    hidden_at: float | None = None  # hidden by flags or a moderator until reviewed
    deleted_at: float | None = None  # deleted by a moderator: a tombstone stays in the thread
    author_role: str = "member"  # the author's site role: staff act only on posts of their rank
    first_in_group: bool = False  # the author's first post in the group: others welcome them
    edited_by_moderator: bool = False  # held, then edited by a moderator before it was approved
    like_count: int = 0  # thanks from other readers (forum/actions/likes.py)
    group_role: str = ""  # the author's membership of the group: "member", "convener" or ""
    picture_version: int = 0  # the author's picture, when everyone may see it; 0: initials

    @classmethod
    def from_row(cls, row: Row) -> Post:
        values = {name: row[name] for name in cls.__slots__}
        for flag in ("first_in_group", "edited_by_moderator"):  # 0/1 on SQLite
            values[flag] = bool(values[flag])
        return cls(**values)

    @property
    def visible(self) -> bool:
        return self.hidden_at is None and self.deleted_at is None


@dataclass(frozen=True, slots=True)
class Revision:
    version: int
    raw: str  # '' when redacted, unless read for a moderator
    cooked: str
    username: str
    created_at: float
    redacted_at: float | None = None  # removed from the history for safety
    redacted_by: str | None = None


async def get_post(conn: Connection, post_id: int) -> Post | None:
    row = await conn.fetch_one(f"{POST_SELECT} WHERE p.id = :id", {"id": post_id})
    return Post.from_row(row) if row else None


async def get_post_by_number(conn: Connection, topic_id: int, post_number: int) -> Post | None:
    row = await conn.fetch_one(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.post_number = :n",
        {"t": topic_id, "n": post_number},
    )
    return Post.from_row(row) if row else None


async def list_posts(conn: Connection, topic_id: int, after_number: int, limit: int) -> list[Post]:
    """A page of a topic in post order: keyset on post_number, never OFFSET."""
    rows = await conn.fetch_all(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.post_number > :after"
        " ORDER BY p.post_number LIMIT :lim",
        {"t": topic_id, "after": after_number, "lim": limit},
    )
    return [Post.from_row(r) for r in rows]


async def list_posts_by_ids(conn: Connection, topic_id: int, post_ids: list[int]) -> list[Post]:
    ids_sql, params = in_list("p", post_ids)
    rows = await conn.fetch_all(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.id IN {ids_sql} ORDER BY p.post_number",
        params | {"t": topic_id},
    )
    return [Post.from_row(r) for r in rows]


async def list_posts_numbered(conn: Connection, topic_id: int, numbers: list[int]) -> list[Post]:
    """These posts of a topic, by number (the earlier posts a page's replies answer)."""
    numbers_sql, params = in_list("n", numbers[:100])
    rows = await conn.fetch_all(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.post_number IN {numbers_sql}",
        params | {"t": topic_id},
    )
    return [Post.from_row(r) for r in rows]


async def list_post_ids(conn: Connection, topic_id: int) -> list[int]:
    rows = await conn.fetch_all(
        "SELECT id FROM posts WHERE topic_id = :t ORDER BY post_number", {"t": topic_id}
    )
    return [int(r["id"]) for r in rows]


async def list_recent_posts_by_user(
    conn: Connection, user_id: int, group_ids: list[int], limit: int
) -> list[Row]:
    ids_sql, params = in_list("g", group_ids)
    return await conn.fetch_all(
        "SELECT p.id, p.post_number, p.created_at, p.cooked, t.id AS topic_id, t.title, t.slug"
        " FROM posts p JOIN topics t ON t.id = p.topic_id"
        f" WHERE p.user_id = :u AND t.group_id IN {ids_sql}"
        " AND p.hidden_at IS NULL AND p.deleted_at IS NULL"
        " ORDER BY p.created_at DESC, p.id DESC LIMIT :lim",
        params | {"u": user_id, "lim": limit},
    )


@dataclass(frozen=True, slots=True)
class NewPost:
    """A checked (or approved) post to publish, and where."""

    topic_id: int
    group_id: int
    user_id: int
    raw: str
    cooked: str
    reply_to_post_number: int | None
    opens_topic: bool  # the first post of a new topic: the group gains a topic too


# Each part, as its own statement (SQLite) or as one of the parts of one (PostgreSQL).
# The topic's UPDATE locks its row, so two replies racing get consecutive numbers; a new
# topic's first post takes number 1 and leaves its reply count at 0.
@dataclass(frozen=True, slots=True)
class Published:
    """A post just written: its id, its number, and its topic's count of posts with it, read
    under the topic's row lock (a count read before the lock could miss a concurrent reply)."""

    post_id: int
    post_number: int
    posts_count: int
    answered: bool = False  # this reply is the topic's first from someone else
    first_in_group: bool = False  # the author's first post in the group
    group_role: str = ""  # the author's membership of the group (Post.group_role)
    picture_version: int = 0  # the author's public picture (Post.picture_version)


# A reply from anyone but the topic's author answers it (the conveners' unanswered list),
# in the same statement: the write path gains no round trip.
_BUMP_TOPIC = (
    "UPDATE topics SET highest_post_number = highest_post_number + 1,"
    " reply_count = CASE WHEN highest_post_number = 0 THEN 0 ELSE reply_count + 1 END,"
    " answered_at = CASE WHEN answered_at IS NULL AND highest_post_number > 0"
    " AND user_id <> :u THEN :now ELSE answered_at END,"
    " bumped_at = :now, last_poster_id = :u WHERE id = :t"
    " RETURNING highest_post_number, reply_count, answered_at"
)
# Published or approved posts count towards the end of the new-account hold.
_COUNT_FOR_AUTHOR = "UPDATE users SET approved_posts = approved_posts + 1 WHERE id = :u"
_COUNT_FOR_GROUP = (
    "UPDATE groups SET topic_count = topic_count + :topics, post_count = post_count + 1"
    " WHERE id = :g"
)
_INSERT_POST = (
    "INSERT INTO posts (topic_id, post_number, user_id, raw, cooked, reply_to_post_number,"
    " created_at, version, first_in_group)"
)
# A member's first post in the group is marked for the others to welcome (migrations/0015):
# the membership row (its primary key) says whether they posted here before. Not a member
# (staff writing in a public group): no row, no mark.
_FIRST_IN_GROUP = (
    "UPDATE memberships SET first_posted_at = :now"
    " WHERE group_id = :g AND user_id = :u AND first_posted_at IS NULL RETURNING user_id"
)
_INSERT_REVISION = "INSERT INTO post_revisions (post_id, version, raw, cooked, user_id, created_at)"
# How the post shows its author (Post.group_role, Post.picture_version), read with the write.
_AUTHOR_MARKS = (
    "(SELECT role FROM memberships WHERE group_id = :g AND user_id = :u) AS group_role,"
    " (SELECT picture_version FROM profiles WHERE user_id = :u AND visibility = 'everyone'"
    " AND picture_key IS NOT NULL) AS picture_version"
)


async def _write_post_sqlite(conn: Connection, params: dict[str, Any]) -> Published:
    # One writer on the event loop's thread: each statement costs microseconds.
    bumped = await conn.fetch_one(_BUMP_TOPIC, params)
    assert bumped is not None, "the topic is checked in this transaction and cannot be gone"
    number = int(bumped["highest_post_number"])
    first = await conn.fetch_one(_FIRST_IN_GROUP, params) is not None
    post_id = int(
        await conn.fetch_val(
            f"{_INSERT_POST} VALUES (:t, :n, :u, :raw, :cooked, :rt, :now, 1, :first) RETURNING id",
            params | {"n": number, "first": first},
        )
    )
    await conn.execute(
        f"{_INSERT_REVISION} VALUES (:p, 1, :raw, :cooked, :u, :now)", params | {"p": post_id}
    )
    await conn.execute(_COUNT_FOR_AUTHOR, params)
    await conn.execute(_COUNT_FOR_GROUP, params)
    marks = await conn.fetch_one(f"SELECT {_AUTHOR_MARKS}", params)
    assert marks is not None
    answered = bumped["answered_at"] == params["now"] and number > 1
    return Published(
        post_id,
        number,
        int(bumped["reply_count"]) + 1,
        answered,
        first,
        marks["group_role"] or "",
        int(marks["picture_version"] or 0),
    )


_WRITE_POST_POSTGRESQL = (
    f"WITH bump AS ({_BUMP_TOPIC}), first AS ({_FIRST_IN_GROUP}),"
    f" post AS ({_INSERT_POST} SELECT :t, highest_post_number, :u, :raw, :cooked, :rt, :now, 1,"
    " EXISTS (SELECT 1 FROM first) FROM bump RETURNING id, post_number, first_in_group),"
    f" revision AS ({_INSERT_REVISION} SELECT id, 1, :raw, :cooked, :u, :now FROM post),"
    f" author AS ({_COUNT_FOR_AUTHOR}), grp AS ({_COUNT_FOR_GROUP})"
    " SELECT post.id, post.post_number, post.first_in_group, bump.reply_count, bump.answered_at,"
    f" {_AUTHOR_MARKS} FROM post, bump"
)


async def _write_post_postgresql(conn: Connection, params: dict[str, Any]) -> Published:
    # One round trip for the six changes. The post reads the topic's new number from the
    # bump, so the topic row is locked before the post exists; the author's and the group's
    # rows are locked within the same statement (a deadlock with another writer, should one
    # ever lock them the other way round, is answered 503 like any other).
    row = await conn.fetch_one(_WRITE_POST_POSTGRESQL, params)
    assert row is not None, "the topic is locked by this transaction and cannot be gone"
    answered = row["answered_at"] == params["now"] and int(row["post_number"]) > 1
    return Published(
        int(row["id"]),
        int(row["post_number"]),
        int(row["reply_count"]) + 1,
        answered,
        bool(row["first_in_group"]),
        row["group_role"] or "",
        int(row["picture_version"] or 0),
    )


_POST_WRITERS: dict[str, Callable[[Connection, dict[str, Any]], Awaitable[Published]]] = {
    "sqlite": _write_post_sqlite,
    "postgresql": _write_post_postgresql,
}


async def write_post(conn: Connection, post: NewPost, now: float) -> Published:
    """Publish a post, in the caller's transaction: take its topic's next number (which bumps
    the topic and locks its row), insert it with its first revision, and count it for its
    author (approved posts) and its group."""
    params = {
        "t": post.topic_id,
        "g": post.group_id,
        "u": post.user_id,
        "raw": post.raw,
        "cooked": post.cooked,
        "rt": post.reply_to_post_number,
        "now": now,
        "topics": 1 if post.opens_topic else 0,
    }
    return await _POST_WRITERS[conn.dialect](conn, params)


async def update_post_content(
    conn: Connection, *, post_id: int, expected_version: int, raw: str, cooked: str, now: float
) -> int | None:
    """Write a new version if the post is still at the expected one; return it, or None."""
    version = await conn.fetch_val(
        "UPDATE posts SET raw = :raw, cooked = :cooked, edited_at = :now, version = version + 1"
        " WHERE id = :id AND version = :v RETURNING version",
        {"raw": raw, "cooked": cooked, "now": now, "id": post_id, "v": expected_version},
    )
    return int(version) if version is not None else None


async def insert_revision(
    conn: Connection,
    *,
    post_id: int,
    version: int,
    raw: str,
    cooked: str,
    user_id: int,
    now: float,
) -> None:
    await conn.execute(
        "INSERT INTO post_revisions (post_id, version, raw, cooked, user_id, created_at)"
        " VALUES (:p, :v, :raw, :cooked, :u, :now)",
        {"p": post_id, "v": version, "raw": raw, "cooked": cooked, "u": user_id, "now": now},
    )


async def list_revisions(
    conn: Connection, post_id: int, *, with_redacted: bool = False
) -> list[Revision]:
    """Every version of a post, oldest first. A redacted version's text is empty, unless
    `with_redacted` (for moderators' eyes only) reads it back from redacted_revisions."""
    text = (
        "coalesce(x.raw, r.raw) AS raw, coalesce(x.cooked, r.cooked) AS cooked"
        if with_redacted
        else "r.raw, r.cooked"
    )
    join = (
        " LEFT JOIN redacted_revisions x ON x.post_id = r.post_id AND x.version = r.version"
        if with_redacted
        else ""
    )
    rows = await conn.fetch_all(
        f"SELECT r.version, {text}, u.username, r.created_at, r.redacted_at,"
        " b.username AS redacted_by"
        " FROM post_revisions r JOIN users u ON u.id = r.user_id"
        " LEFT JOIN users b ON b.id = r.redacted_by"
        f"{join} WHERE r.post_id = :p ORDER BY r.version",
        {"p": post_id},
    )
    return [Revision(**r) for r in rows]


async def list_revision_texts(
    conn: Connection, post_id: int, before_version: int
) -> list[tuple[int, str]]:
    """(version, raw) of the versions before `before_version` still in the history."""
    rows = await conn.fetch_all(
        "SELECT version, raw FROM post_revisions WHERE post_id = :p AND version < :v"
        " AND redacted_at IS NULL ORDER BY version",
        {"p": post_id, "v": before_version},
    )
    return [(int(r["version"]), str(r["raw"])) for r in rows]


async def redact_revisions(
    conn: Connection, post_id: int, versions: list[int], by: int | None, now: float
) -> None:
    """Take these versions' text out of the history readers see; moderators can still read
    it in redacted_revisions."""
    if not versions:
        return
    ids_sql, params = in_list("v", versions)
    params |= {"p": post_id, "by": by, "now": now}
    await conn.execute(
        "INSERT INTO redacted_revisions (post_id, version, raw, cooked)"
        " SELECT post_id, version, raw, cooked FROM post_revisions"
        f" WHERE post_id = :p AND version IN {ids_sql} AND redacted_at IS NULL",
        params,
    )
    await conn.execute(
        "UPDATE post_revisions SET raw = '', cooked = '', redacted_at = :now, redacted_by = :by"
        f" WHERE post_id = :p AND version IN {ids_sql} AND redacted_at IS NULL",
        params,
    )


async def list_removed_in_topic(conn: Connection, topic_id: int) -> tuple[list[str], list[str]]:
    """What was removed from the histories of the topic's posts, and what of those posts is
    still readable (their current text and the versions left): moderation.removed_lines' input.
    Two small queries; a topic with no redactions answers the first with nothing."""
    removed = await conn.fetch_all(
        "SELECT x.post_id, x.raw FROM redacted_revisions x JOIN posts p ON p.id = x.post_id"
        " WHERE p.topic_id = :t",
        {"t": topic_id},
    )
    if not removed:
        return [], []
    ids_sql, params = in_list("p", sorted({r["post_id"] for r in removed}))
    kept = await conn.fetch_all(
        "SELECT raw FROM post_revisions"
        f" WHERE post_id IN {ids_sql} AND redacted_at IS NULL"
        f" UNION ALL SELECT raw FROM posts WHERE id IN {ids_sql}",
        params,
    )
    return [str(r["raw"]) for r in removed], [str(r["raw"]) for r in kept]


async def list_quoting_candidates(conn: Connection, topic_id: int, after_number: int) -> list[Post]:
    """Later posts of the topic that quote something (a `>` line), direct replies or not: a
    quote may quote a quote."""
    rows = await conn.fetch_all(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.post_number > :n"
        " AND p.deleted_at IS NULL AND p.raw LIKE '%>%' ORDER BY p.post_number",
        {"t": topic_id, "n": after_number},
    )
    return [Post.from_row(r) for r in rows]


async def list_posts_before(
    conn: Connection, topic_id: int, before_number: int, limit: int
) -> list[Post]:
    """The page that ends just before a post: read backwards, then put back in order."""
    rows = await conn.fetch_all(
        f"{POST_SELECT} WHERE p.topic_id = :t AND p.post_number < :before"
        " ORDER BY p.post_number DESC LIMIT :lim",
        {"t": topic_id, "before": before_number, "lim": limit},
    )
    return [Post.from_row(r) for r in reversed(rows)]


async def mark_edited_by_moderator(conn: Connection, post_id: int) -> None:
    await conn.execute(
        "UPDATE posts SET edited_by_moderator = TRUE WHERE id = :id", {"id": post_id}
    )
