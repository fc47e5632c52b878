"""The event log in SQL, and `LogBus`, the part of a Bus every database-backed backend shares.

The log lives in the application's own database, so an event is written in the same
transaction as the change it reports. The app's migrations create two tables (both dialects):

    channel_heads (channel TEXT PRIMARY KEY, last_id BIGINT NOT NULL)
        One row per channel: the last id handed out. An append locks it until commit, so
        ids commit in id order; trimming never deletes it, so ids never restart.

    events (seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY   -- PostgreSQL
                     | INTEGER PRIMARY KEY AUTOINCREMENT               -- SQLite
            channel TEXT NOT NULL, id BIGINT NOT NULL, kind TEXT NOT NULL,
            payload TEXT NOT NULL,              -- the event's data, a JSON object
            created_at DOUBLE PRECISION NOT NULL, -- seconds since the epoch (REAL on SQLite)
            UNIQUE (channel, id))
    plus an index on events (created_at) for trimming.

    `seq` is the order rows were written in. On SQLite there is one writer at a time, so it
    is also commit order, which the SQLite poller relies on; AUTOINCREMENT keeps it from
    going back after a trim empties the table.

Functions take anything shaped like `SqlConnection` (bus.py) or `SqlDatabase` (below);
forum.db's Connection and Database are, but this module never imports the app.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from realtime.bus import Bus, Event, SqlConnection, TooOld, encode_data


class SqlDatabase(SqlConnection, Protocol):
    """A connection source that can also open a transaction (forum.db.Database has it)."""

    def transaction(self) -> AbstractAsyncContextManager[SqlConnection]: ...


@dataclass(frozen=True, slots=True)
class Appended:
    id: int  # the event's id in its channel
    seq: int  # the row's place in the whole log (write order)


# --- appending ------------------------------------------------------------------------------

_NEXT_ID = (
    "INSERT INTO channel_heads (channel, last_id) VALUES (:channel, 1)"
    " ON CONFLICT (channel) DO UPDATE SET last_id = channel_heads.last_id + 1"
    " RETURNING last_id"
)


async def _append_sqlite(
    conn: SqlConnection, channel: str, kind: str, payload: str, now: float
) -> Appended:
    # SQLite has no data-modifying CTEs: two statements, inside the caller's transaction.
    rows = await conn.fetch_all(_NEXT_ID, {"channel": channel})
    event_id = int(rows[0]["last_id"])
    rows = await conn.fetch_all(
        "INSERT INTO events (channel, id, kind, payload, created_at)"
        " VALUES (:channel, :id, :kind, :payload, :now) RETURNING seq",
        {"channel": channel, "id": event_id, "kind": kind, "payload": payload, "now": now},
    )
    return Appended(event_id, int(rows[0]["seq"]))


async def _append_postgresql(
    conn: SqlConnection, channel: str, kind: str, payload: str, now: float
) -> Appended:
    # One round trip: the head upsert and the event insert in one statement. The upsert
    # still takes the head row's lock until commit, exactly as the two-statement form does.
    rows = await conn.fetch_all(
        f"WITH head AS ({_NEXT_ID})"
        " INSERT INTO events (channel, id, kind, payload, created_at)"
        " SELECT :channel, last_id, :kind, :payload, :now FROM head"
        " RETURNING id, seq",
        {"channel": channel, "kind": kind, "payload": payload, "now": now},
    )
    return Appended(int(rows[0]["id"]), int(rows[0]["seq"]))


_APPENDERS: dict[str, Callable[[SqlConnection, str, str, str, float], Awaitable[Appended]]] = {
    "sqlite": _append_sqlite,
    "postgresql": _append_postgresql,
}


async def append_row(
    conn: SqlConnection, channel: str, kind: str, data: dict[str, Any], now: float
) -> Appended:
    """Append one event inside the caller's transaction; return its id and seq.

    Gapless per channel: the id comes from the channel's head row, which the upsert locks
    until the transaction ends. A rollback undoes the head bump too, so no id is consumed,
    and the next writer only gets the lock once this one has committed: commit order is id
    order, and a reader never sees n+1 before n.
    """
    appender = _APPENDERS.get(conn.dialect)
    if appender is None:
        raise ValueError(f"no event log for the {conn.dialect!r} dialect")
    return await appender(conn, channel, kind, encode_data(data), now)


async def append_sql(
    conn: SqlConnection, channel: str, kind: str, data: dict[str, Any], now: float
) -> int:
    """Append one event inside the caller's transaction and return its id (see append_row)."""
    return (await append_row(conn, channel, kind, data, now)).id


# --- reading --------------------------------------------------------------------------------


async def read_after(db: SqlConnection, channel: str, since: int, limit: int) -> list[Event]:
    """The events of `channel` with id > since, oldest first, at most `limit`; no checks."""
    rows = await db.fetch_all(
        "SELECT id, kind, payload, created_at FROM events"
        " WHERE channel = :channel AND id > :since ORDER BY id LIMIT :limit",
        {"channel": channel, "since": since, "limit": limit},
    )
    return [
        Event(channel, int(r["id"]), r["kind"], json.loads(r["payload"]), float(r["created_at"]))
        for r in rows
    ]


async def head(db: SqlConnection, channel: str) -> int:
    """The last id appended to `channel`, 0 if none (trimming keeps it)."""
    last = await db.fetch_val(
        "SELECT last_id FROM channel_heads WHERE channel = :channel", {"channel": channel}
    )
    return int(last or 0)


async def oldest_id(db: SqlConnection, channel: str) -> int | None:
    """The oldest id of `channel` still in the log, None if it keeps none."""
    oldest = await db.fetch_val(
        "SELECT min(id) FROM events WHERE channel = :channel", {"channel": channel}
    )
    return None if oldest is None else int(oldest)


def contiguous_after(since: int, last: int, events: list[Event]) -> list[Event]:
    """`events` if they are exactly what follows `since`, else TooOld.

    `last` must have been read BEFORE `events`: every event up to it had committed by then,
    so a missing one was trimmed, not late.
    """
    if since > last:
        raise TooOld(f"since={since} is beyond the head {last}: the log was reset")
    for offset, event in enumerate(events, start=1):
        if event.id != since + offset:
            raise TooOld(f"events after {since} were trimmed (next kept: {event.id})")
    if not events and since < last:
        raise TooOld(f"events {since + 1}..{last} were trimmed")
    return events


async def backlog(db: SqlConnection, channel: str, since: int, limit: int) -> list[Event]:
    """Bus.backlog over the log: events after `since`, oldest first, or TooOld."""
    last = await head(db, channel)  # first: see contiguous_after
    if since == last:
        return []  # the common case for a caught-up node: one query
    events = [] if since > last else await read_after(db, channel, since, limit)
    return contiguous_after(since, last, events)


async def last_seq(db: SqlConnection) -> int:
    """The seq of the newest row in the log, 0 if it is empty (where a poller starts)."""
    return int(await db.fetch_val("SELECT coalesce(max(seq), 0) FROM events") or 0)


async def read_seq_after(
    db: SqlConnection, seq: int, limit: int = 1000
) -> list[tuple[int, str, int]]:
    """(seq, channel, id) of the rows written after `seq`, in write order: the SQLite poller."""
    rows = await db.fetch_all(
        "SELECT seq, channel, id FROM events WHERE seq > :seq ORDER BY seq LIMIT :limit",
        {"seq": seq, "limit": limit},
    )
    return [(int(r["seq"]), str(r["channel"]), int(r["id"])) for r in rows]


# --- rewriting what the log keeps -----------------------------------------------------------


async def rewrite_events(
    conn: SqlConnection,
    channel: str,
    marker: str,
    update: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> int:
    """Rewrite, in the caller's transaction, the data of `channel`'s events whose stored JSON
    contains `marker` (a cheap filter, e.g. '"post_id":12,'); `update` returns the new data,
    or None to leave an event as it is. Ids, kinds and order stay; returns how many changed.

    For text that must no longer reach anyone who resumes from the log (the app removed it
    for safety): a replay then carries the new data, never the old."""
    rows = await conn.fetch_all(
        "SELECT seq, payload FROM events WHERE channel = :channel"
        " AND payload LIKE :marker ESCAPE '!'",
        {"channel": channel, "marker": "%" + _like_literal(marker) + "%"},
    )
    changed = 0
    for row in rows:
        new = update(json.loads(row["payload"]))
        if new is None:
            continue
        await conn.execute(
            "UPDATE events SET payload = :payload WHERE seq = :seq",
            {"payload": encode_data(new), "seq": row["seq"]},
        )
        changed += 1
    return changed


def _like_literal(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '!'."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


# --- retention ------------------------------------------------------------------------------


async def _trim_sqlite(conn: SqlConnection, older_than: float) -> int:
    # Inside one write transaction, so changes() counts exactly this DELETE.
    await conn.execute("DELETE FROM events WHERE created_at < :t", {"t": older_than})
    return int(await conn.fetch_val("SELECT changes()") or 0)


async def _trim_postgresql(conn: SqlConnection, older_than: float) -> int:
    deleted = await conn.fetch_val(
        "WITH gone AS (DELETE FROM events WHERE created_at < :t RETURNING 1)"
        " SELECT count(*) FROM gone",
        {"t": older_than},
    )
    return int(deleted or 0)


_TRIMMERS: dict[str, Callable[[SqlConnection, float], Awaitable[int]]] = {
    "sqlite": _trim_sqlite,
    "postgresql": _trim_postgresql,
}


async def trim(db: SqlDatabase, older_than: float) -> int:
    """Delete events created before `older_than`; return how many. Heads are kept."""
    trimmer = _TRIMMERS.get(db.dialect)
    if trimmer is None:
        raise ValueError(f"no event log for the {db.dialect!r} dialect")
    async with db.transaction() as conn:
        return await trimmer(conn, older_than)


# --- the shared part of the database-backed buses -------------------------------------------


class LogBus(Bus):
    """A Bus whose log is in `db`: reading and trimming are the same for every such backend;
    each subclass says how an append wakes the other nodes (`_append_in`)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def append(
        self, conn: SqlConnection | None, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int:
        """Append in the caller's transaction (`conn`), or in one of its own when conn is None."""
        if conn is None:
            async with self.db.transaction() as own:
                return await self._append_in(own, channel, kind, data, now)
        return await self._append_in(conn, channel, kind, data, now)

    @abstractmethod
    async def _append_in(
        self, conn: SqlConnection, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int:
        """Append with `log.append_row` in `conn`'s transaction, and arrange the wake-up."""

    async def backlog(self, channel: str, since: int, limit: int = 1000) -> list[Event]:
        return await backlog(self.db, channel, since, limit)

    async def head(self, channel: str) -> int:
        return await head(self.db, channel)

    async def trim(self, older_than: float) -> int:
        return await trim(self.db, older_than)
