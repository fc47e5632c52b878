"""Proposals for new groups (migrations/0012): what a member proposes, the conveners they name,
and an admin's decision."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list

STATEMENT_FIELDS = ("aim", "approach", "audience", "measures")
_COLUMNS = (
    "p.id, p.proposer_id, u.username AS proposer, p.name, p.slug, p.description, p.aim,"
    " p.approach, p.audience, p.measures, p.visibility, p.status, p.reason, p.decided_at,"
    " p.group_id, p.created_at"
)
_FROM = " FROM group_proposals p JOIN users u ON u.id = p.proposer_id"


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    proposer_id: int
    proposer: str
    name: str
    slug: str
    description: str
    aim: str
    approach: str
    audience: str
    measures: str
    visibility: str
    status: str  # pending, approved or declined
    reason: str  # why it was declined
    decided_at: float | None
    group_id: int | None
    created_at: float
    conveners: tuple[str, ...] = ()  # the usernames the proposer named

    @classmethod
    def from_row(cls, row: Row, conveners: tuple[str, ...] = ()) -> Proposal:
        values = {name: row[name] for name in cls.__slots__ if name != "conveners"}
        return cls(**values, conveners=conveners)


async def insert_proposal(
    conn: Connection,
    *,
    proposer_id: int,
    fields: dict[str, str],
    convener_ids: list[int],
    now: float,
) -> int:
    names = ("name", "slug", "description", *STATEMENT_FIELDS, "visibility")
    proposal_id = await conn.fetch_val(
        f"INSERT INTO group_proposals (proposer_id, created_at, {', '.join(names)})"
        f" VALUES (:proposer, :now, {', '.join(':' + n for n in names)}) RETURNING id",
        {n: fields[n] for n in names} | {"proposer": proposer_id, "now": now},
    )
    for user_id in convener_ids:
        await conn.execute(
            "INSERT INTO proposal_conveners (proposal_id, user_id) VALUES (:p, :u)",
            {"p": proposal_id, "u": user_id},
        )
    return int(proposal_id)


async def _conveners(conn: Connection, proposal_ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not proposal_ids:
        return {}
    listed, params = in_list("p", proposal_ids)
    rows = await conn.fetch_all(
        "SELECT c.proposal_id, u.username FROM proposal_conveners c"
        f" JOIN users u ON u.id = c.user_id WHERE c.proposal_id IN {listed}"
        " ORDER BY lower(u.username)",
        params,
    )
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(int(row["proposal_id"]), []).append(row["username"])
    return {key: tuple(names) for key, names in found.items()}


async def _with_conveners(conn: Connection, rows: list[Row]) -> list[Proposal]:
    conveners = await _conveners(conn, [int(row["id"]) for row in rows])
    return [Proposal.from_row(row, conveners.get(int(row["id"]), ())) for row in rows]


async def get_proposal(conn: Connection, proposal_id: int) -> Proposal | None:
    row = await conn.fetch_one(f"SELECT {_COLUMNS}{_FROM} WHERE p.id = :id", {"id": proposal_id})
    return (await _with_conveners(conn, [row]))[0] if row else None


async def convener_ids(conn: Connection, proposal_id: int) -> list[int]:
    rows = await conn.fetch_all(
        "SELECT user_id FROM proposal_conveners WHERE proposal_id = :p ORDER BY user_id",
        {"p": proposal_id},
    )
    return [int(row["user_id"]) for row in rows]


async def list_proposals(conn: Connection, *, pending: bool, limit: int = 50) -> list[Proposal]:
    """The waiting proposals, oldest first; or the decided ones, latest first."""
    where, order = (
        ("p.status = 'pending'", "p.created_at")
        if pending
        else ("p.status <> 'pending'", "p.decided_at DESC")
    )
    rows = await conn.fetch_all(
        f"SELECT {_COLUMNS}{_FROM} WHERE {where} ORDER BY {order}, p.id LIMIT :lim",
        {"lim": limit},
    )
    return await _with_conveners(conn, rows)


async def list_own(conn: Connection, proposer_id: int, limit: int = 20) -> list[Proposal]:
    rows = await conn.fetch_all(
        f"SELECT {_COLUMNS}{_FROM} WHERE p.proposer_id = :u ORDER BY p.created_at DESC LIMIT :lim",
        {"u": proposer_id, "lim": limit},
    )
    return await _with_conveners(conn, rows)


async def count_recent(conn: Connection, proposer_id: int, since: float) -> int:
    return int(
        await conn.fetch_val(
            "SELECT count(*) FROM group_proposals WHERE proposer_id = :u AND created_at >= :since",
            {"u": proposer_id, "since": since},
        )
    )


async def slug_pending(conn: Connection, slug: str) -> bool:
    row = await conn.fetch_one(
        "SELECT 1 FROM group_proposals WHERE slug = :s AND status = 'pending'", {"s": slug}
    )
    return row is not None


async def decide(
    conn: Connection,
    proposal_id: int,
    *,
    status: str,
    reason: str,
    by: int,
    group_id: int | None,
    now: float,
) -> bool:
    """Record the decision, if the proposal still waits for one (False: decided already)."""
    row = await conn.fetch_one(
        "UPDATE group_proposals SET status = :status, reason = :reason, decided_by = :by,"
        " decided_at = :now, group_id = :g WHERE id = :id AND status = 'pending' RETURNING id",
        {
            "status": status,
            "reason": reason,
            "by": by,
            "now": now,
            "g": group_id,
            "id": proposal_id,
        },
    )
    return row is not None


async def set_group(conn: Connection, proposal_id: int, group_id: int) -> None:
    """The group an approved proposal made."""
    await conn.execute(
        "UPDATE group_proposals SET group_id = :g WHERE id = :id",
        {"g": group_id, "id": proposal_id},
    )
