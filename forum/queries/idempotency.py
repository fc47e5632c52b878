"""Idempotency keys: what a write made, kept a day under the key its sender gave, so that the
same request sent again (a retry after a timeout or an error) returns it instead of writing
it twice."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection

# How long a key is remembered: far longer than any client retries.
KEEP_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Made:
    """What the first request with the key made: a post (and its topic), or a held item."""

    topic_id: int | None
    post_id: int | None
    item_id: int | None


async def find(conn: Connection, user_id: int, key: str, digest: str) -> Made | None:
    row = await conn.fetch_one(
        "SELECT topic_id, post_id, item_id FROM idempotency_keys"
        " WHERE user_id = :u AND key = :k AND digest = :d",
        {"u": user_id, "k": key, "d": digest},
    )
    return Made(row["topic_id"], row["post_id"], row["item_id"]) if row else None


async def claim(conn: Connection, user_id: int, key: str, digest: str, now: float) -> bool:
    """Take the key for this transaction; False if another request has it. On PostgreSQL a
    request racing with the same key waits here for the first one's commit or rollback."""
    row = await conn.fetch_one(
        "INSERT INTO idempotency_keys (user_id, key, digest, created_at)"
        " VALUES (:u, :k, :d, :now)"
        " ON CONFLICT (user_id, key, digest) DO NOTHING RETURNING key",
        {"u": user_id, "k": key, "d": digest, "now": now},
    )
    return row is not None


async def remember(conn: Connection, user_id: int, key: str, digest: str, made: Made) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET topic_id = :t, post_id = :p, item_id = :i"
        " WHERE user_id = :u AND key = :k AND digest = :d",
        {
            "t": made.topic_id,
            "p": made.post_id,
            "i": made.item_id,
            "u": user_id,
            "k": key,
            "d": digest,
        },
    )


async def trim(conn: Connection, older_than: float) -> None:
    await conn.execute("DELETE FROM idempotency_keys WHERE created_at < :t", {"t": older_than})
