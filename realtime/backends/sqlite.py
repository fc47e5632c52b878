"""SqliteBus: the log in the app's SQLite file; wake-ups in-process at commit, and across
processes on the same file by polling the log every ~100 ms.

Broadcasts stay in this process: presence across processes needs PostgreSQL or Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from realtime import log as event_log
from realtime.backends import (
    Callbacks,
    backoff_delay,
    decode_broadcast,
    encode_broadcast,
    spawn,
    stop_task,
)
from realtime.bus import Entry, OnBroadcast, OnCatchUp, OnHint, SqlConnection
from realtime.log import Appended, LogBus, SqlDatabase

log = logging.getLogger("realtime.bus.sqlite")

POLL_BATCH = 1000


class SqliteBus(LogBus):
    def __init__(self, db: SqlDatabase, poll_interval: float = 0.1) -> None:
        if db.dialect != "sqlite":
            raise ValueError(f"SqliteBus needs a SQLite database, not {db.dialect!r}")
        super().__init__(db)
        self.poll_interval = poll_interval
        self._callbacks: Callbacks | None = None
        self._poller: asyncio.Task[None] | None = None
        # The poller's place in the log (by seq), and the seqs above it this process has
        # already hinted at commit, so the poller does not hint them again.
        self._cursor = 0
        self._hinted: set[int] = set()

    async def start(
        self, on_hint: OnHint, on_broadcast: OnBroadcast, on_catch_up: OnCatchUp
    ) -> None:
        if self._poller is not None:
            raise RuntimeError("the bus is already started")
        self._cursor = await event_log.last_seq(self.db)
        self._callbacks = Callbacks(on_hint, on_broadcast, on_catch_up)
        self._poller = spawn(self._poll(), "realtime-sqlite-poller")

    async def close(self) -> None:
        self._callbacks = None
        poller, self._poller = self._poller, None
        await stop_task(poller)

    async def _append_in(
        self, conn: SqlConnection, entries: Sequence[Entry], now: float
    ) -> list[int]:
        rows = await event_log.append_rows(conn, entries, now)
        appended = [(channel, row) for (channel, _, _), row in zip(entries, rows, strict=True)]
        conn.after_commit(lambda: self._committed(appended))
        return [row.id for row in rows]

    def _committed(self, appended: list[tuple[str, Appended]]) -> None:
        for channel, row in appended:
            if self._callbacks is None:
                return  # not listening: other processes' pollers still find the row
            if row.seq <= self._cursor:
                continue  # the poller read the committed row before this callback ran
            self._hinted.add(row.seq)
            self._callbacks.hint(channel, row.id)

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                rows = await event_log.read_seq_after(self.db, self._cursor, POLL_BATCH)
            except Exception:
                # A read error (disk, a file being replaced) must not end cross-process
                # wake-ups for good; the cursor is unchanged, so nothing is skipped.
                log.exception("polling the event log failed; retrying")
                await asyncio.sleep(backoff_delay(failures, base=self.poll_interval, cap=5.0))
                failures += 1
                continue
            failures = 0
            for seq, channel, event_id in rows:
                self._cursor = seq
                if seq in self._hinted:
                    self._hinted.discard(seq)
                elif self._callbacks is not None:
                    self._callbacks.hint(channel, event_id)
            if self._hinted and rows:
                # A row trimmed before the poller reached it leaves its seq behind: drop it.
                self._hinted = {seq for seq in self._hinted if seq > self._cursor}
            if len(rows) < POLL_BATCH:
                await asyncio.sleep(self.poll_interval)

    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        text = encode_broadcast(topic, payload)  # the size limit every backend keeps
        asyncio.get_running_loop().call_soon(self._deliver_broadcast, text)

    def _deliver_broadcast(self, text: str) -> None:
        if self._callbacks is not None:
            self._callbacks.broadcast(*decode_broadcast(text))
