"""What is being written, as typed values: a draft as its author sent it, and the same draft
once checked and cooked, on its way into the database or the review queue.

A post's values travel as one of these, never as a row of loose arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from forum.moderation import Hold
from forum.queries.groups import Group
from forum.queries.topics import Topic
from forum.queries.users import User


@dataclass(frozen=True)
class Draft:
    """A post as sent: its text, a title for a new topic, the post it replies to.

    `confirmed`: the author saw the identifiable-data warning and posts anyway.
    `idempotency_key`: a request sent again with the same key gets what the first made."""

    raw: str | None
    title: str | None = None
    reply_to_post_number: int | None = None
    confirmed: bool = True
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PostEdit:
    """An edit as sent: the new text, the version the editor saw (a later edit is never
    overwritten in silence), a new title for a first post, and `redact`: a moderator editing
    someone's post takes the earlier versions out of the history (chosen on the form)."""

    raw: str | None
    expected_version: int | None
    title: str | None = None
    confirmed: bool = True
    redact: bool = True


@dataclass(frozen=True)
class Text:
    """A post's markdown and the HTML cooked from it, once."""

    raw: str
    cooked: str


@dataclass(frozen=True)
class Writing:
    """A draft that passed every check, inside the transaction that writes it: who writes
    where (`topic` None: a new topic), the cleaned text, and what the scan found."""

    author: User
    group: Group
    membership: str | None
    topic: Topic | None
    title: str | None
    text: Text
    reply_to_post_number: int | None
    privacy: Hold | None
    confirmed: bool
    # The watched words' version read with the access check in this transaction (None: not
    # read with it): forum/watched.py.
    watched_version: int | None = None


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on a review item, as sent: the action, the item's version they
    saw, the reason for the author, and for edit-then-approve the text (and a held new
    topic's title) as they edited it; for a silence or suspension, how long."""

    action: str | None
    expected_version: int | None
    note: str | None = None
    raw: str | None = None
    title: str | None = None
    penalty: str | None = None


@dataclass(frozen=True)
class ReviewEdit:
    """Edit-then-approve's text, checked and cooked, and the held topic's new title."""

    text: Text | None
    title: str | None


@dataclass(frozen=True)
class Applied:
    """What a decision did: the message its author is told ('' for none) and the post."""

    message: str
    post_id: int | None


@dataclass(frozen=True)
class DebatePlan:
    """A debate as its convener sent it. Times are ISO 8601 with an offset
    ("2026-12-08T19:00:00+00:00"), or, from the HTML form, a local date and time read in
    `time_zone` (an IANA name). `hosts`: usernames besides the convener, who hosts too."""

    title: str | None
    description: str | None
    starts_at: str | None
    ends_at: str | None
    questions: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    time_zone: str | None = None
