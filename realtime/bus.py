"""The bus: a durable per-channel event log, wake-ups to every node, and ephemeral broadcasts.

The abstract `Bus` below is the spec; every backend (memory, sqlite, postgres, redis) passes
the one conformance suite in tests/realtime/test_bus_conformance.py.

Vocabulary
- An *event* is (channel, id, kind, data, created_at). `data` is a small JSON object.
- A *hint* is (channel, id): "the log of `channel` has an event with this id". Hints are
  what travels between nodes (PostgreSQL NOTIFY, Redis PUBLISH, an in-process call); never
  payloads. A hint may arrive late, twice, or never: the log is the truth, and a node that
  missed a hint catches up by reading the log after the last id it delivered.
- A *broadcast* is an ephemeral (topic, payload) message to every node, this one included,
  best-effort and not logged (presence uses it).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    channel: str
    id: int
    kind: str
    data: dict[str, Any]
    created_at: float


Entry = tuple[str, str, dict[str, Any]]  # an event to append: (channel, kind, data)


class TooOld(Exception):
    """`since` is older than the backlog keeps: the client must reload its state (resync)."""


class SqlConnection(Protocol):
    """What a database-backed bus needs from the application's connection (forum.db has it).

    `after_commit(fn)` runs `fn` once the enclosing transaction has committed, never if it
    rolls back.
    """

    dialect: str

    async def fetch_all(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...
    async def fetch_val(self, sql: str, params: Any = None) -> Any: ...
    async def execute(self, sql: str, params: Any = None) -> None: ...
    def after_commit(self, fn: Callable[[], None]) -> None: ...


OnHint = Callable[[str, int], None]
OnBroadcast = Callable[[str, dict[str, Any]], None]
OnCatchUp = Callable[[], None]


class Bus(ABC):
    """The contract every backend keeps.

    Ids. Within a channel, ids start at 1 and increase by exactly 1 per event, with no gaps,
    in commit order: a reader that has seen id n never later sees an id below n appear. Ids of
    different channels are unrelated.

    Appending. `append` writes the event to the log inside the caller's transaction (`conn`,
    for database-backed buses; the memory bus takes None) and returns its id. The event exists
    if and only if that transaction commits. After commit, every node's `on_hint` is called
    with (channel, id), this node's included, typically within milliseconds.

    Reading. `backlog(channel, since)` returns the events with id > since, oldest first (at
    most `limit`). It raises TooOld when events after `since` have been trimmed, or when
    `since` is beyond the channel's head (the log was reset). `head(channel)` is the last id
    appended to the channel (0 if none).

    Retention. `trim(older_than)` deletes events created before that time; heads are kept, so
    ids never restart. The app trims on a schedule (default: keep 7 days).

    Listening. `start(on_hint, on_broadcast, on_catch_up)` begins delivery of hints and
    broadcasts to this node. Callbacks run on the event loop and must not block. When a
    backend may have lost hints (its listener connection dropped and came back), it calls
    `on_catch_up()`, and the node re-reads the log for the channels it serves.

    Broadcasting. `broadcast(topic, payload)` sends an ephemeral message to every node's
    `on_broadcast`, this node's included; best-effort, never logged.
    """

    @abstractmethod
    async def start(
        self, on_hint: OnHint, on_broadcast: OnBroadcast, on_catch_up: OnCatchUp
    ) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def append(
        self, conn: SqlConnection | None, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int: ...

    async def append_many(
        self, conn: SqlConnection | None, entries: Sequence[Entry], now: float
    ) -> list[int]:
        """Append events, each (channel, kind, data), in order, exactly as `append` of each in
        turn would (the same ids and hints, all in the caller's transaction); returns their
        ids. A database-backed backend writes a run of entries on distinct channels in one
        statement (two on SQLite): an action's events cost one round trip together."""
        return [
            await self.append(conn, channel, kind, data, now) for channel, kind, data in entries
        ]

    @abstractmethod
    async def backlog(self, channel: str, since: int, limit: int = 1000) -> list[Event]: ...

    @abstractmethod
    async def head(self, channel: str) -> int: ...

    async def heads(self, channels: Sequence[str]) -> dict[str, int]:
        """The heads of several channels at once (0 for a channel with no event yet): a
        database-backed backend reads them in one query."""
        return {channel: await self.head(channel) for channel in channels}

    @abstractmethod
    async def trim(self, older_than: float) -> int:
        """Delete events created before `older_than`; return how many were deleted."""

    @abstractmethod
    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None: ...


def encode_data(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
