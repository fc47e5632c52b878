"""Drafts kept as they are typed (Discourse's drafts; migrations/0022): one per member and
place, named by its key, with a sequence that rises on every save.

Not forum/actions/drafts.py, which holds the typed values a post travels as."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection


def reply_key(topic_id: int) -> str:
    """The key of a draft reply to a topic (Discourse's own)."""
    return f"topic_{topic_id}"


def new_topic_key(group_id: int) -> str:
    """The key of a draft new topic in a group (Discourse has one "new_topic" for all)."""
    return f"new_topic_{group_id}"


@dataclass(frozen=True, slots=True)
class SavedDraft:
    data: str  # JSON text: raw, title, reply_to_post_number
    sequence: int
    updated_at: float


async def get_draft(conn: Connection, user_id: int, key: str) -> SavedDraft | None:
    row = await conn.fetch_one(
        "SELECT data, sequence, updated_at FROM user_drafts WHERE user_id = :u AND draft_key = :k",
        {"u": user_id, "k": key},
    )
    if row is None:
        return None
    return SavedDraft(row["data"], int(row["sequence"]), float(row["updated_at"]))


async def save_draft(
    conn: Connection, user_id: int, key: str, data: str, sequence: int, now: float
) -> int | None:
    """Keep `data` as the draft if `sequence` is the one it has now (0: there is none yet).
    The draft's new sequence, or None when another save (or the post that sent it) came
    first. One statement either way, so two saves of one sequence cannot both pass."""
    params = {"u": user_id, "k": key, "d": data, "s": sequence, "now": now}
    if sequence > 0:
        sql = (
            "UPDATE user_drafts SET data = :d, sequence = sequence + 1, updated_at = :now"
            " WHERE user_id = :u AND draft_key = :k AND sequence = :s RETURNING sequence"
        )
    else:
        sql = (
            "INSERT INTO user_drafts (user_id, draft_key, data, sequence, updated_at)"
            " VALUES (:u, :k, :d, 1, :now)"
            " ON CONFLICT (user_id, draft_key) DO NOTHING RETURNING sequence"
        )
    row = await conn.fetch_one(sql, params)
    return None if row is None else int(row["sequence"])


async def delete_draft(
    conn: Connection, user_id: int, key: str, sequence: int | None = None
) -> bool:
    """Forget a draft (with `sequence`: only if it is still that version); whether one was."""
    sql = "DELETE FROM user_drafts WHERE user_id = :u AND draft_key = :k"
    params: dict[str, object] = {"u": user_id, "k": key}
    if sequence is not None:
        sql += " AND sequence = :s"
        params["s"] = sequence
    return await conn.fetch_one(sql + " RETURNING sequence", params) is not None


async def drop_oldest(conn: Connection, user_id: int, keep: int) -> None:
    """Keep a member's `keep` most recently saved drafts; older ones go. Run as a draft is
    added, so at most one or two are ever over (their rows are found by the primary key)."""
    rows = await conn.fetch_all(
        "SELECT draft_key FROM user_drafts WHERE user_id = :u"
        " ORDER BY updated_at DESC, draft_key LIMIT 100 OFFSET :keep",
        {"u": user_id, "keep": keep},
    )
    for row in rows:
        await delete_draft(conn, user_id, row["draft_key"])
