"""MemoryBus: the whole bus inside one process, for tests and the library's own use.

The log is a list per channel, appends take no transaction (`append(None, ...)`), and hints
and broadcasts reach this process only. It keeps the same contract as the other backends
(ids, backlog, TooOld, trim), so code tested on it behaves the same on them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from realtime.backends import Callbacks, decode_broadcast, encode_broadcast
from realtime.bus import Bus, Event, OnBroadcast, OnCatchUp, OnHint, SqlConnection, encode_data
from realtime.log import contiguous_after


class MemoryBus(Bus):
    def __init__(self) -> None:
        self._events: dict[str, list[Event]] = {}
        self._heads: dict[str, int] = {}
        self._callbacks: Callbacks | None = None

    async def start(
        self, on_hint: OnHint, on_broadcast: OnBroadcast, on_catch_up: OnCatchUp
    ) -> None:
        self._callbacks = Callbacks(on_hint, on_broadcast, on_catch_up)

    async def close(self) -> None:
        self._callbacks = None

    async def append(
        self, conn: SqlConnection | None, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int:
        if conn is not None:
            # There is no transaction to join: logging now would keep an event whose
            # transaction later rolls back. Refuse rather than break "iff it commits".
            raise ValueError("the memory bus keeps no SQL log: append(None, ...)")
        event_id = self._heads.get(channel, 0) + 1
        self._heads[channel] = event_id
        # Stored as the JSON round trip a database would give, so a caller mutating its dict
        # afterwards does not change the log.
        copy = json.loads(encode_data(data))
        self._events.setdefault(channel, []).append(Event(channel, event_id, kind, copy, now))
        # Like every backend's, the hint arrives after append returns, not inside it.
        asyncio.get_running_loop().call_soon(self._hint, channel, event_id)
        return event_id

    def _hint(self, channel: str, event_id: int) -> None:
        if self._callbacks is not None:  # not closed meanwhile
            self._callbacks.hint(channel, event_id)

    def _broadcast(self, text: str) -> None:
        if self._callbacks is not None:
            self._callbacks.broadcast(*decode_broadcast(text))

    async def backlog(self, channel: str, since: int, limit: int = 1000) -> list[Event]:
        events = [e for e in self._events.get(channel, ()) if e.id > since][:limit]
        return contiguous_after(since, self._heads.get(channel, 0), events)

    async def head(self, channel: str) -> int:
        return self._heads.get(channel, 0)

    async def trim(self, older_than: float) -> int:
        deleted = 0
        for channel, events in list(self._events.items()):
            kept = [e for e in events if e.created_at >= older_than]
            deleted += len(events) - len(kept)
            self._events[channel] = kept
        return deleted

    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        # Encoded even here: the same size limit as across nodes, and receivers get a copy.
        text = encode_broadcast(topic, payload)
        asyncio.get_running_loop().call_soon(self._broadcast, text)
