"""How far each member has read each topic, and how closely they follow it: the
`topic_users` rows (migrations/0008), as topic pages and lists read them."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Database, Row
from forum.queries._sql import in_list
from forum.queries.notifications import Level

NEW_TOPIC_SECONDS = 2 * 86400  # a topic not yet opened is "new" for two days (Discourse's default)


@dataclass(frozen=True, slots=True)
class Reading:
    level: Level
    last_read: int  # the highest post number read; 0: opened but nothing read yet

    @property
    def tracked(self) -> bool:
        """Tracking or watching: lists show how many posts are unread."""
        return self.level >= Level.TRACKING

    @classmethod
    def from_row(cls, row: Row) -> Reading:
        return cls(Level(row["notification_level"]), int(row["last_read_post_number"]))


async def get_reading(conn: Connection, user_id: int, topic_id: int) -> Reading | None:
    row = await conn.fetch_one(
        "SELECT notification_level, last_read_post_number FROM topic_users"
        " WHERE user_id = :u AND topic_id = :t",
        {"u": user_id, "t": topic_id},
    )
    return Reading.from_row(row) if row else None


async def readings(conn: Connection, user_id: int, topic_ids: list[int]) -> dict[int, Reading]:
    """The member's reading of each listed topic they have opened or written in."""
    if not topic_ids:
        return {}
    listed, params = in_list("t", topic_ids)
    rows = await conn.fetch_all(
        "SELECT topic_id, notification_level, last_read_post_number FROM topic_users"
        f" WHERE user_id = :u AND topic_id IN {listed}",
        params | {"u": user_id},
    )
    return {int(row["topic_id"]): Reading.from_row(row) for row in rows}


async def record_read(conn: Connection, user_id: int, topic_id: int, upto: int, now: float) -> bool:
    """The member has read up to post `upto`; whether that moved their place on."""
    row = await conn.fetch_one(
        "INSERT INTO topic_users (user_id, topic_id, last_read_post_number, last_visited_at)"
        " VALUES (:u, :t, :n, :now) ON CONFLICT (user_id, topic_id) DO UPDATE SET"
        " last_read_post_number = :n, last_visited_at = :now"
        " WHERE topic_users.last_read_post_number < :n RETURNING user_id",
        {"u": user_id, "t": topic_id, "n": upto, "now": now},
    )
    return row is not None


async def count_readers(conn: Connection | Database, topic_ids: list[int]) -> dict[int, int]:
    """How many members have read into each topic (a list's "readers" column; anonymous
    readers are not counted: a view counter would cost a write per page read)."""
    if not topic_ids:
        return {}
    ids_sql, params = in_list("t", topic_ids)
    rows = await conn.fetch_all(
        "SELECT topic_id, count(*) AS n FROM topic_users"
        f" WHERE topic_id IN {ids_sql} AND last_read_post_number > 0 GROUP BY topic_id",
        params,
    )
    return {int(r["topic_id"]): int(r["n"]) for r in rows}
