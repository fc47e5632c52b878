"""Topics: lists in bump order (keyset paginated) and single topics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from forum.db import Connection, Row
from forum.queries._sql import Along, in_list
from forum.queries.groups import Group, shift_counts
from forum.queries.review import WATCHED_VERSION

TOPIC_SELECT = (
    "SELECT t.id, t.group_id, t.title, t.slug, t.user_id, u.username, t.created_at, t.bumped_at,"
    " t.reply_count, t.highest_post_number, lp.username AS last_poster_username,"
    " t.closed, t.pinned, g.slug AS group_slug, g.name AS group_name, t.slow_mode_seconds,"
    " t.kind"
    " FROM topics t JOIN users u ON u.id = t.user_id JOIN groups g ON g.id = t.group_id"
    " LEFT JOIN users lp ON lp.id = t.last_poster_id"
)


@dataclass(frozen=True, slots=True)
class Topic:
    id: int
    group_id: int
    title: str
    slug: str
    user_id: int
    username: str
    created_at: float
    bumped_at: float
    reply_count: int
    highest_post_number: int
    last_poster_username: str | None
    closed: bool
    pinned: bool
    group_slug: str
    group_name: str
    slow_mode_seconds: int = 0  # least time between one user's posts here; 0 is off
    kind: str = "discussion"  # or "debate": a hosted debate's topic (forum/queries/debates.py)

    @property
    def is_debate(self) -> bool:
        return self.kind == "debate"

    @property
    def posts_count(self) -> int:
        return self.reply_count + 1

    @classmethod
    def from_row(cls, row: Row) -> Topic:
        values = {name: row[name] for name in cls.__slots__}
        values["closed"], values["pinned"] = bool(row["closed"]), bool(row["pinned"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TopicCursor:
    """Where a page of a bump-ordered list ends: the next page starts strictly after it."""

    bumped_at: float
    id: int

    def encode(self) -> str:
        return f"{self.bumped_at!r}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> TopicCursor:
        at, _, topic_id = text.partition("_")
        cursor = cls(float(at), int(topic_id))
        if not math.isfinite(cursor.bumped_at) or not 0 <= cursor.id < 2**63:
            raise ValueError("cursor out of range")
        return cursor


@dataclass(frozen=True, slots=True)
class TopicInGroup:
    topic: Topic
    group: Group
    membership: str | None  # the user's role in the group; None: not a member, or no user
    watched_version: int  # the watched words' version as this read saw it (forum/watched.py)
    row: Row  # the whole row, with what `along` added


async def get_topic_and_group(
    conn: Connection, topic_id: int, user_id: int | None, along: Along | None = None
) -> TopicInGroup | None:
    """The topic, its group, the user's role in that group and the watched words' version, in
    one round trip: the first query of a topic page and of a reply. `along`: more columns to
    read in the same statement."""
    if along is None:
        row = await conn.fetch_one(_topic_group_membership(), {"id": topic_id, "u": user_id})
    else:
        sql = _topic_group_membership(f", {along.columns}", along.ctes)
        row = await conn.fetch_one(sql, along.params | {"id": topic_id, "u": user_id})
    if row is None:
        return None
    group = Group(
        row["group_id"],
        row["group_slug"],
        row["group_name"],
        row["g_description"],
        row["g_visibility"],
        row["g_topic_count"],
        row["g_post_count"],
        row["g_created_at"],
        row["g_hold_first_posts"],
    )
    return TopicInGroup(Topic.from_row(row), group, row["membership"], row["watched_version"], row)


_GROUP_EXTRA = (
    ", g.description AS g_description, g.visibility AS g_visibility,"
    " g.topic_count AS g_topic_count, g.post_count AS g_post_count, g.created_at AS g_created_at,"
    f" g.hold_first_posts AS g_hold_first_posts, m.role AS membership, {WATCHED_VERSION}"
)


@lru_cache(maxsize=16)
def _topic_group_membership(more_columns: str = "", ctes: str = "") -> str:
    return (
        (f"WITH {ctes} " if ctes else "")
        + TOPIC_SELECT.replace(" FROM ", _GROUP_EXTRA + more_columns + " FROM ", 1)
        + " LEFT JOIN memberships m ON m.group_id = t.group_id AND m.user_id = :u"
        " WHERE t.id = :id"
    )


async def get_topic(conn: Connection, topic_id: int) -> Topic | None:
    row = await conn.fetch_one(f"{TOPIC_SELECT} WHERE t.id = :id", {"id": topic_id})
    return Topic.from_row(row) if row else None


async def get_topics(conn: Connection, topic_ids: list[int]) -> dict[int, Topic]:
    """Several topics by id, in one statement."""
    ids_sql, params = in_list("t", topic_ids)
    rows = await conn.fetch_all(f"{TOPIC_SELECT} WHERE t.id IN {ids_sql}", params)
    return {topic.id: topic for topic in map(Topic.from_row, rows)}


async def list_topics(
    conn: Connection, group_ids: list[int], before: TopicCursor | None, limit: int
) -> list[Topic]:
    """Topics in the given groups, most recently bumped first, after the cursor if any."""
    ids_sql, params = in_list("g", group_ids)
    where = f"t.group_id IN {ids_sql}"
    if before is not None:
        # Row-value comparison keeps the keyset exact when two topics share a bump time.
        where += " AND (t.bumped_at < :at OR (t.bumped_at = :at AND t.id < :id))"
        params |= {"at": before.bumped_at, "id": before.id}
    rows = await conn.fetch_all(
        f"{TOPIC_SELECT} WHERE {where} ORDER BY t.bumped_at DESC, t.id DESC LIMIT :lim",
        params | {"lim": limit},
    )
    return [Topic.from_row(r) for r in rows]


async def list_pinned(conn: Connection, group_id: int) -> list[Topic]:
    rows = await conn.fetch_all(
        f"{TOPIC_SELECT} WHERE t.group_id = :g AND t.pinned ORDER BY t.bumped_at DESC",
        {"g": group_id},
    )
    return [Topic.from_row(r) for r in rows]


async def insert_topic(
    conn: Connection,
    *,
    group_id: int,
    title: str,
    slug: str,
    user_id: int,
    now: float,
    kind: str = "discussion",
    slow_mode_seconds: int = 0,
) -> int:
    topic_id = await conn.fetch_val(
        "INSERT INTO topics (group_id, title, slug, user_id, created_at, bumped_at,"
        " highest_post_number, last_poster_id, kind, slow_mode_seconds)"
        " VALUES (:g, :title, :slug, :u, :now, :now, 0, :u, :kind, :slow) RETURNING id",
        {
            "g": group_id,
            "title": title,
            "slug": slug,
            "u": user_id,
            "now": now,
            "kind": kind,
            "slow": slow_mode_seconds,
        },
    )
    return int(topic_id)


async def set_closed(conn: Connection, topic_id: int, closed: bool) -> None:
    await conn.execute(
        "UPDATE topics SET closed = :c WHERE id = :id", {"c": closed, "id": topic_id}
    )


async def set_pinned(conn: Connection, topic_id: int, pinned: bool) -> None:
    await conn.execute(
        "UPDATE topics SET pinned = :p WHERE id = :id", {"p": pinned, "id": topic_id}
    )


async def set_slow_mode(conn: Connection, topic_id: int, seconds: int) -> None:
    await conn.execute(
        "UPDATE topics SET slow_mode_seconds = :s WHERE id = :id", {"s": seconds, "id": topic_id}
    )


async def set_title(conn: Connection, topic_id: int, title: str, slug: str) -> None:
    await conn.execute(
        "UPDATE topics SET title = :title, slug = :slug WHERE id = :id",
        {"title": title, "slug": slug, "id": topic_id},
    )


# --- waiting for an answer (issue 12) ---------------------------------------------------------

UNANSWERED_DAYS = 30  # older topics leave the conveners' list (and its count) unanswered


def not_answered(t: str, g: str, first: str, *, answered: bool = False) -> str:
    """A discussion (not a hosted debate, not its group's Introductions) still open, its
    opening post `first` visible, that nobody but its author has replied to
    (topics.answered_at, set by the first such reply's own statement). `g`: its group.
    `answered`: all but the last (of a topic its first answer just reached)."""
    return (
        ("" if answered else f"{t}.answered_at IS NULL AND ")
        + f"{t}.kind = 'discussion' AND NOT {t}.closed"
        f" AND {first}.deleted_at IS NULL AND {first}.hidden_at IS NULL"
        f" AND ({g}.introductions_topic_id IS NULL OR {t}.id <> {g}.introductions_topic_id)"
    )


def waiting(t: str, g: str, first: str, *, answered: bool = False) -> str:
    """Not answered for longer than its group allows, and started in the last
    UNANSWERED_DAYS. Parameters :now and :recent (queries/topics.recent_since); written
    with :now alone on one side, so PostgreSQL reads it as a float."""
    return (
        f"{not_answered(t, g, first, answered=answered)} AND {t}.created_at >= :recent"
        f" AND {t}.created_at + {g}.unanswered_hours * 3600 <= :now"
    )


def recent_since(now: float) -> float:
    return now - UNANSWERED_DAYS * 86400


async def list_unanswered(
    conn: Connection, group_ids: list[int], now: float, limit: int = 100
) -> list[Topic]:
    """The topics of these groups waiting for a first answer, oldest first."""
    ids, params = in_list("g", group_ids)
    rows = await conn.fetch_all(
        f"{TOPIC_SELECT} JOIN posts p1 ON p1.topic_id = t.id AND p1.post_number = 1"
        f" WHERE {waiting('t', 'g', 'p1')} AND t.group_id IN {ids}"
        " ORDER BY t.created_at, t.id LIMIT :lim",
        params | {"now": now, "recent": recent_since(now), "lim": limit},
    )
    return [Topic.from_row(row) for row in rows]


async def list_unanswered_page(
    conn: Connection, group_id: int, before: TopicCursor | None, limit: int
) -> list[Topic]:
    """A group's topics nobody but their author has answered yet, whatever their age, most
    recently bumped first (the group page's "Unanswered" filter)."""
    params: dict[str, object] = {"g": group_id, "lim": limit}
    where = ""
    if before is not None:
        where = " AND (t.bumped_at < :at OR (t.bumped_at = :at AND t.id < :id))"
        params |= {"at": before.bumped_at, "id": before.id}
    rows = await conn.fetch_all(
        f"{TOPIC_SELECT} JOIN posts p1 ON p1.topic_id = t.id AND p1.post_number = 1"
        f" WHERE {not_answered('t', 'g', 'p1')} AND t.group_id = :g{where}"
        " ORDER BY t.bumped_at DESC, t.id DESC LIMIT :lim",
        params,
    )
    return [Topic.from_row(row) for row in rows]


async def was_waiting(conn: Connection, topic_id: int, now: float) -> bool:
    """Whether a topic just answered was on its conveners' list (read once per topic, by
    the reply that answers it)."""
    row = await conn.fetch_one(
        "SELECT 1 FROM topics t JOIN groups g ON g.id = t.group_id"
        " JOIN posts p1 ON p1.topic_id = t.id AND p1.post_number = 1"
        f" WHERE t.id = :t AND {waiting('t', 'g', 'p1', answered=True)}",
        {"t": topic_id, "now": now, "recent": recent_since(now)},
    )
    return row is not None


# --- moving a topic to another group ----------------------------------------------------------


async def move_topic(
    conn: Connection, topic_id: int, from_group_id: int, to_group_id: int
) -> int | None:
    """Move a topic to another group, in the caller's transaction: the topic, its items in
    the review queue (conveners see their own groups' items), and both groups' counts of
    topics and posts (every post written counts in its group, queries/posts.write_post).
    Returns how many posts moved with it; None if the topic is not in `from_group_id` now
    (moved a moment ago by someone else: its row's lock makes the second move wait, then
    find nothing to move)."""
    params = {"t": topic_id, "from": from_group_id, "to": to_group_id}
    moved = await conn.fetch_one(
        "UPDATE topics SET group_id = :to WHERE id = :t AND group_id = :from RETURNING id", params
    )
    if moved is None:
        return None
    posts = int(await conn.fetch_val("SELECT count(*) FROM posts WHERE topic_id = :t", params))
    await conn.execute("UPDATE review_items SET group_id = :to WHERE topic_id = :t", params)
    await shift_counts(conn, from_group_id, to_group_id, topics=1, posts=posts)
    return posts


async def review_item_ids(conn: Connection, topic_id: int) -> list[int]:
    """The topic's items in the review queue (its posts, held replies), any status."""
    rows = await conn.fetch_all("SELECT id FROM review_items WHERE topic_id = :t", {"t": topic_id})
    return [int(row["id"]) for row in rows]
