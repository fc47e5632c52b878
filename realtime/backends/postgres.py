"""PostgresBus: the log in the app's PostgreSQL database, wake-ups and broadcasts by NOTIFY.

The hint NOTIFY is sent inside the appending transaction, so PostgreSQL delivers it at commit
and drops it on rollback. Each node LISTENs on one dedicated connection of its own (not from
the app's pool, whose connections come and go); when that connection is lost the node
reconnects with backoff and asks for a catch-up, since hints sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from realtime import log as event_log
from realtime.backends import decode_broadcast, decode_hint, encode_broadcast
from realtime.backends.listening import ListeningBus
from realtime.bus import Entry, SqlConnection
from realtime.log import SqlDatabase

log = logging.getLogger("realtime.bus.postgres")

EVENTS_CHANNEL = "realtime_events"
BROADCAST_CHANNEL = "realtime_broadcast"
APPLICATION_NAME = "realtime-listener"  # how the listener shows in pg_stat_activity

CONNECT_TIMEOUT = 10.0
# NOTIFY traffic alone cannot reveal a dead peer (a silent network drop): an idle listener
# asks the server something this often.
KEEPALIVE_INTERVAL = 30.0
KEEPALIVE_TIMEOUT = 10.0

CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PostgresBus(ListeningBus):
    listener = "the LISTEN connection"
    connection_errors = CONNECTION_ERRORS

    def __init__(
        self, db: SqlDatabase, dsn: str, keepalive_interval: float = KEEPALIVE_INTERVAL
    ) -> None:
        if db.dialect != "postgresql":
            raise ValueError(f"PostgresBus needs a PostgreSQL database, not {db.dialect!r}")
        super().__init__(db)
        self._dsn = dsn
        self.keepalive_interval = keepalive_interval
        self._conn: Any = None  # the LISTEN connection (asyncpg.Connection)
        self._lost = asyncio.Event()  # set when that connection terminates

    @property
    def listener_pid(self) -> int | None:
        """The server process id of this node's LISTEN connection (for operators and tests)."""
        if self._conn is None or self._conn.is_closed():
            return None
        return int(self._conn.get_server_pid())

    async def close(self) -> None:
        await self._stop_listening()
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=5)
            except CONNECTION_ERRORS:
                conn.terminate()

    # --- appending and broadcasting ---------------------------------------------------------

    async def _append_in(
        self, conn: SqlConnection, entries: Sequence[Entry], now: float
    ) -> list[int]:
        # The NOTIFY in the appending statement: delivered at commit, dropped on rollback.
        # Only the hint travels; NOTIFY payloads are capped at 8,000 bytes and the log has
        # the event.
        rows = await event_log.append_rows(conn, entries, now, notify=EVENTS_CHANNEL)
        return [row.id for row in rows]

    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        message = encode_broadcast(topic, payload)  # ValueError past 7,000 bytes
        await self.db.execute(
            "SELECT pg_notify(:topic, :message)", {"topic": BROADCAST_CHANNEL, "message": message}
        )

    # --- listening ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": APPLICATION_NAME},
        )
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(EVENTS_CHANNEL, self._on_hint_notify)
            await conn.add_listener(BROADCAST_CHANNEL, self._on_broadcast_notify)
        except BaseException:
            conn.terminate()
            raise
        self._conn, self._lost = conn, lost

    async def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()  # already closed, or no longer answering
            self._conn = None

    async def _hold(self) -> None:
        """Return once the LISTEN connection has terminated or stopped answering."""
        conn, lost = self._conn, self._lost
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), self.keepalive_interval)
            except TimeoutError:
                try:
                    await conn.fetchval("SELECT 1", timeout=KEEPALIVE_TIMEOUT)
                except CONNECTION_ERRORS as error:
                    log.warning("the LISTEN connection stopped answering: %s", error)
                    return

    def _on_hint_notify(self, _conn: Any, _pid: int, _topic: str, payload: str) -> None:
        try:
            channel, event_id = decode_hint(payload)
        except ValueError:
            log.warning("ignoring a malformed hint on %s: %.80r", EVENTS_CHANNEL, payload)
            return
        if self._callbacks is not None:
            self._callbacks.hint(channel, event_id)

    def _on_broadcast_notify(self, _conn: Any, _pid: int, _topic: str, payload: str) -> None:
        try:
            topic, message = decode_broadcast(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed broadcast on %s: %.80r", BROADCAST_CHANNEL, payload)
            return
        if self._callbacks is not None:
            self._callbacks.broadcast(topic, message)
