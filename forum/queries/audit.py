"""The audit log: every moderator action, written in the transaction that makes it."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor: str
    action: str
    item_id: int | None
    group_id: int | None
    target_username: str | None
    post_id: int | None
    topic_id: int | None
    note: str
    created_at: float

    @classmethod
    def from_row(cls, row: Row) -> AuditEntry:
        return cls(**{name: row[name] for name in cls.__slots__})


async def record_action(
    conn: Connection,
    *,
    actor_id: int,
    action: str,
    now: float,
    note: str = "",
    item_id: int | None = None,
    group_id: int | None = None,
    target_user_id: int | None = None,
    post_id: int | None = None,
    topic_id: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO moderator_actions (actor_id, action, item_id, group_id, target_user_id,"
        " post_id, topic_id, note, created_at)"
        " VALUES (:actor, :action, :item, :grp, :target, :post, :topic, :note, :now)",
        {
            "actor": actor_id,
            "action": action,
            "item": item_id,
            "grp": group_id,
            "target": target_user_id,
            "post": post_id,
            "topic": topic_id,
            "note": note,
            "now": now,
        },
    )


AUDIT_SELECT = (
    "SELECT a.id, actor.username AS actor, a.action, a.item_id, a.group_id,"
    " target.username AS target_username, a.post_id, a.topic_id, a.note, a.created_at"
    " FROM moderator_actions a JOIN users actor ON actor.id = a.actor_id"
    " LEFT JOIN users target ON target.id = a.target_user_id"
)


async def list_actions(
    conn: Connection, *, group_ids: list[int] | None, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Newest first, keyset on id. `group_ids` None means every action (site staff)."""
    where, params = ["a.id < :before"], {"before": before_id or 2**62, "lim": limit}
    if group_ids is not None:
        ids_sql, id_params = in_list("g", group_ids)
        where.append(f"a.group_id IN {ids_sql}")
        params |= id_params
    rows = await conn.fetch_all(
        f"{AUDIT_SELECT} WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT :lim", params
    )
    return [AuditEntry.from_row(r) for r in rows]


async def list_item_history(conn: Connection, item_id: int) -> list[AuditEntry]:
    rows = await conn.fetch_all(
        f"{AUDIT_SELECT} WHERE a.item_id = :item ORDER BY a.id", {"item": item_id}
    )
    return [AuditEntry.from_row(r) for r in rows]
