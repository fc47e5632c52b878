"""The email outbox and each member's email choices (migrations/0009).

A row is claimed by one sender at a time (`claimed_by`, until `claimed_until`: a sender that
dies mid-send lets its claim lapse, and another takes the row), and finished once: sent,
skipped (with why) or given up. Finishing checks the claim, so a row whose claim lapsed and
was taken by another sender is finished by that one only."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list

DIGESTS = ("off", "daily", "weekly")
DIGEST_SECONDS = {"daily": 86400.0, "weekly": 7 * 86400.0}


@dataclass(frozen=True, slots=True)
class EmailPrefs:
    immediate: bool = True  # mentions, replies, quotes, outcomes, debate reminders
    digest: str = "off"
    last_digest_at: float | None = None


async def get_prefs(conn: Connection, user_id: int) -> EmailPrefs:
    row = await conn.fetch_one(
        "SELECT immediate, digest, last_digest_at FROM email_prefs WHERE user_id = :u",
        {"u": user_id},
    )
    if row is None:
        return EmailPrefs()
    return EmailPrefs(bool(row["immediate"]), row["digest"], row["last_digest_at"])


async def set_prefs(
    conn: Connection, user_id: int, *, immediate: bool | None = None, digest: str | None = None
) -> None:
    """Change one or both choices, keeping the other as it was."""
    await conn.execute(
        "INSERT INTO email_prefs (user_id, immediate, digest)"
        " VALUES (:u, COALESCE(:i, TRUE), COALESCE(:d, 'off'))"
        " ON CONFLICT (user_id) DO UPDATE SET"
        " immediate = COALESCE(:i, email_prefs.immediate),"
        " digest = COALESCE(:d, email_prefs.digest)",
        {"u": user_id, "i": immediate, "d": digest},
    )


async def enqueue_notifications(
    conn: Connection, notification_ids: list[int], kinds: tuple[int, ...], due_at: float, now: float
) -> int:
    """An email for each of these notifications of an emailed kind whose member wants them
    (immediate email is on unless they turned it off); how many."""
    if not notification_ids:
        return 0
    ids, params = in_list("n", notification_ids)
    types, type_params = in_list("k", kinds)
    rows = await conn.fetch_all(
        "INSERT INTO outbox (user_id, kind, notification_id, created_at, due_at)"
        " SELECT n.user_id, 'notification', n.id, :now, :due FROM notifications n"
        " LEFT JOIN email_prefs p ON p.user_id = n.user_id"
        f" WHERE n.id IN {ids} AND n.notification_type IN {types}"
        " AND COALESCE(p.immediate, TRUE) RETURNING id",
        params | type_params | {"now": now, "due": due_at},
    )
    return len(rows)


async def enqueue_digests(conn: Connection, now: float) -> int:
    """A digest for each member whose daily or weekly digest is due (never sent, or sent a
    period ago), covering what happened since the last; how many."""
    rows = await conn.fetch_all(
        "SELECT user_id, digest, last_digest_at FROM email_prefs WHERE digest <> 'off'"
    )
    made = 0
    for row in rows:
        period = DIGEST_SECONDS[row["digest"]]
        last = row["last_digest_at"]
        if last is not None and now - float(last) < period:
            continue
        # Conditional: two nodes (or `forum digest --send` beside `forum serve`) make one.
        moved = await conn.fetch_one(
            "UPDATE email_prefs SET last_digest_at = :now WHERE user_id = :u"
            " AND (last_digest_at IS NULL OR last_digest_at = :last) RETURNING user_id",
            {"u": row["user_id"], "now": now, "last": last},
        )
        if moved is None:
            continue
        await conn.execute(
            "INSERT INTO outbox (user_id, kind, since, created_at, due_at)"
            " VALUES (:u, 'digest', :since, :now, :now)",
            {"u": row["user_id"], "since": float(last) if last else now - period, "now": now},
        )
        made += 1
    return made


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    user_id: int
    kind: str
    notification_id: int | None
    since: float | None
    attempts: int

    @classmethod
    def from_row(cls, row: Row) -> Outgoing:
        return cls(
            int(row["id"]),
            int(row["user_id"]),
            row["kind"],
            row["notification_id"],
            row["since"],
            int(row["attempts"]),
        )


_DUE = "finished_at IS NULL AND due_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)"


async def claim_due(
    conn: Connection, sender: str, now: float, lease: float, limit: int
) -> list[Outgoing]:
    """Up to `limit` due rows, claimed by `sender` until `now + lease`."""
    if conn.dialect == "postgresql":
        # The rows are picked once, in a CTE (materialised), skipping rows another sender is
        # claiming this moment: an `IN (subquery ... LIMIT)` may be evaluated again by the
        # plan and claim more than `limit` (a test caught it).
        sql = (
            f"WITH picked AS (SELECT id FROM outbox WHERE {_DUE} ORDER BY due_at, id"
            " LIMIT :limit FOR UPDATE SKIP LOCKED)"
            " UPDATE outbox SET claimed_by = :me, claimed_until = :until,"
            " attempts = outbox.attempts + 1 FROM picked WHERE outbox.id = picked.id"
            " RETURNING outbox.id, user_id, kind, notification_id, since, attempts"
        )
    else:  # one writer at a time: the subquery is read once, under the write lock
        sql = (
            "UPDATE outbox SET claimed_by = :me, claimed_until = :until, attempts = attempts + 1"
            f" WHERE id IN (SELECT id FROM outbox WHERE {_DUE} ORDER BY due_at, id LIMIT :limit)"
            " RETURNING id, user_id, kind, notification_id, since, attempts"
        )
    rows = await conn.fetch_all(
        sql, {"me": sender, "until": now + lease, "now": now, "limit": limit}
    )
    return sorted((Outgoing.from_row(row) for row in rows), key=lambda o: o.id)


async def finish(conn: Connection, outgoing_id: int, sender: str, outcome: str, now: float) -> bool:
    """Sent, or skipped with why ("skipped: ..."), or "gave up"; False if another sender
    holds the row now (this one's claim lapsed)."""
    row = await conn.fetch_one(
        "UPDATE outbox SET finished_at = :now, outcome = :outcome, claimed_until = NULL"
        " WHERE id = :id AND claimed_by = :me AND finished_at IS NULL RETURNING id",
        {"now": now, "outcome": outcome, "id": outgoing_id, "me": sender},
    )
    return row is not None


async def renew(conn: Connection, outgoing_id: int, sender: str, now: float, lease: float) -> bool:
    """Extend `sender`'s claim on a row right before sending it; False if the claim has
    lapsed (another sender may hold the row now) or the row is finished."""
    row = await conn.fetch_one(
        "UPDATE outbox SET claimed_until = :until WHERE id = :id AND claimed_by = :me"
        " AND finished_at IS NULL AND claimed_until >= :now RETURNING id",
        {"until": now + lease, "id": outgoing_id, "me": sender, "now": now},
    )
    return row is not None


async def retry_later(
    conn: Connection, outgoing_id: int, sender: str, due_at: float, error: str
) -> None:
    await conn.execute(
        "UPDATE outbox SET due_at = :due, claimed_until = NULL, last_error = :error"
        " WHERE id = :id AND claimed_by = :me AND finished_at IS NULL",
        {"due": due_at, "error": error[:500], "id": outgoing_id, "me": sender},
    )


async def forget_finished(conn: Connection, before: float) -> None:
    await conn.execute(
        "DELETE FROM outbox WHERE finished_at IS NOT NULL AND finished_at < :t", {"t": before}
    )


async def next_due(conn: Connection) -> float | None:
    value = await conn.fetch_val("SELECT min(due_at) FROM outbox WHERE finished_at IS NULL")
    return float(value) if value is not None else None
