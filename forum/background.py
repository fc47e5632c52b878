"""A task that runs beside the server for its whole life (the debate scheduler, the alerter,
the mailer): started in the app's lifespan, cancelled and awaited when it ends."""

from __future__ import annotations

import asyncio
import contextlib


class Background:
    """Subclasses define `_run`, a loop that never returns."""

    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
