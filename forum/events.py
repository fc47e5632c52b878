"""Every live event the forum emits: typed, with a stable kind and the channels it goes to.

Actions build these and hand them to `publish` inside the transaction that made the change,
so an event exists if and only if its change does.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from forum.db import Connection
from realtime.log import append_sql, rewrite_events


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
    html: str  # the topic's row in a list, from _topic_row.html

    def channels(self) -> list[str]:
        return [f"group:{self.group_id}", "latest"]


@dataclass(frozen=True)
class TopicBumped(Event):
    kind: ClassVar[str] = "topic.bumped"
    topic_id: int
    group_id: int
    post_number: int
    username: str
    html: str  # the topic's row in a list, moved to the top by live pages

    def channels(self) -> list[str]:
        return [f"group:{self.group_id}", "latest"]


# Every node follows this channel itself (realtime/endpoint.py); no client may subscribe.
ACCESS_CHANNEL = "access"


@dataclass(frozen=True)
class AccessChanged(Event):
    """The user's rights changed (a role, a membership, a suspension, a logout): every node
    checks that account's open sockets again at once, their session and each channel."""

    kind: ClassVar[str] = "access.changed"
    user_id: int

    def channels(self) -> list[str]:
        return [ACCESS_CHANNEL]

    def payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "account": str(self.user_id)}


@dataclass(frozen=True)
class ReviewChanged(Event):
    """An item arrived in the review queue, was claimed, gained a flag or was resolved.

    Goes to the moderators' `review` channel, filtered per viewer: conveners receive only
    their groups' items (forum/live.py)."""

    kind: ClassVar[str] = "review.changed"
    item_id: int
    group_id: int | None
    status: str
    version: int
    claimed_by: str | None
    html: str  # the item's card in the queue, from _review_item.html

    def channels(self) -> list[str]:
        return ["review"]


@dataclass(frozen=True)
class ReviewOutcome(Event):
    """Tells an author what became of their held post, on their private channel."""

    kind: ClassVar[str] = "review.outcome"
    user_id: int
    item_id: int
    status: str
    message: str

    def channels(self) -> list[str]:
        return [f"user:{self.user_id}"]


async def publish(conn: Connection, event: Event) -> list[int]:
    """Append the event to the log of each of its channels; returns the ids, one per channel.

    Through the app's bus when it has one (which also wakes every node after commit);
    otherwise (the command line) straight into the log, where pollers and catch-ups find it.
    """
    now = time.time()
    payload = event.payload()
    ids = []
    for channel in event.channels():
        if conn.event_log is not None:
            ids.append(await conn.event_log.append(conn, channel, event.kind, payload, now))
        else:
            ids.append(await append_sql(conn, channel, event.kind, payload, now))
    return ids


# --- what the log keeps, when text leaves public view ----------------------------------------


def _with_html(key: str, ident: int, html: str) -> Any:
    def update(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get(key) != ident or "html" not in data or data["html"] == html:
            return None
        return data | {"html": html}

    return update


async def replace_post_html(conn: Connection, topic_id: int, post_id: int, html: str) -> int:
    """Every stored event of a post (created, edited) carries `html` from now on: the post as
    readers see it now (hidden, removed, redacted). A reader who resumes from the log is
    never sent text that a moderator or its author took away. Live events already sent are
    replaced in place by the post.edited event that goes with the change."""
    marker = f'"post_id":{post_id},'
    return await rewrite_events(
        conn, f"topic:{topic_id}", marker, _with_html("post_id", post_id, html)
    )


async def replace_review_html(conn: Connection, item_id: int, html: str) -> int:
    """Every stored event of a review item carries its card as it is now (once resolved, its
    text is gone from the card and from the log alike)."""
    marker = f'"item_id":{item_id},'
    return await rewrite_events(conn, "review", marker, _with_html("item_id", item_id, html))


async def replace_topic_rows(
    conn: Connection, topic_id: int, group_id: int, title: str, html: str
) -> None:
    """Every stored list event of a topic (created, bumped) shows its title as it is now."""

    def update(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get("topic_id") != topic_id:
            return None
        new = data | {"html": html}
        if "title" in data:
            new["title"] = title
        return new if new != data else None

    for channel in (f"group:{group_id}", "latest"):
        await rewrite_events(conn, channel, f'"topic_id":{topic_id},', update)
