"""Pace: per-user rate limits on posts, topics, flags and edits, and per-topic slow mode.

The record is the database's `pace_events` table, so every process shares one count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from forum.db import Connection, Row
from forum.errors import RateLimited
from forum.permissions import is_new_account, is_staff
from forum.queries._sql import Along
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.settings import Settings

MINUTE, HOUR, DAY = 60, 3600, 86400
# pace_events rows older than this count for nothing: the longest window is a day.
KEEP_SECONDS = DAY

# What a moderator may choose for a topic's slow mode (seconds, label); 0 is off.
SLOW_MODE_CHOICES: list[tuple[int, str]] = [
    (0, "Off"),
    (10, "10 seconds"),
    (30, "30 seconds"),
    (60, "1 minute"),
    (120, "2 minutes"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3600, "1 hour"),
]

# A transaction-scoped advisory lock per user on PostgreSQL: this prefix in the high 32 bits
# ("pace" in ASCII) keeps the keys apart from the migration lock and any other lock.
_PG_LOCK_PREFIX = 0x70616365 << 32

_ACTIONS = {
    # action: (too soon, when again, what is counted: one, many)
    "post": ("You are posting quickly.", "You can post again in", "post", "posts"),
    "topic": (
        "You are starting topics quickly.",
        "You can start another topic in",
        "new topic",
        "new topics",
    ),
    "flag": ("You are flagging quickly.", "You can flag again in", "flag", "flags"),
    "edit": ("You are editing quickly.", "You can edit again in", "edit", "edits"),
    "document": (
        "You are adding documents quickly.",
        "You can add another in",
        "document",
        "documents",
    ),
    "like": (
        "You have thanked many posts today.",
        "You can thank another in",
        "thank you",
        "thanks",
    ),
}


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` of an action in any `window` seconds. `interval`: the least time
    between two (count 1), as against a count per hour or day."""

    count: int
    window: int
    interval: bool = False


def pace_limits(settings: Settings, action: str, new: bool) -> list[Limit]:
    """The limits on `action` for an established or a new account; those set to 0 are off."""
    s = settings
    match action:  # only the action's own limits are built: this runs twice per post
        case "post":
            limits = [
                Limit(1, s.new_post_interval_seconds if new else s.post_interval_seconds, True),
                Limit(s.new_posts_per_hour if new else s.posts_per_hour, HOUR),
            ]
        case "topic":
            limits = [
                Limit(1, s.topic_interval_seconds, True),
                Limit(s.new_topics_per_day if new else s.topics_per_day, DAY),
            ]
        case "flag":
            limits = [Limit(s.new_flags_per_hour if new else s.flags_per_hour, HOUR)]
        case "edit":
            limits = [Limit(1, s.edit_interval_seconds, True), Limit(s.edits_per_hour, HOUR)]
        case "document":
            limits = [Limit(s.new_documents_per_hour if new else s.documents_per_hour, HOUR)]
        case "like":
            limits = [Limit(s.new_likes_per_day if new else s.likes_per_day, DAY)]
        case _:
            raise ValueError(f"no pace rules for the action {action!r}")
    return [limit for limit in limits if limit.count > 0 and limit.window > 0]


def pace_lock(user: User) -> int:
    """The key of the user's pace lock: `db.transaction(locks=[pace_lock(user)])` takes it as
    the transaction begins (on PostgreSQL, in the same round trip), before check_pace."""
    return _PG_LOCK_PREFIX + user.id


async def check_pace(
    conn: Connection,
    settings: Settings,
    user: User,
    action: str,
    now: float,
    *,
    topic: Topic | None = None,
    moderates: bool = False,
    record: bool = True,
) -> None:
    """Raise RateLimited (with wait_seconds) if `user` may not do `action` ('post', 'topic',
    'flag', 'edit') yet; otherwise count this one. `moderates`: the user moderates the group,
    so slow mode does not apply to them. Call inside the write's transaction.

    `record=False` only looks, counting nothing and taking no lock: the cheap early check an
    action makes before its costly steps (markdown), on the database outside a transaction;
    the check inside the transaction still decides."""
    if is_staff(user):
        return
    new = is_new_account(user, now, settings)
    limits = pace_limits(settings, action, new)
    slow = topic.slow_mode_seconds if topic and action == "post" and not moderates else 0
    if not limits and slow <= 0:
        return
    # Check and count under one lock per user, so two requests racing (in any process)
    # cannot both see room for one more. SQLite's BEGIN IMMEDIATE already serialises writers;
    # a transaction may have taken the lock as it began (pace_lock).
    key = pace_lock(user)
    if record and conn.dialect == "postgresql" and key not in conn.locks:
        await conn.execute("SELECT pg_advisory_xact_lock(:key)", {"key": key})
    count = record and bool(limits)
    params = _params(user.id, action, now, limits, topic.id if slow > 0 and topic else None)
    sql = _seen_sql(len(limits), slow > 0, count and conn.dialect == "postgresql")
    seen = await conn.fetch_one(sql, params | {"p_slow": float(slow)})
    assert seen is not None
    _refuse(seen, action, now, limits, new, slow)
    if count and conn.dialect != "postgresql":  # PostgreSQL counted it in the same statement
        await conn.execute(_COUNT_ONE, params)


def pace_read(
    settings: Settings,
    user: User,
    action: str,
    now: float,
    *,
    topic_id: int | None = None,
    counting: Connection | None = None,
) -> Along | None:
    """check_pace's read, as columns for another query to carry (a reply reads them with its
    topic: one statement for both), for `action` in the topic `topic_id` if any; None: no
    rule applies to this user. check_pace_read decides on what it read.

    Without `counting`, it counts nothing and takes no lock: the cheap early check before the
    costly steps. `counting`: the write's transaction, which holds pace_lock(user) (taken as
    it began); on PostgreSQL the same statement counts this action, and a refusal (which
    check_pace_read raises) rolls the count back with the transaction."""
    if is_staff(user):
        return None
    limits = pace_limits(settings, action, is_new_account(user, now, settings))
    slow = action == "post" and topic_id is not None  # decided once the topic is read
    if not limits and not slow:
        return None
    params = _params(user.id, action, now, limits, topic_id if slow else None)
    ctes = ""
    if counting is not None and counting.dialect == "postgresql" and limits:
        if pace_lock(user) not in counting.locks:
            raise RuntimeError("take pace_lock(user) with the transaction to count in a read")
        ctes = f"counted AS ({_COUNT_ONE})"
    return Along(", ".join(_columns(len(limits), slow)), params, ctes)


async def check_pace_read(
    seen: Row | None,
    settings: Settings,
    user: User,
    action: str,
    now: float,
    *,
    topic: Topic | None = None,
    moderates: bool = False,
    counting: Connection | None = None,
) -> None:
    """check_pace on the row that carried pace_read's columns (None: the read had none):
    raise RateLimited if `user` may not do `action` yet. `counting`: as given to pace_read,
    and then this action is counted (on SQLite here; PostgreSQL counted it in the read)."""
    if seen is None or is_staff(user):
        return
    new = is_new_account(user, now, settings)
    limits = pace_limits(settings, action, new)
    slow = topic.slow_mode_seconds if topic and action == "post" and not moderates else 0
    _refuse(seen, action, now, limits, new, slow)
    if counting is not None and counting.dialect != "postgresql" and limits:
        await counting.execute(_COUNT_ONE, _params(user.id, action, now, [], None))


def _refuse(seen: Row, action: str, now: float, limits: list[Limit], new: bool, slow: int) -> None:
    refusals: list[tuple[float, str]] = []
    if slow > 0:
        times = [at for at in (seen["published"], seen["held"]) if at is not None]
        last = max(times) if times else None
        if last is not None and now - last < slow:
            refusals.append(
                (last + slow - now, f"This topic is in slow mode: one post every {every(slow)}.")
            )
    refusals += _over_limits(seen, action, now, limits, new)
    if refusals:
        wait, reason = max(refusals)
        seconds = max(1, math.ceil(wait))
        again = _ACTIONS[action][1]
        raise RateLimited(f"{reason} {again} {duration(seconds)}.", wait_seconds=seconds)


_COUNT_ONE = "INSERT INTO pace_events (user_id, action, created_at) VALUES (:p_u, :p_a, :p_now)"


def _params(
    user_id: int, action: str, now: float, limits: list[Limit], topic_id: int | None
) -> dict[str, Any]:
    # A limit is full when its window holds `count` actions; the count-th newest says when
    # it lifts (an index walk in the database, however generous the limit).
    params: dict[str, Any] = {"p_u": user_id, "p_a": action, "p_now": now}
    for i, limit in enumerate(limits):
        params[f"p_since{i}"] = now - limit.window
        params[f"p_skip{i}"] = limit.count - 1
    if topic_id is not None:
        params["p_t"] = topic_id
    return params


@lru_cache(maxsize=16)
def _columns(limits: int, slow: bool) -> tuple[str, ...]:
    """What every rule needs, as columns (parameters named p_*, so that another query can
    carry them): for each limit, the time of the newest action that fills it (the
    count-th newest in its window; NULL: there is room), and, in slow mode, when the user
    last posted in the topic (published, or held for review)."""
    columns = [
        f"(SELECT created_at FROM pace_events WHERE user_id = :p_u AND action = :p_a"
        f" AND created_at > :p_since{i} ORDER BY created_at DESC LIMIT 1 OFFSET :p_skip{i})"
        f" AS limit{i}"
        for i in range(limits)
    ]
    # Two indexed lookups: posts_user and review_items_author each find the user's rows,
    # and a user has few rows in one topic.
    columns += [
        "(SELECT max(created_at) FROM posts WHERE user_id = :p_u AND topic_id = :p_t) AS published"
        if slow
        else "NULL AS published",
        "(SELECT max(created_at) FROM review_items WHERE kind = 'queued' AND author_id = :p_u"
        " AND topic_id = :p_t AND status <> 'rejected') AS held"
        if slow
        else "NULL AS held",
    ]
    return tuple(columns)


@lru_cache(maxsize=64)
def _seen_sql(limits: int, slow: bool, count: bool) -> str:
    """One statement reads _columns. `count` (PostgreSQL only): the same statement also
    counts this action, when no rule refuses it, by the same tests _refuse makes in Python
    (`now - last < slow` exactly so, as the arithmetic is IEEE in both)."""
    select = "SELECT " + ", ".join(_columns(limits, slow))
    if not count:
        return select
    room = [f"limit{i} IS NULL" for i in range(limits)]
    if slow:
        room += [
            "NOT coalesce(:p_now - published < :p_slow, FALSE)",
            "NOT coalesce(:p_now - held < :p_slow, FALSE)",
        ]
    return (
        f"WITH seen AS ({select}), counted AS (INSERT INTO pace_events (user_id, action,"
        f" created_at) SELECT :p_u, :p_a, :p_now FROM seen WHERE {' AND '.join(room)})"
        " SELECT * FROM seen"
    )


def _over_limits(
    seen: Row, action: str, now: float, limits: list[Limit], new: bool
) -> list[tuple[float, str]]:
    """(seconds to wait, why) for each limit this user has reached."""
    quick, _, thing, things = _ACTIONS[action]
    refusals = []
    for i, limit in enumerate(limits):
        filled_at = seen[f"limit{i}"]
        if filled_at is None:
            continue
        allowed = f"{limit.count} {thing if limit.count == 1 else things} {per(limit.window)}"
        if limit.interval:
            reason = quick
            if new:
                reason += f" While your account is new, that is once every {every(limit.window)}."
        elif new:
            reason = f"While your account is new, the limit is {allowed}."
        else:
            reason = f"You have reached the limit of {allowed}."
        refusals.append((filled_at + limit.window - now, reason))
    return refusals


async def trim_pace(conn: Connection, older_than: float) -> None:
    """Forget counted actions older than `older_than` (they are outside every window)."""
    await conn.execute("DELETE FROM pace_events WHERE created_at < :t", {"t": older_than})


# --- words --------------------------------------------------------------------------------


def _units(seconds: int) -> list[str]:
    parts = []
    for name, size in (("hour", HOUR), ("minute", MINUTE), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {name}{'' if n == 1 else 's'}")
    return parts


def duration(seconds: int) -> str:
    """'25 seconds', '1 minute 5 seconds', '3 hours 5 minutes': two units at most, never less
    than the real wait (an hour or more is rounded up to the minute)."""
    if seconds >= HOUR:
        seconds = math.ceil(seconds / MINUTE) * MINUTE
    return " ".join(_units(max(1, seconds))[:2])


def every(seconds: int) -> str:
    """The period in 'one post every ...': '30 seconds', 'minute', '2 minutes'."""
    text = duration(seconds)
    return text[2:] if text.startswith("1 ") and " " not in text[2:] else text


def per(window: int) -> str:
    return {HOUR: "an hour", DAY: "a day"}.get(window, f"every {every(window)}")


def slow_mode_label(seconds: int) -> str | None:
    """The label of an allowed slow-mode choice, or None if `seconds` is not one."""
    return dict(SLOW_MODE_CHOICES).get(seconds)
