"""Pace: per-user rate limits on posts, topics, flags and edits, and per-topic slow mode.

The record is the database's `pace_events` table, so every process shares one count.
"""

from __future__ import annotations

from forum.db import Connection
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.settings import Settings


async def check_pace(
    conn: Connection,
    settings: Settings,
    user: User,
    action: str,
    now: float,
    *,
    topic: Topic | None = None,
    moderates: bool = False,
) -> None:
    """Raise RateLimited (with wait_seconds) if `user` may not do `action` ('post', 'topic',
    'flag', 'edit') yet; otherwise count this one. `moderates`: the user moderates the group,
    so slow mode does not apply to them. Call inside the write's transaction."""
    # Filled in by the pace work (issue 4): the rules and the record.
    return None
