"""The event log in SQL, and `LogBus`, the part of a Bus every database-backed backend shares.

The log lives in the application's own database, so an event is written in the same
transaction as the change it reports. Two tables (both dialects), whose DDL is
realtime/schema.py's (`create_tables`; the forum's migrations apply it):

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
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from realtime.bus import Bus, Entry, Event, SqlConnection, TooOld, encode_data


class SqlDatabase(SqlConnection, Protocol):
    """A connection source that can also open a transaction (forum.db.Database has it)."""

    def transaction(self) -> AbstractAsyncContextManager[SqlConnection]: ...


@dataclass(frozen=True, slots=True)
class Appended:
    id: int  # the event's id in its channel
    seq: int  # the row's place in the whole log (write order)


# --- appending ------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _heads_sql(channels: int) -> str:
    """The next id of each of `channels` channels (:c0, :c1, ...), their head rows locked in
    that order until commit, as appending to each in turn would."""
    values = ", ".join(f"(:c{i}, 1)" for i in range(channels))
    return (
        f"INSERT INTO channel_heads (channel, last_id) VALUES {values}"
        " ON CONFLICT (channel) DO UPDATE SET last_id = channel_heads.last_id + 1"
        " RETURNING channel, last_id"
    )


@lru_cache(maxsize=64)
def _events_sql(payloads: tuple[int, ...]) -> str:
    """Insert event i with payload :p<payloads[i]> (an event on several channels sends its
    payload once)."""
    values = ", ".join(f"(:c{i}, :id{i}, :k{i}, :p{p}, :now)" for i, p in enumerate(payloads))
    return (
        f"INSERT INTO events (channel, id, kind, payload, created_at) VALUES {values}"
        " RETURNING channel, seq"
    )


def _params(batch: Sequence[Entry]) -> tuple[dict[str, Any], tuple[int, ...]]:
    """The batch's channels, kinds and payloads as parameters; each distinct data dict is
    encoded once."""
    params: dict[str, Any] = {}
    encoded: dict[int, int] = {}  # id(data) -> payload number
    payloads = []
    for i, (channel, kind, data) in enumerate(batch):
        number = encoded.get(id(data))
        if number is None:
            number = encoded[id(data)] = len(encoded)
            params[f"p{number}"] = encode_data(data)
        params[f"c{i}"], params[f"k{i}"] = channel, kind
        payloads.append(number)
    return params, tuple(payloads)


async def _append_sqlite(
    conn: SqlConnection, batch: Sequence[Entry], now: float, notify: str | None
) -> list[Appended]:
    # SQLite has no data-modifying CTEs: two statements, inside the caller's transaction,
    # however many channels. Rows are matched by channel: RETURNING has no defined order.
    if notify is not None:
        raise ValueError("SQLite has no NOTIFY")
    params, payloads = _params(batch)
    heads = await conn.fetch_all(_heads_sql(len(batch)), params)
    ids = {row["channel"]: int(row["last_id"]) for row in heads}
    params |= {f"id{i}": ids[channel] for i, (channel, _, _) in enumerate(batch)}
    rows = await conn.fetch_all(_events_sql(payloads), params | {"now": now})
    seqs = {row["channel"]: int(row["seq"]) for row in rows}
    return [Appended(ids[channel], seqs[channel]) for channel, _, _ in batch]


@lru_cache(maxsize=64)
def _append_postgresql_sql(payloads: tuple[int, ...], notify: bool) -> str:
    # One round trip: the head upserts and the event inserts in one statement. The upserts
    # still take the head rows' locks until commit, exactly as separate statements do. A
    # NOTIFY sent here is delivered at commit, and dropped on rollback.
    values = ", ".join(f"(:c{i}, :k{i}, :p{p})" for i, p in enumerate(payloads))
    hint = ", pg_notify(:notify, channel || ' ' || id) AS hinted" if notify else ""
    return (
        f"WITH head AS ({_heads_sql(len(payloads))}),"
        " logged AS (INSERT INTO events (channel, id, kind, payload, created_at)"
        " SELECT channel, head.last_id, event.kind, event.payload, :now"
        f" FROM head JOIN (VALUES {values}) AS event (channel, kind, payload) USING (channel)"
        " RETURNING channel, id, seq)"
        f" SELECT channel, id, seq{hint} FROM logged"
    )


async def _append_postgresql(
    conn: SqlConnection, batch: Sequence[Entry], now: float, notify: str | None
) -> list[Appended]:
    params, payloads = _params(batch)
    params |= {"now": now, "notify": notify}
    rows = await conn.fetch_all(_append_postgresql_sql(payloads, notify is not None), params)
    appended = {row["channel"]: Appended(int(row["id"]), int(row["seq"])) for row in rows}
    return [appended[channel] for channel, _, _ in batch]


_APPENDERS: dict[
    str,
    Callable[[SqlConnection, Sequence[Entry], float, str | None], Awaitable[list[Appended]]],
] = {
    "sqlite": _append_sqlite,
    "postgresql": _append_postgresql,
}


def _batches(entries: Sequence[Entry]) -> list[Sequence[Entry]]:
    """Runs of entries with no channel twice (each head row bumps once per statement)."""
    batches: list[Sequence[Entry]] = []
    start, seen = 0, set[str]()
    for i, (channel, _, _) in enumerate(entries):
        if channel in seen:
            batches.append(entries[start:i])
            start, seen = i, set[str]()
        seen.add(channel)
    if start < len(entries):
        batches.append(entries[start:])
    return batches


async def append_rows(
    conn: SqlConnection, entries: Sequence[Entry], now: float, *, notify: str | None = None
) -> list[Appended]:
    """Append events (channel, kind, data), in order, inside the caller's transaction; return
    the id and seq of each. `notify` (PostgreSQL): also NOTIFY that channel with each hint
    ("<channel> <id>"), in the same statement. One statement (two on SQLite) for a run of
    entries on distinct channels.

    Gapless per channel: an id comes from its channel's head row, which the upsert locks
    until the transaction ends. A rollback undoes the head bump too, so no id is consumed,
    and the next writer only gets the lock once this one has committed: commit order is id
    order, and a reader never sees n+1 before n. The head rows are locked in the order of
    the entries, as appending each in turn would.
    """
    appender = _APPENDERS.get(conn.dialect)
    if appender is None:
        raise ValueError(f"no event log for the {conn.dialect!r} dialect")
    appended: list[Appended] = []
    for batch in _batches(entries):
        appended += await appender(conn, batch, now, notify)
    return appended


async def append_row(
    conn: SqlConnection, channel: str, kind: str, data: dict[str, Any], now: float
) -> Appended:
    """Append one event inside the caller's transaction; return its id and seq (see
    append_rows)."""
    return (await append_rows(conn, [(channel, kind, data)], now))[0]


async def append_sql(
    conn: SqlConnection, channel: str, kind: str, data: dict[str, Any], now: float
) -> int:
    """Append one event inside the caller's transaction and return its id (see append_rows)."""
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


async def heads(db: SqlConnection, channels: Sequence[str]) -> dict[str, int]:
    """The last id of each of `channels` (0 for one with no event yet), in one query."""
    if not channels:
        return {}
    names = {f"c{i}": channel for i, channel in enumerate(channels)}
    rows = await db.fetch_all(_heads_of_sql(len(names)), names)
    found = {str(row["channel"]): int(row["last_id"]) for row in rows}
    return {channel: found.get(channel, 0) for channel in channels}


@lru_cache(maxsize=32)
def _heads_of_sql(count: int) -> str:
    wanted = ", ".join(f":c{i}" for i in range(count))
    return f"SELECT channel, last_id FROM channel_heads WHERE channel IN ({wanted})"


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
        return (await self.append_many(conn, [(channel, kind, data)], now))[0]

    async def append_many(
        self, conn: SqlConnection | None, entries: Sequence[Entry], now: float
    ) -> list[int]:
        """As Bus.append_many: in the caller's transaction, or in one of its own."""
        if conn is None:
            async with self.db.transaction() as own:
                return await self._append_in(own, entries, now)
        return await self._append_in(conn, entries, now)

    @abstractmethod
    async def _append_in(
        self, conn: SqlConnection, entries: Sequence[Entry], now: float
    ) -> list[int]:
        """Append with `log.append_rows` in `conn`'s transaction, and arrange the wake-ups."""

    async def backlog(self, channel: str, since: int, limit: int = 1000) -> list[Event]:
        return await backlog(self.db, channel, since, limit)

    async def head(self, channel: str) -> int:
        return await head(self.db, channel)

    async def heads(self, channels: Sequence[str]) -> dict[str, int]:
        return await heads(self.db, channels)

    async def trim(self, older_than: float) -> int:
        return await trim(self.db, older_than)
