"""Notifications and what decides them: how closely each member follows a topic or a group,
and whom they have muted (migrations/0008). Types and levels are Discourse's numbers, so
Discourse clients read them unchanged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any

from forum.db import Connection, Row
from forum.queries._sql import in_list


class Kind(IntEnum):
    """Discourse's notification types, those the forum sends."""

    MENTIONED = 1
    REPLIED = 2
    QUOTED = 3
    POSTED = 9  # in a topic the member watches
    CUSTOM = 14  # data["message"] says what: a debate starting, a post not published
    WATCHING_FIRST_POST = 17  # a new topic in a group the member watches
    POST_APPROVED = 20


class Level(IntEnum):
    """How closely a member follows a topic or a group (Discourse's notification levels)."""

    MUTED = 0
    NORMAL = 1  # Discourse's "regular": told when mentioned, replied to or quoted
    TRACKING = 2  # unread counts too
    WATCHING = 3  # told of every reply (a topic) or every new topic (a group)


LEVEL_NAMES = {
    Level.WATCHING: "Watching",
    Level.TRACKING: "Tracking",
    Level.NORMAL: "Normal",
    Level.MUTED: "Muted",
}


# What each level means, as the follow forms say it (topic, group).
FOLLOW_HINTS = {
    "topic": {
        Level.WATCHING: "every reply",
        Level.TRACKING: "unread count too",
        Level.NORMAL: "replies to you, mentions",
        Level.MUTED: "nothing",
    },
    "group": {
        Level.WATCHING: "every new topic",
        Level.TRACKING: "replies to you, mentions",
        Level.NORMAL: "replies to you, mentions",
        Level.MUTED: "nothing, unless you watch a topic",
    },
}


# Whether the member `user_ref` may read group `group_ref` now: a public group, a member of
# it, or site staff (permissions.can_read_group, in SQL). Used for every read of a member's
# notifications, so losing access hides what they were told at once.
def may_read(user_ref: str, group_ref: str, user_param: str | None = None) -> str:
    """`user_param`: the member's id is this parameter (one member, many groups): their
    groups are then read once, not looked up group by group."""
    member = (
        f"{group_ref}.id IN (SELECT m.group_id FROM memberships m WHERE m.user_id = :{user_param})"
        if user_param
        else f"EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = {group_ref}.id"
        f" AND m.user_id = {user_ref}.id)"
    )
    return (
        f"({group_ref}.visibility = 'public' OR {member}"
        f" OR {user_ref}.role IN ('admin', 'moderator'))"
    )


def _readable(conn: Connection, joins: str = "") -> str:
    """A member's (`:u`) notifications about what they may read. Each one's topic is looked up
    by its key and their groups read once: a member's few hundred notifications must not
    cost a read of every topic and membership (bench/search.py, at a million posts).
    PostgreSQL's planner would hash all the topics; OFFSET 0 keeps each a lookup."""
    topics = (
        "LEFT JOIN LATERAL (SELECT id, title, slug, group_id FROM topics"
        " WHERE topics.id = n.topic_id OFFSET 0) t ON TRUE"
        if conn.dialect == "postgresql"
        else "LEFT JOIN topics t ON t.id = n.topic_id"
    )
    return (
        f"FROM notifications n JOIN users me ON me.id = n.user_id {topics}"
        f" LEFT JOIN groups g ON g.id = t.group_id{joins} WHERE n.user_id = :u"
        f" AND (n.topic_id IS NULL OR {may_read('me', 'g', 'u')})"
    )


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    notification_type: int
    topic_id: int | None
    post_number: int | None
    post_id: int | None
    read: bool
    created_at: float
    data: dict[str, Any]
    topic_title: str | None
    topic_slug: str | None
    actor: str | None  # the member whose post it is about, if any
    group_name: str | None

    @classmethod
    def from_row(cls, row: Row) -> Notification:
        try:
            data = json.loads(row["data"]) if row["data"] else {}
        except ValueError:
            data = {}
        return cls(
            id=int(row["id"]),
            notification_type=int(row["notification_type"]),
            topic_id=row["topic_id"],
            post_number=row["post_number"],
            post_id=row["post_id"],
            read=bool(row["read"]),
            created_at=float(row["created_at"]),
            data=data if isinstance(data, dict) else {},
            topic_title=row["topic_title"],
            topic_slug=row["topic_slug"],
            actor=row["actor"],
            group_name=row["group_name"],
        )


def _select(conn: Connection) -> str:
    return (
        "SELECT n.id, n.notification_type, n.topic_id, n.post_number, n.post_id, n.read,"
        " n.created_at, n.data, t.title AS topic_title, t.slug AS topic_slug,"
        " a.username AS actor, g.name AS group_name "
        + _readable(conn, " LEFT JOIN users a ON a.id = n.actor_id")
    )


async def list_notifications(
    conn: Connection, user_id: int, *, limit: int, before_id: int | None = None
) -> list[Notification]:
    """A member's notifications, newest first, those about what they may still read."""
    older = " AND n.id < :before" if before_id is not None else ""
    rows = await conn.fetch_all(
        f"{_select(conn)}{older} ORDER BY n.id DESC LIMIT :limit",
        {"u": user_id, "limit": limit, "before": before_id},
    )
    return [Notification.from_row(row) for row in rows]


async def get_notification(
    conn: Connection, user_id: int, notification_id: int
) -> Notification | None:
    row = await conn.fetch_one(
        f"{_select(conn)} AND n.id = :id", {"u": user_id, "id": notification_id}
    )
    return Notification.from_row(row) if row else None


async def count_unread(conn: Connection, user_id: int) -> int:
    return int(
        await conn.fetch_val(f"SELECT count(*) {_readable(conn)} AND NOT n.read", {"u": user_id})
    )


async def count_all(conn: Connection, user_id: int) -> int:
    return int(await conn.fetch_val(f"SELECT count(*) {_readable(conn)}", {"u": user_id}))


async def unread_counts(conn: Connection, user_ids: list[int]) -> dict[int, int]:
    """Each member's unread count (as count_unread reads it), in one statement."""
    if not user_ids:
        return {}
    ids, params = in_list("u", user_ids)
    rows = await conn.fetch_all(
        "SELECT n.user_id, count(*) AS unread FROM notifications n"
        " JOIN users me ON me.id = n.user_id"
        " LEFT JOIN topics t ON t.id = n.topic_id LEFT JOIN groups g ON g.id = t.group_id"
        f" WHERE n.user_id IN {ids} AND NOT n.read"
        f" AND (n.topic_id IS NULL OR {may_read('me', 'g')}) GROUP BY n.user_id",
        params,
    )
    counts = {int(row["user_id"]): int(row["unread"]) for row in rows}
    return {user_id: counts.get(user_id, 0) for user_id in user_ids}


async def mark_read(conn: Connection, user_id: int, notification_id: int | None) -> int:
    """One notification read (or all of the member's, `None`); how many changed."""
    one = " AND id = :id" if notification_id is not None else ""
    rows = await conn.fetch_all(
        f"UPDATE notifications SET read = TRUE WHERE user_id = :u AND NOT read{one} RETURNING id",
        {"u": user_id, "id": notification_id},
    )
    return len(rows)


def _seen(posts: range | None) -> tuple[str, dict[str, object]]:
    """Which of a topic's notifications a page showed: those about its posts in `posts`, or
    with None every one (a debate's page shows all of it, and its start, which names no post)."""
    if posts is None:
        return "", {}
    return " AND post_number BETWEEN :first AND :last", {
        "first": posts.start,
        "last": posts.stop - 1,
    }


async def mark_topic_read(
    conn: Connection, user_id: int, topic_id: int, posts: range | None
) -> int:
    """The member's notifications about what a page of a topic showed them (`posts`; None:
    all of it), read; how many changed."""
    which, params = _seen(posts)
    rows = await conn.fetch_all(
        "UPDATE notifications SET read = TRUE WHERE user_id = :u AND NOT read"
        f" AND topic_id = :t{which} RETURNING id",
        params | {"u": user_id, "t": topic_id},
    )
    return len(rows)


async def has_unread_in_topic(
    conn: Connection, user_id: int, topic_id: int, posts: range | None
) -> bool:
    which, params = _seen(posts)
    row = await conn.fetch_one(
        "SELECT 1 FROM notifications WHERE user_id = :u AND NOT read AND topic_id = :t"
        f"{which} LIMIT 1",
        params | {"u": user_id, "t": topic_id},
    )
    return row is not None


# --- who is told of a post -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostNotice:
    """A post just published, and what in it may notify whom."""

    post_id: int
    post_number: int
    topic_id: int
    group_id: int
    author_id: int
    mentioned: tuple[str, ...]  # lower-cased names
    replied_to: int | None  # the post number it replies to
    quoted: tuple[int, ...]  # post numbers it quotes
    new_topic: bool  # the first post of a topic: the group's watchers are told
    watchers: bool  # the topic's watchers are told (not in a hosted debate)
    data: str  # JSON, Discourse's data fields


@dataclass(frozen=True, slots=True)
class Notified:
    id: int
    user_id: int
    notification_type: int


@lru_cache(maxsize=128)
def _notify_post_sql(
    mentions: int, quotes: int, replied: bool, new_topic: bool, watchers: bool
) -> str:
    # Candidates with a priority (the strongest reason wins: a mention, a reply to their
    # post, a quote, a watched topic, a watched group), then the rules that silence them: the
    # author themself, no right to read the group, a mute of the author, a muted topic, or a
    # muted group (unless they watch this topic).
    sources = []
    if mentions:
        names = ", ".join(f":m{i}" for i in range(mentions))
        sources.append(f"SELECT id, 1 FROM users WHERE lower(username) IN ({names})")
    if replied:
        sources.append(
            "SELECT user_id, 2 FROM posts WHERE topic_id = :t AND post_number = :reply_to"
            " AND deleted_at IS NULL AND hidden_at IS NULL"
        )
    if quotes:
        numbers = ", ".join(f":q{i}" for i in range(quotes))
        sources.append(
            f"SELECT user_id, 3 FROM posts WHERE topic_id = :t AND post_number IN ({numbers})"
            " AND deleted_at IS NULL AND hidden_at IS NULL"
        )
    if watchers:
        sources.append(
            "SELECT user_id, 4 FROM topic_users WHERE topic_id = :t AND notification_level = 3"
            # Not those who have read past it already (the alerter may come after they did).
            " AND last_read_post_number < :n"
        )
    if new_topic:
        sources.append(
            "SELECT gu.user_id, 5 FROM group_users gu WHERE gu.group_id = :g"
            " AND gu.notification_level = 3 AND NOT EXISTS (SELECT 1 FROM topic_users r"
            " WHERE r.user_id = gu.user_id AND r.topic_id = :t AND r.last_read_post_number > 0)"
        )
    union = " UNION ALL ".join(sources)
    return (
        f"WITH candidates (user_id, priority) AS ({union}),"
        " chosen AS (SELECT user_id, min(priority) AS priority FROM candidates GROUP BY user_id)"
        " INSERT INTO notifications"
        " (user_id, notification_type, topic_id, post_id, post_number, actor_id, data,"
        " created_at)"
        " SELECT c.user_id, CASE c.priority WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3"
        " WHEN 4 THEN 9 ELSE 17 END, :t, :p, :n, :a, :data, :now"
        " FROM chosen c JOIN users u ON u.id = c.user_id"
        " WHERE c.user_id <> :a"
        " AND ((SELECT visibility FROM groups WHERE id = :g) = 'public'"
        " OR u.role IN ('admin', 'moderator')"
        " OR EXISTS (SELECT 1 FROM memberships m WHERE m.group_id = :g AND m.user_id = c.user_id))"
        " AND NOT EXISTS (SELECT 1 FROM user_mutes x WHERE x.user_id = c.user_id"
        " AND x.muted_user_id = :a)"
        " AND NOT EXISTS (SELECT 1 FROM topic_users tu WHERE tu.user_id = c.user_id"
        " AND tu.topic_id = :t AND tu.notification_level = 0)"
        " AND NOT (EXISTS (SELECT 1 FROM group_users gu WHERE gu.user_id = c.user_id"
        " AND gu.group_id = :g AND gu.notification_level = 0)"
        " AND NOT EXISTS (SELECT 1 FROM topic_users tw WHERE tw.user_id = c.user_id"
        " AND tw.topic_id = :t AND tw.notification_level = 3))"
        " ON CONFLICT DO NOTHING"
        " RETURNING id, user_id, notification_type"
    )


async def notify_post(conn: Connection, notice: PostNotice, now: float) -> list[Notified]:
    """Tell everyone a post concerns, once each, for the strongest reason; who was told."""
    params: dict[str, Any] = {
        "t": notice.topic_id,
        "g": notice.group_id,
        "p": notice.post_id,
        "n": notice.post_number,
        "a": notice.author_id,
        "data": notice.data,
        "now": now,
        "reply_to": notice.replied_to,
    }
    params |= {f"m{i}": name for i, name in enumerate(notice.mentioned)}
    params |= {f"q{i}": number for i, number in enumerate(notice.quoted)}
    sql = _notify_post_sql(
        len(notice.mentioned),
        len(notice.quoted),
        notice.replied_to is not None,
        notice.new_topic,
        notice.watchers,
    )
    if not (
        notice.mentioned
        or notice.replied_to
        or notice.quoted
        or notice.watchers
        or notice.new_topic
    ):
        return []
    rows = await conn.fetch_all(sql, params)
    return [Notified(int(r["id"]), int(r["user_id"]), int(r["notification_type"])) for r in rows]


async def insert_notification(
    conn: Connection,
    *,
    user_id: int,
    kind: Kind,
    data: dict[str, Any],
    now: float,
    topic_id: int | None = None,
    post_id: int | None = None,
    post_number: int | None = None,
    actor_id: int | None = None,
) -> int:
    return int(
        await conn.fetch_val(
            "INSERT INTO notifications (user_id, notification_type, topic_id, post_id,"
            " post_number, actor_id, data, created_at)"
            " VALUES (:u, :k, :t, :p, :n, :a, :data, :now) RETURNING id",
            {
                "u": user_id,
                "k": int(kind),
                "t": topic_id,
                "p": post_id,
                "n": post_number,
                "a": actor_id,
                "data": json.dumps(data),
                "now": now,
            },
        )
    )


async def mentionable(
    conn: Connection, names: tuple[str, ...], group_id: int | None
) -> dict[str, bool]:
    """Of these lower-cased names, the members that exist, each with whether they may read
    group `group_id` (None: true for all; no group to check)."""
    if not names:
        return {}
    listed, params = in_list("m", names)
    if group_id is None:
        rows = await conn.fetch_all(
            f"SELECT lower(u.username) AS name, TRUE AS may_read FROM users u"
            f" WHERE lower(u.username) IN {listed}",
            params,
        )
        return {row["name"]: True for row in rows}
    rows = await conn.fetch_all(
        f"SELECT lower(u.username) AS name, {may_read('u', 'g')} AS may_read"
        f" FROM users u JOIN groups g ON g.id = :g WHERE lower(u.username) IN {listed}",
        params | {"g": group_id},
    )
    return {row["name"]: bool(row["may_read"]) for row in rows}


# --- levels and mutes ------------------------------------------------------------------------


async def watch_on_write(conn: Connection, user_id: int, topic_id: int, post_number: int) -> None:
    """A member who starts or replies to a topic watches it (unless they chose a level for
    it), and has read it up to their own post."""
    await conn.execute(
        "INSERT INTO topic_users (user_id, topic_id, notification_level, last_read_post_number)"
        " VALUES (:u, :t, 3, :n)"
        " ON CONFLICT (user_id, topic_id) DO UPDATE SET"
        " notification_level = CASE WHEN topic_users.level_set_at IS NULL THEN 3"
        " ELSE topic_users.notification_level END,"
        " last_read_post_number = CASE WHEN topic_users.last_read_post_number < :n THEN :n"
        " ELSE topic_users.last_read_post_number END",
        {"u": user_id, "t": topic_id, "n": post_number},
    )


async def topic_level(conn: Connection, user_id: int, topic_id: int) -> Level:
    value = await conn.fetch_val(
        "SELECT notification_level FROM topic_users WHERE user_id = :u AND topic_id = :t",
        {"u": user_id, "t": topic_id},
    )
    return Level(value) if value is not None else Level.NORMAL


async def set_topic_level(
    conn: Connection, user_id: int, topic_id: int, level: Level, now: float
) -> None:
    await conn.execute(
        "INSERT INTO topic_users (user_id, topic_id, notification_level, level_set_at)"
        " VALUES (:u, :t, :l, :now) ON CONFLICT (user_id, topic_id) DO UPDATE SET"
        " notification_level = :l, level_set_at = :now",
        {"u": user_id, "t": topic_id, "l": int(level), "now": now},
    )


async def group_level(conn: Connection, user_id: int, group_id: int) -> Level:
    value = await conn.fetch_val(
        "SELECT notification_level FROM group_users WHERE user_id = :u AND group_id = :g",
        {"u": user_id, "g": group_id},
    )
    return Level(value) if value is not None else Level.NORMAL


async def set_group_level(conn: Connection, user_id: int, group_id: int, level: Level) -> None:
    await conn.execute(
        "INSERT INTO group_users (user_id, group_id, notification_level) VALUES (:u, :g, :l)"
        " ON CONFLICT (user_id, group_id) DO UPDATE SET notification_level = :l",
        {"u": user_id, "g": group_id, "l": int(level)},
    )


async def is_muted(conn: Connection, user_id: int, muted_user_id: int) -> bool:
    row = await conn.fetch_one(
        "SELECT 1 FROM user_mutes WHERE user_id = :u AND muted_user_id = :m",
        {"u": user_id, "m": muted_user_id},
    )
    return row is not None


async def set_muted(
    conn: Connection, user_id: int, muted_user_id: int, muted: bool, now: float
) -> None:
    if muted:
        await conn.execute(
            "INSERT INTO user_mutes (user_id, muted_user_id, created_at) VALUES (:u, :m, :now)"
            " ON CONFLICT (user_id, muted_user_id) DO NOTHING",
            {"u": user_id, "m": muted_user_id, "now": now},
        )
    else:
        await conn.execute(
            "DELETE FROM user_mutes WHERE user_id = :u AND muted_user_id = :m",
            {"u": user_id, "m": muted_user_id},
        )


async def muted_usernames(conn: Connection, user_id: int) -> list[str]:
    rows = await conn.fetch_all(
        "SELECT u.username FROM user_mutes x JOIN users u ON u.id = x.muted_user_id"
        " WHERE x.user_id = :u ORDER BY lower(u.username)",
        {"u": user_id},
    )
    return [row["username"] for row in rows]


# --- posts waiting for their notifications (forum/alerter.py) --------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    post_id: int
    new_topic: bool
    attempts: int
    mentions_only: bool = False  # an edit added mentions: only those it mentions are told


MAX_ALERT_ATTEMPTS = 8  # tried again after 2, 4, 8 ... seconds: about four minutes in all


async def add_alert(conn: Connection, post_id: int, *, new_topic: bool, now: float) -> None:
    await conn.execute(
        "INSERT INTO post_alerts (post_id, new_topic, created_at) VALUES (:p, :n, :now)"
        " ON CONFLICT (post_id) DO NOTHING",
        {"p": post_id, "n": new_topic, "now": now},
    )


async def mentioned_by_post(conn: Connection, post_id: int) -> set[str]:
    """The names (lower-cased) of those a post's mentions have told."""
    rows = await conn.fetch_all(
        "SELECT lower(u.username) AS name FROM notifications n JOIN users u ON u.id = n.user_id"
        " WHERE n.post_id = :p AND n.notification_type = :kind",
        {"p": post_id, "kind": int(Kind.MENTIONED)},
    )
    return {row["name"] for row in rows}


async def add_mentions_alert(conn: Connection, post_id: int, *, now: float) -> None:
    """An edit added mentions to a published post: its alert waits again, to tell only those
    mentioned (notify_post tells nobody twice of one post). An alert still waiting from the
    post's publishing stays whole: it reads the post as it is now, mentions and all."""
    await conn.execute(
        "INSERT INTO post_alerts (post_id, created_at, mentions_only) VALUES (:p, :now, TRUE)"
        # An alert still waiting (perhaps backing off after a fault) keeps its place and its
        # tries; a done one waits again, from the start.
        " ON CONFLICT (post_id) DO UPDATE SET"
        " mentions_only = post_alerts.mentions_only OR post_alerts.done_at IS NOT NULL,"
        " created_at = CASE WHEN post_alerts.done_at IS NULL THEN post_alerts.created_at"
        " ELSE :now END,"
        " attempts = CASE WHEN post_alerts.done_at IS NULL THEN post_alerts.attempts ELSE 0 END,"
        " next_try_at = CASE WHEN post_alerts.done_at IS NULL THEN post_alerts.next_try_at END,"
        " done_at = NULL",
        {"p": post_id, "now": now},
    )


_WAITING = "done_at IS NULL AND (next_try_at IS NULL OR next_try_at <= :now)"


async def alert_waiting(conn: Connection, now: float) -> bool:
    row = await conn.fetch_one(f"SELECT 1 FROM post_alerts WHERE {_WAITING} LIMIT 1", {"now": now})
    return row is not None


async def take_alert(conn: Connection, now: float) -> Alert | None:
    """The oldest alert not yet done (those that failed before last), marked done in the
    caller's transaction: if its work fails, the rollback leaves it waiting. On PostgreSQL
    another node's transaction skips the row this one holds."""
    if conn.dialect == "postgresql":
        sql = (
            f"WITH picked AS (SELECT post_id FROM post_alerts WHERE {_WAITING}"
            " ORDER BY attempts, created_at, post_id LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " UPDATE post_alerts SET done_at = :now FROM picked"
            " WHERE post_alerts.post_id = picked.post_id"
            " RETURNING post_alerts.post_id, new_topic, attempts, mentions_only"
        )
    else:
        sql = (
            "UPDATE post_alerts SET done_at = :now WHERE post_id = (SELECT post_id FROM"
            f" post_alerts WHERE {_WAITING} ORDER BY attempts, created_at, post_id LIMIT 1)"
            " RETURNING post_id, new_topic, attempts, mentions_only"
        )
    row = await conn.fetch_one(sql, {"now": now})
    if row is None:
        return None
    return Alert(
        int(row["post_id"]),
        bool(row["new_topic"]),
        int(row["attempts"]),
        bool(row["mentions_only"]),
    )


async def alert_failed(conn: Connection, post_id: int, now: float) -> None:
    """One more failed try, tried again after a wait that doubles (a passing fault, such as a
    database restart, must not use up the tries); after MAX_ALERT_ATTEMPTS, given up."""
    row = await conn.fetch_one(
        "SELECT attempts FROM post_alerts WHERE post_id = :p AND done_at IS NULL", {"p": post_id}
    )
    if row is None:
        return
    attempts = int(row["attempts"]) + 1
    await conn.execute(
        "UPDATE post_alerts SET attempts = :a, next_try_at = :next, done_at = :done"
        " WHERE post_id = :p AND done_at IS NULL",
        {
            "p": post_id,
            "a": attempts,
            "next": now + 2.0**attempts,
            "done": now if attempts >= MAX_ALERT_ATTEMPTS else None,
        },
    )


async def forget_done_alerts(conn: Connection, before: float) -> None:
    await conn.execute(
        "DELETE FROM post_alerts WHERE done_at IS NOT NULL AND done_at < :t", {"t": before}
    )
