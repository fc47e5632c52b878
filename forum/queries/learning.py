"""Learning updates (migrations/0019): what a group learned, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from forum.db import Connection, Database

_SELECT = (
    "SELECT l.id, l.group_id, g.slug AS group_slug, g.name AS group_name,"
    " g.visibility = 'private' AS group_private, u.username, l.title, l.summary_raw,"
    " l.summary_cooked, l.created_at"
    " FROM learning_updates l JOIN groups g ON g.id = l.group_id"
    " JOIN users u ON u.id = l.user_id"
)


@dataclass(frozen=True)
class Source:
    kind: str  # "topic", "debate" or "document"
    ref_id: int
    title: str
    slug: str = ""  # a topic's


@dataclass(frozen=True)
class LearningUpdate:
    id: int
    group_id: int
    group_slug: str
    group_name: str
    group_private: bool
    username: str
    title: str
    summary_raw: str
    summary_cooked: str
    created_at: float
    sources: tuple[Source, ...] = field(default=())


async def insert_update(
    conn: Connection,
    group_id: int,
    user_id: int,
    title: str,
    raw: str,
    cooked: str,
    sources: list[tuple[str, int]],
    now: float,
) -> int:
    update_id = int(
        await conn.fetch_val(
            "INSERT INTO learning_updates (group_id, user_id, title, summary_raw,"
            " summary_cooked, created_at) VALUES (:g, :u, :title, :raw, :cooked, :now)"
            " RETURNING id",
            {"g": group_id, "u": user_id, "title": title, "raw": raw, "cooked": cooked, "now": now},
        )
    )
    for position, (kind, ref_id) in enumerate(sources):
        await conn.execute(
            "INSERT INTO learning_sources (update_id, position, kind, ref_id)"
            " VALUES (:u, :p, :k, :r)",
            {"u": update_id, "p": position, "k": kind, "r": ref_id},
        )
    return update_id


# Each source's title, read where it lives; a source since deleted is left out.
_SOURCES = (
    "SELECT s.update_id, s.kind, s.ref_id, coalesce(t.title, dt.title, d.title) AS title,"
    " coalesce(t.slug, '') AS slug"
    " FROM learning_sources s"
    " LEFT JOIN topics t ON s.kind = 'topic' AND t.id = s.ref_id"
    " LEFT JOIN debates db ON s.kind = 'debate' AND db.id = s.ref_id"
    " LEFT JOIN topics dt ON dt.id = db.topic_id"
    " LEFT JOIN documents d ON s.kind = 'document' AND d.id = s.ref_id"
)


async def _with_sources(
    conn: Connection | Database, rows: list[LearningUpdate]
) -> list[LearningUpdate]:
    if not rows:
        return rows
    marks = ", ".join(f":l{i}" for i in range(len(rows)))
    found = await conn.fetch_all(
        f"{_SOURCES} WHERE s.update_id IN ({marks}) ORDER BY s.update_id, s.position",
        {f"l{i}": u.id for i, u in enumerate(rows)},
    )
    sources: dict[int, list[Source]] = {}
    for r in found:
        if r["title"] is not None:
            sources.setdefault(int(r["update_id"]), []).append(
                Source(str(r["kind"]), int(r["ref_id"]), str(r["title"]), str(r["slug"]))
            )
    return [LearningUpdate(**{**u.__dict__, "sources": tuple(sources.get(u.id, ()))}) for u in rows]


def _update(row: object) -> LearningUpdate:
    values = dict(row)  # type: ignore[call-overload]
    values["group_private"] = bool(values["group_private"])
    return LearningUpdate(**values)


async def list_updates(
    conn: Connection | Database, group_ids: list[int], *, limit: int, offset: int = 0
) -> list[LearningUpdate]:
    """The updates of these groups (those the reader may read), newest first."""
    if not group_ids:
        return []
    marks = ", ".join(f":g{i}" for i in range(len(group_ids)))
    rows = await conn.fetch_all(
        f"{_SELECT} WHERE l.group_id IN ({marks}) ORDER BY l.created_at DESC, l.id DESC"
        " LIMIT :limit OFFSET :offset",
        {f"g{i}": g for i, g in enumerate(group_ids)} | {"limit": limit, "offset": offset},
    )
    return await _with_sources(conn, [_update(r) for r in rows])


async def get_update(conn: Connection | Database, update_id: int) -> LearningUpdate | None:
    row = await conn.fetch_one(f"{_SELECT} WHERE l.id = :id", {"id": update_id})
    if row is None:
        return None
    return (await _with_sources(conn, [_update(row)]))[0]


async def delete_update(conn: Connection, update_id: int) -> None:
    await conn.execute("DELETE FROM learning_updates WHERE id = :id", {"id": update_id})
