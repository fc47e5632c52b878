"""Pace: per-user rate limits on posts, topics, flags and edits, and per-topic slow mode.

The record is the database's `pace_events` table, so every process shares one count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forum.db import Connection
from forum.errors import RateLimited
from forum.permissions import is_new_account, is_staff
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
    table = {
        "post": [
            Limit(1, s.new_post_interval_seconds if new else s.post_interval_seconds, True),
            Limit(s.new_posts_per_hour if new else s.posts_per_hour, HOUR),
        ],
        "topic": [
            Limit(1, s.topic_interval_seconds, True),
            Limit(s.new_topics_per_day if new else s.topics_per_day, DAY),
        ],
        "flag": [Limit(s.new_flags_per_hour if new else s.flags_per_hour, HOUR)],
        "edit": [Limit(1, s.edit_interval_seconds, True), Limit(s.edits_per_hour, HOUR)],
    }
    if action not in table:
        raise ValueError(f"no pace rules for the action {action!r}")
    return [limit for limit in table[action] if limit.count > 0 and limit.window > 0]


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
    # cannot both see room for one more. SQLite's BEGIN IMMEDIATE already serialises writers.
    if record and conn.dialect == "postgresql":
        await conn.execute("SELECT pg_advisory_xact_lock(:key)", {"key": _PG_LOCK_PREFIX + user.id})
    refusals: list[tuple[float, str]] = []
    if slow > 0 and topic is not None:
        last = await _last_post_in_topic(conn, user.id, topic.id)
        if last is not None and now - last < slow:
            refusals.append(
                (last + slow - now, f"This topic is in slow mode: one post every {every(slow)}.")
            )
    if limits:
        refusals += await _over_limits(conn, user.id, action, now, limits, new)
    if refusals:
        wait, reason = max(refusals)
        seconds = max(1, math.ceil(wait))
        again = _ACTIONS[action][1]
        raise RateLimited(f"{reason} {again} {duration(seconds)}.", wait_seconds=seconds)
    if limits and record:
        await conn.execute(
            "INSERT INTO pace_events (user_id, action, created_at) VALUES (:u, :a, :now)",
            {"u": user.id, "a": action, "now": now},
        )


async def _over_limits(
    conn: Connection, user_id: int, action: str, now: float, limits: list[Limit], new: bool
) -> list[tuple[float, str]]:
    """(seconds to wait, why) for each limit this user has reached."""
    # Refused attempts are never recorded, so a window holds at most `count` rows: reading
    # the newest `most` rows of the longest window covers every limit.
    rows = await conn.fetch_all(
        "SELECT created_at FROM pace_events"
        " WHERE user_id = :u AND action = :a AND created_at > :since"
        " ORDER BY created_at DESC LIMIT :most",
        {
            "u": user_id,
            "a": action,
            "since": now - max(limit.window for limit in limits),
            "most": max(limit.count for limit in limits),
        },
    )
    times = [row["created_at"] for row in rows]
    quick, _, thing, things = _ACTIONS[action]
    refusals = []
    for limit in limits:
        recent = [at for at in times if at > now - limit.window]
        if len(recent) < limit.count:
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
        refusals.append((recent[limit.count - 1] + limit.window - now, reason))
    return refusals


async def _last_post_in_topic(conn: Connection, user_id: int, topic_id: int) -> float | None:
    """When the user last posted in the topic, counting posts held for review."""
    # Two indexed lookups rather than a UNION: posts_user and review_items_author each
    # find the user's rows, and a user has few rows in one topic.
    published = await conn.fetch_val(
        "SELECT max(created_at) FROM posts WHERE user_id = :u AND topic_id = :t",
        {"u": user_id, "t": topic_id},
    )
    held = await conn.fetch_val(
        "SELECT max(created_at) FROM review_items WHERE kind = 'queued'"
        " AND author_id = :u AND topic_id = :t AND status <> 'rejected'",
        {"u": user_id, "t": topic_id},
    )
    times = [at for at in (published, held) if at is not None]
    return max(times) if times else None


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
