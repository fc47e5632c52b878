"""The forum's one application context: what every action is handed as its first argument.

Built once at start-up (forum/app.py's lifespan, the command line, the tests, the bench)
from parts that are complete when they are passed in: nothing is attached afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forum.clock import Clock
from forum.db import Connection, Database
from forum.events import Event, EventSink
from forum.rendering import Renderer
from forum.settings import Settings


@dataclass(frozen=True)
class Forum:
    """The database, where live events go, the page renderer, the settings and the clock."""

    db: Database
    events: EventSink
    renderer: Renderer
    settings: Settings
    clock: Clock

    def now(self) -> float:
        return self.clock.now()

    async def publish(self, conn: Connection, event: Event) -> list[int]:
        """Append `event` to the log of each of its channels, inside the caller's transaction
        (`conn`), so the event exists if and only if its change does; the sink wakes every
        node after commit. Returns the ids, one per channel."""
        now = self.clock.now()
        payload: dict[str, Any] = event.payload()
        return [
            await self.events.append(conn, channel, event.kind, payload, now)
            for channel in event.channels()
        ]
