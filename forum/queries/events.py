"""The live event log: append in the writer's transaction, read back by channel and id."""

from __future__ import annotations

import json
from typing import Any

from forum.db import Connection, Row


async def append_event(
    conn: Connection, channel: str, kind: str, payload: dict[str, Any], now: float
) -> int:
    """Append one event and return its id, gapless within the channel.

    Must run inside the transaction that makes the change: the head row's UPDATE locks the
    channel until commit, so ids commit in order and a reader never sees n+1 before n.
    """
    event_id = await conn.fetch_val(
        "INSERT INTO channel_heads (channel, last_id) VALUES (:c, 1)"
        " ON CONFLICT (channel) DO UPDATE SET last_id = channel_heads.last_id + 1"
        " RETURNING last_id",
        {"c": channel},
    )
    await conn.execute(
        "INSERT INTO events (channel, id, kind, payload, created_at)"
        " VALUES (:c, :id, :kind, :payload, :now)",
        {
            "c": channel,
            "id": event_id,
            "kind": kind,
            "payload": json.dumps(payload, separators=(",", ":")),
            "now": now,
        },
    )
    return int(event_id)


async def list_events(conn: Connection, channel: str, after_id: int, limit: int = 500) -> list[Row]:
    return await conn.fetch_all(
        "SELECT channel, id, kind, payload, created_at FROM events"
        " WHERE channel = :c AND id > :after ORDER BY id LIMIT :lim",
        {"c": channel, "after": after_id, "lim": limit},
    )


async def channel_head(conn: Connection, channel: str) -> int:
    head = await conn.fetch_val(
        "SELECT last_id FROM channel_heads WHERE channel = :c", {"c": channel}
    )
    return int(head or 0)
