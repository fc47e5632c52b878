"""Every live event the forum emits: typed, with a stable kind and the channels it goes to.

Actions build these and hand them to `Forum.publish` (forum/context.py) inside the
transaction that made the change, so an event exists if and only if its change does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any, ClassVar, Protocol

from forum.db import Connection
from forum.permissions import PostFacts
from realtime.log import rewrite_events


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]

    def channels(self) -> list[str]:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        # asdict's result without its deep copy of every value (an event's html is kilobytes):
        # fields are immutable values, or dataclasses (a post's facts), which become dicts.
        return {field.name: _plain(getattr(self, field.name)) for field in fields(self)}


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (list, tuple, dict)):
        return deepcopy(value)
    return value


@dataclass(frozen=True)
class PostCreated(Event):
    """A post published in a topic. `html`: the post with no controls; each reader's are
    added as it is delivered, from `facts` (forum/live.py). `posts_label`: the topic's count
    of posts as its page now says it."""

    kind: ClassVar[str] = "post.created"
    topic_id: int
    group_id: int
    post_id: int
    post_number: int
    username: str
    html: str
    facts: PostFacts
    posts_label: str
    # An answer in a hosted debate goes to the debate's channel, with its question's number,
    # and, when it is its author's first, how many now take part. The count rides with the
    # answer: an event of its own would double the frames sent as a debate opens, when
    # hundreds answer for the first time at once (bench/debate.py).
    debate_id: int | None = None
    question: int | None = None
    participants: int | None = None
    participants_label: str | None = None

    def channels(self) -> list[str]:
        return [post_channel(self.topic_id, self.debate_id)]


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
    facts: PostFacts
    debate_id: int | None = None

    def channels(self) -> list[str]:
        return [post_channel(self.topic_id, self.debate_id)]


@dataclass(frozen=True)
class PostLiked(Event):
    """A post's count of thanks changed. Alike for every reader: the count and its words;
    who gave them is read on request (a reader's own button is theirs alone)."""

    kind: ClassVar[str] = "post.liked"
    topic_id: int
    post_id: int
    post_number: int
    likes: int
    likes_label: str
    debate_id: int | None = None

    def channels(self) -> list[str]:
        return [post_channel(self.topic_id, self.debate_id)]


def post_channel(topic_id: int, debate_id: int | None) -> str:
    """Where a post's events go: its topic's channel, or its debate's (a debate's page follows
    that one channel: its state, questions, answers and count)."""
    return f"debate:{debate_id}" if debate_id is not None else f"topic:{topic_id}"


@dataclass(frozen=True)
class DebateStateChanged(Event):
    """A debate went live, closed, or had its end moved. `message`: said to screen readers."""

    kind: ClassVar[str] = "debate.state"
    debate_id: int
    topic_id: int
    group_id: int
    state: str
    ends_at: float
    message: str

    def channels(self) -> list[str]:
        return [f"debate:{self.debate_id}"]


@dataclass(frozen=True)
class QuestionRevealed(Event):
    """A host revealed a question: `html` is its section of the debate page, answers to come."""

    kind: ClassVar[str] = "debate.question"
    debate_id: int
    group_id: int
    number: int
    question_post_id: int  # not "post_id": the rewrites of a post's own events pass it by
    post_number: int
    html: str
    remaining: int  # questions still hidden (everyone is told how many, never what)

    def channels(self) -> list[str]:
        return [f"debate:{self.debate_id}"]


@dataclass(frozen=True)
class DebateReminder(Event):
    """A debate someone asked to be reminded of has started: on their private channel."""

    kind: ClassVar[str] = "debate.reminder"
    user_id: int
    debate_id: int
    title: str
    url: str
    message: str

    def channels(self) -> list[str]:
        return [f"user:{self.user_id}"]


@dataclass(frozen=True)
class NotificationCreated(Event):
    """Something a member is told of (forum/actions/notify.py), on their private channel:
    the bell's new count and the item as the bell's list shows it."""

    kind: ClassVar[str] = "notification.created"
    user_id: int
    notification_id: int
    unread: int
    html: str
    message: str  # what a screen reader announces

    def channels(self) -> list[str]:
        return [f"user:{self.user_id}"]


@dataclass(frozen=True)
class NotificationsRead(Event):
    """A member read some notifications (here or in another tab): the bell's new count."""

    kind: ClassVar[str] = "notification.read"
    user_id: int
    unread: int
    notification_ids: tuple[int, ...]  # empty: all of them

    def channels(self) -> list[str]:
        return [f"user:{self.user_id}"]


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


@dataclass(frozen=True)
class TopicAnswered(Event):
    """Someone other than its author replied to a topic for the first time: it leaves the
    conveners' list of topics waiting for an answer (views/founding.unanswered). Ids only."""

    kind: ClassVar[str] = "topic.answered"
    topic_id: int
    group_id: int
    waiting: bool  # it was on the conveners' list (their header's count goes down)

    def channels(self) -> list[str]:
        # The review channel: its conveners (of this group only, forum/live.py) and staff
        # follow it on every page, for the header's count.
        return ["review"]


@dataclass(frozen=True)
class TopicChanged(Event):
    """Something a topic's row in the lists shows changed in place (a post hidden, removed,
    shown again or edited; the topic closed, pinned or slowed): the kept pages of its lists
    (forum/page_cache.py) are rendered afresh. Open pages ignore it; ids only."""

    kind: ClassVar[str] = "topic.changed"
    topic_id: int
    group_id: int
    on_topic: bool = False  # also on the topic's own channel: its page shows the change

    def channels(self) -> list[str]:
        lists = [f"group:{self.group_id}", "latest"]
        return [f"topic:{self.topic_id}", *lists] if self.on_topic else lists


# Every node follows this channel itself (realtime/endpoint.py); no client may subscribe.
ACCESS_CHANNEL = "access"
# What every reader's pages show changed in a way no page's own channel says (who may read a
# group, a member's marks or picture): the key of every page kept for anonymous readers
# (forum/page_cache.py). Nobody subscribes; its hints and head are read.
PAGES_CHANNEL = "pages"


@dataclass(frozen=True)
class AccessChanged(Event):
    """The user's rights changed (a role, a membership, a suspension, a logout): every node
    checks that account's open sockets again at once, their session and each channel."""

    kind: ClassVar[str] = "access.changed"
    user_id: int
    # Whether pages anyone reads may show the change (a role mark, a picture, a membership):
    # then kept pages are made afresh too. A logout changes no page but the person's own.
    pages: bool = True

    def channels(self) -> list[str]:
        return [ACCESS_CHANNEL, PAGES_CHANNEL] if self.pages else [ACCESS_CHANNEL]

    def payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "account": str(self.user_id)}


@dataclass(frozen=True)
class EveryoneAccessChanged(Event):
    """What many people may read changed at once (a group made private or public, a topic
    moved to another group): every node checks every open socket again, each channel it
    follows and the groups its `latest` shows. `group_id`: the group whose readers changed."""

    kind: ClassVar[str] = "access.changed"
    group_id: int

    def channels(self) -> list[str]:
        return [ACCESS_CHANNEL, PAGES_CHANNEL]

    def payload(self) -> dict[str, Any]:
        return {"everyone": True, "group_id": self.group_id}


@dataclass(frozen=True)
class TopicMoved(Event):
    """A topic moved to another group (forum/actions/moving.py), at the same address: its
    readers are told, and both groups' lists (and `latest`) drop or gain its row. `group_id`
    is the new group: the `latest` channel is shown to the readers of the group an event
    names (forum/live.py), and only the new group's readers may read the topic now."""

    kind: ClassVar[str] = "topic.moved"
    topic_id: int
    from_group_id: int
    to_group_id: int
    url: str

    def channels(self) -> list[str]:
        return [
            f"topic:{self.topic_id}",
            f"group:{self.from_group_id}",
            f"group:{self.to_group_id}",
            "latest",
        ]

    def payload(self) -> dict[str, Any]:
        return super().payload() | {"group_id": self.to_group_id}


@dataclass(frozen=True)
class GroupChanged(Event):
    """A group's settings changed (its description, statement, how people join, who can
    read it): pages of the group kept or open elsewhere are drawn again. Ids only."""

    kind: ClassVar[str] = "group.changed"
    group_id: int

    def channels(self) -> list[str]:
        # `latest` too: the home page and the list of groups show its name and description.
        return [f"group:{self.group_id}", "latest"]


@dataclass(frozen=True)
class ReviewChanged(Event):
    """An item arrived in the review queue, was claimed, gained a flag or was resolved.

    Goes to the moderators' `review` channel, shaped per viewer (forum/live.py): conveners
    receive only their groups' items, as conveners see them; nobody receives both cards."""

    kind: ClassVar[str] = "review.changed"
    item_id: int
    group_id: int | None
    status: str
    version: int
    claimed_by: str | None
    html: str  # the item's card in the queue as site staff see it (_review_item.html)
    html_conveners: str  # ... and as a group's conveners do: no staff-only actions

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


class EventSink(Protocol):
    """Where actions append live events: realtime's Bus. `append` writes an event to the log
    inside the caller's transaction and wakes every node once it commits (realtime/bus.py);
    `append_many` writes several, each (channel, kind, data), as append of each in turn would
    (an action's events in one statement, two on SQLite)."""

    async def append(
        self, conn: Any, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int: ...

    async def append_many(
        self, conn: Any, entries: Sequence[tuple[str, str, dict[str, Any]]], now: float
    ) -> list[int]: ...


# --- what the log keeps, when text leaves public view ----------------------------------------


Update = Callable[[dict[str, Any]], dict[str, Any] | None]


def _with_html(key: str, ident: int, **fields: object) -> Update:
    """A rewrite of the stored events whose `key` is `ident`: these fields take these values
    (where an event has them)."""

    def update(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get(key) != ident:
            return None
        new = data | {name: value for name, value in fields.items() if name in data}
        return new if new != data else None

    return update


async def replace_post_html(
    conn: Connection,
    topic_id: int,
    post_id: int,
    html: str,
    facts: PostFacts,
    debate_id: int | None = None,
) -> int:
    """Every stored event of a post (created, edited) carries `html` and `facts` from now on:
    the post as readers see it now (hidden, removed, redacted), and the controls that go
    with that. A reader who resumes from the log is never sent text that a moderator or its
    author took away. Live events already sent are replaced in place by the post.edited
    event that goes with the change."""
    marker = f'"post_id":{post_id},'
    update = _with_html("post_id", post_id, html=html, facts=asdict(facts))
    return await rewrite_events(conn, post_channel(topic_id, debate_id), marker, update)


async def replace_question_html(conn: Connection, debate_id: int, post_id: int, html: str) -> int:
    """The stored `debate.question` event of a question shows it as readers see it now
    (edited, hidden, removed): a replay never carries text a moderator took away."""
    marker = f'"question_post_id":{post_id},'
    update = _with_html("question_post_id", post_id, html=html)
    return await rewrite_events(conn, f"debate:{debate_id}", marker, update)


async def replace_review_html(conn: Connection, event: ReviewChanged) -> int:
    """Every stored event of a review item carries its cards as `event` has them, the item
    as it is now (once resolved, its text is gone from the cards and from the log alike)."""
    marker = f'"item_id":{event.item_id},'
    update = _with_html(
        "item_id", event.item_id, html=event.html, html_conveners=event.html_conveners
    )
    return await rewrite_events(conn, "review", marker, update)


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
