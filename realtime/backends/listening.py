"""What the PostgreSQL and Redis buses share: hints arrive over one listener connection of
this node's own, which can be lost; a supervisor reconnects it with backoff and then asks the
node to catch up from the log, since hints sent while it was away are gone.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import ClassVar

from realtime.backends import Callbacks, backoff_delay, spawn, stop_task
from realtime.bus import OnBroadcast, OnCatchUp, OnHint
from realtime.log import LogBus, SqlDatabase

log = logging.getLogger("realtime.bus")

# A connection that stayed up this long resets the backoff; one that drops sooner keeps
# backing off, so a flapping server is not hammered.
STABLE_AFTER = 60.0


class ListeningBus(LogBus):
    listener: ClassVar[str]  # how log lines name the listener, e.g. "the LISTEN connection"
    connection_errors: ClassVar[tuple[type[BaseException], ...]]

    def __init__(self, db: SqlDatabase) -> None:
        super().__init__(db)
        self._callbacks: Callbacks | None = None
        self._supervisor: asyncio.Task[None] | None = None

    @abstractmethod
    async def _connect(self) -> None:
        """Open the listener and subscribe; raise one of `connection_errors` on failure."""

    @abstractmethod
    async def _hold(self) -> None:
        """Deliver what arrives; return once the listener is lost."""

    @abstractmethod
    async def _drop(self) -> None:
        """Let go of a lost (or no longer wanted) listener."""

    async def start(
        self, on_hint: OnHint, on_broadcast: OnBroadcast, on_catch_up: OnCatchUp
    ) -> None:
        if self._supervisor is not None:
            raise RuntimeError("the bus is already started")
        self._callbacks = Callbacks(on_hint, on_broadcast, on_catch_up)
        # The first connection is made here, not in the background: a wrong address or a
        # server that is down fails start-up loudly instead of retrying for ever unseen.
        try:
            await self._connect()
        except BaseException:
            self._callbacks = None
            raise
        self._supervisor = spawn(self._supervise(), f"realtime-{type(self).__name__}")

    async def _stop_listening(self) -> None:
        self._callbacks = None
        supervisor, self._supervisor = self._supervisor, None
        await stop_task(supervisor)

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            connected_at = loop.time()
            await self._hold()
            await self._drop()
            if loop.time() - connected_at >= STABLE_AFTER:
                attempt = 0
            while True:
                delay = backoff_delay(attempt)
                attempt += 1
                log.warning("%s was lost; reconnecting in %.2f s", self.listener, delay)
                await asyncio.sleep(delay)
                try:
                    await self._connect()
                    break
                except self.connection_errors as error:
                    log.warning("reconnecting %s failed: %s", self.listener, error)
            log.info("%s is back; catching up from the log", self.listener)
            # Only now: hints sent from here on are heard, so reading the log after this
            # point misses nothing (listen first, then read).
            if self._callbacks is not None:
                self._callbacks.catch_up()
