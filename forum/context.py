"""The forum's one application context: what every action is handed as its first argument.

Built once at start-up (forum/app.py's lifespan, the command line, the tests, the bench)
from parts that are complete when they are passed in: nothing is attached afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forum.clock import Clock
from forum.db import Connection, Database
from forum.events import Event, EventSink
from forum.ratelimit import RateLimiter
from forum.rendering import Renderer
from forum.settings import Settings
from forum.storage import FolderStorage, Storage
from forum.watched import WatchedWords


@dataclass(frozen=True)
class Forum:
    """The database, where live events go, the page renderer, the settings and the clock."""

    db: Database
    events: EventSink
    renderer: Renderer
    settings: Settings
    clock: Clock
    # Composer previews per person in this process (bounded memory; views/preview.py).
    preview_limits: RateLimiter = field(default_factory=RateLimiter)
    # Drafts saved as they are typed, per person in this process (forum/actions/saved_drafts.py).
    draft_limits: RateLimiter = field(default_factory=RateLimiter)
    # Notification choices per person in this process (forum/actions/following.py).
    follow_limits: RateLimiter = field(default_factory=RateLimiter)
    # The watched words as this process last read them, used only at their current version.
    watched: WatchedWords = field(default_factory=WatchedWords)

    @property
    def storage(self) -> Storage:
        """Where uploaded files are kept: documents and profile pictures
        (settings.documents_dir)."""
        return FolderStorage(self.settings.documents_dir)

    def now(self) -> float:
        return self.clock.now()

    async def publish(self, conn: Connection, *events: Event) -> list[int]:
        """Append each event to the log of each of its channels, in order, inside the caller's
        transaction (`conn`), so an event exists if and only if its change does; the sink
        wakes every node after commit. An action's events go together: one statement (two
        on SQLite). Returns the ids, one per event and channel."""
        now = self.clock.now()
        entries = []
        for event in events:
            payload: dict[str, Any] = event.payload()  # one dict, encoded once
            entries += [(channel, event.kind, payload) for channel in event.channels()]
        return await self.events.append_many(conn, entries, now)
