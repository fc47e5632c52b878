"""Thanks on posts (Discourse's likes): who thanked which post, and each post's count."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection
from forum.queries._sql import in_list


@dataclass(frozen=True, slots=True)
class Liker:
    user_id: int
    username: str
    created_at: float


async def add_like(conn: Connection, post_id: int, user_id: int, now: float) -> int | None:
    """Thank a post; its new count, or None if this member had already thanked it."""
    added = await conn.fetch_one(
        "INSERT INTO post_likes (post_id, user_id, created_at) VALUES (:p, :u, :now)"
        " ON CONFLICT (post_id, user_id) DO NOTHING RETURNING post_id",
        {"p": post_id, "u": user_id, "now": now},
    )
    return None if added is None else await _count_by(conn, post_id, 1)


async def remove_like(conn: Connection, post_id: int, user_id: int) -> int | None:
    """Take a thank-you back; the post's new count, or None if there was none to take."""
    removed = await conn.fetch_one(
        "DELETE FROM post_likes WHERE post_id = :p AND user_id = :u RETURNING post_id",
        {"p": post_id, "u": user_id},
    )
    return None if removed is None else await _count_by(conn, post_id, -1)


async def _count_by(conn: Connection, post_id: int, step: int) -> int:
    count = await conn.fetch_val(
        "UPDATE posts SET like_count = like_count + :step WHERE id = :p RETURNING like_count",
        {"p": post_id, "step": step},
    )
    return int(count)


async def liked_among(conn: Connection, user_id: int, post_ids: list[int]) -> set[int]:
    """Which of these posts this member has thanked (a page's own buttons)."""
    if not post_ids:
        return set()
    ids_sql, params = in_list("p", post_ids)
    rows = await conn.fetch_all(
        f"SELECT post_id FROM post_likes WHERE user_id = :u AND post_id IN {ids_sql}",
        params | {"u": user_id},
    )
    return {int(r["post_id"]) for r in rows}


async def list_likers(conn: Connection, post_id: int, limit: int) -> list[Liker]:
    """Who thanked a post, the most recent first."""
    rows = await conn.fetch_all(
        "SELECT l.user_id, u.username, l.created_at FROM post_likes l"
        " JOIN users u ON u.id = l.user_id WHERE l.post_id = :p"
        " ORDER BY l.created_at DESC, l.user_id LIMIT :lim",
        {"p": post_id, "lim": limit},
    )
    return [Liker(int(r["user_id"]), r["username"], float(r["created_at"])) for r in rows]
