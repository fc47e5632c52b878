"""Every live event the forum emits: typed, with a stable kind and the channels it goes to.

Actions build these and hand them to `publish` inside the transaction that made the change,
so an event exists if and only if its change does.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from forum.db import Connection
from forum.queries.events import append_event


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]

    def channels(self) -> list[str]:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PostCreated(Event):
    kind: ClassVar[str] = "post.created"
    topic_id: int
    group_id: int
    post_id: int
    post_number: int
    username: str
    html: str

    def channels(self) -> list[str]:
        return [f"topic:{self.topic_id}"]


@dataclass(frozen=True)
class PostEdited(Event):
    kind: ClassVar[str] = "post.edited"
    topic_id: int
    group_id: int
    post_id: int
    post_number: int
    username: str
    version: int
    html: str

    def channels(self) -> list[str]:
        return [f"topic:{self.topic_id}"]


@dataclass(frozen=True)
class TopicCreated(Event):
    kind: ClassVar[str] = "topic.created"
    topic_id: int
    group_id: int
    title: str
    username: str

    def channels(self) -> list[str]:
        return [f"group:{self.group_id}", "latest"]


@dataclass(frozen=True)
class TopicBumped(Event):
    kind: ClassVar[str] = "topic.bumped"
    topic_id: int
    group_id: int
    post_number: int
    username: str

    def channels(self) -> list[str]:
        return [f"group:{self.group_id}", "latest"]


async def publish(conn: Connection, event: Event) -> list[int]:
    """Append the event to the log of each of its channels; returns the ids, one per channel."""
    now = time.time()
    payload = event.payload()
    return [await append_event(conn, ch, event.kind, payload, now) for ch in event.channels()]
