"""Drafts saved on the server as a member types (static/composer.js), so a reload, a crash or
another device loses nothing: who may keep one where, how large, how often, how many.

A draft is kept under a key naming its place: "topic_<id>" for a reply, "new_topic_<group
id>" for a new topic (edits need none: the post itself is kept). Its `sequence` rises with
each save, and a save naming another is a 409, so a window left open on an old version
cannot overwrite a newer one. The post that sends a draft deletes it in its own transaction
(actions/posts.py). Draft text is never logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from forum.access import access_group, access_topic
from forum.actions.posts import require_author
from forum.actions.validation import clean_text
from forum.context import Forum
from forum.db import Connection
from forum.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)
from forum.forms import MAX_ID, parse_json
from forum.permissions import can_reply, can_start_topic
from forum.queries import saved_drafts as draft_queries
from forum.queries.saved_drafts import SavedDraft
from forum.queries.users import User

_KEY = re.compile(r"(topic|new_topic)_([0-9]{1,10})")


@dataclass(frozen=True)
class DraftPlace:
    """Where a draft will be posted: a reply in a topic, or a new topic in a group."""

    kind: str  # "topic" or "new_topic"
    id: int  # the topic's or the group's

    @property
    def key(self) -> str:
        if self.kind == "topic":
            return draft_queries.reply_key(self.id)
        return draft_queries.new_topic_key(self.id)


@dataclass(frozen=True)
class DraftText:
    """A draft's content as kept: the text exactly as typed (not stripped: the writer's
    blank lines are theirs), a new topic's title, the post a reply answers."""

    raw: str
    title: str = ""
    reply_to_post_number: int | None = None

    @property
    def empty(self) -> bool:
        return not self.raw.strip() and not self.title.strip()

    def to_json(self) -> str:
        data: dict[str, Any] = {"raw": self.raw}
        if self.title:
            data["title"] = self.title
        if self.reply_to_post_number is not None:
            data["reply_to_post_number"] = self.reply_to_post_number
        return json.dumps(data, ensure_ascii=False)


def parse_place(key: str | None) -> DraftPlace:
    found = _KEY.fullmatch(key or "")
    if found is None:
        raise BadRequest('A draft key is "topic_" and a topic id, or "new_topic_" and a group id.')
    number = int(found.group(2))
    if number > MAX_ID:  # an id no row has: as a missing topic or group
        raise NotFound("There is no such topic or group.")
    return DraftPlace(found.group(1), number)


def _text(value: Any, label: str, max_chars: int, multiline: bool) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{label} must be text.")
    try:
        value.encode("utf-8")  # JSON escapes can smuggle in lone surrogates
    except UnicodeEncodeError:
        raise BadRequest("The request is not valid UTF-8 text.") from None
    text = value.replace("\r\n", "\n")
    if len(text) > max_chars:
        raise PayloadTooLarge(
            f"{label} is {len(text):,} characters long; the most is {max_chars:,}."
        )
    clean_text(text, label, max_chars, multiline=multiline, allow_empty=True)  # control characters
    return text


def parse_text(forum: Forum, place: DraftPlace, data: str | None) -> DraftText:
    """The draft's JSON `data` (Discourse's field), checked as a post would be for size and
    characters: {"raw": ..., "title": ..., "reply_to_post_number": ...}; Discourse's
    "reply" is read as "raw", and other keys Discourse clients send are left out."""
    found = parse_json(data) if data and data.strip() else None
    if not isinstance(found, dict):
        raise BadRequest('The draft\'s data must be a JSON object, such as {"raw": "..."}.')
    settings = forum.settings
    raw = _text(found.get("raw", found.get("reply")), "The draft", settings.max_post_chars, True)
    if place.kind == "topic":
        to = found.get("reply_to_post_number")
        if to is not None and (isinstance(to, bool) or not isinstance(to, int)):
            raise BadRequest("reply_to_post_number must be a whole number.")
        if to is not None and not 1 <= to <= MAX_ID:
            raise BadRequest("reply_to_post_number is out of range.")
        return DraftText(raw, reply_to_post_number=to)
    title = _text(found.get("title"), "The title", settings.max_title_chars, False)
    return DraftText(raw, title=title)


async def _check_place(conn: Connection, user: User, place: DraftPlace, *, writing: bool) -> None:
    """The viewer may read the place (a private group's outsiders: 404, as for the topic
    itself) and, to keep a draft there (`writing`), may post there."""
    if place.kind == "topic":
        access = await access_topic(conn, user, place.id)
        if writing and not can_reply(user, access.group, access.membership, access.topic):
            raise Forbidden(
                "This topic is closed to new replies."
                if access.topic.closed
                else "You cannot reply in this group."
            )
    else:
        group = await access_group(conn, user, group_id=place.id)
        if writing and not can_start_topic(user, group.group, group.membership):
            raise Forbidden("You cannot start topics in this group.")


def _pace(forum: Forum, user: User) -> None:
    # Saves come with every pause in typing: counted per person on each server (bounded
    # memory), as previews are, before the database is asked anything.
    wait = forum.draft_limits.take(f"draft:{user.id}", forum.settings.draft_saves_per_minute, 60)
    if wait:
        raise RateLimited("Drafts are saved less often for a moment.", wait_seconds=wait)


async def read_draft(
    forum: Forum, user: User | None, key: str | None
) -> tuple[DraftPlace, SavedDraft | None]:
    """The viewer's draft for a place they may read (None: none kept)."""
    if user is None:
        raise NotAuthenticated("Please log in to see your drafts.")
    place = parse_place(key)
    async with forum.db.reads() as conn:
        await _check_place(conn, user, place, writing=False)
        return place, await draft_queries.get_draft(conn, user.id, place.key)


def check_save(
    forum: Forum, user: User | None, key: str | None, data: str | None
) -> tuple[User, DraftPlace, DraftText]:
    """The cheap checks, before the database: who, which place, the content, the pace."""
    author = require_author(user, forum.now())
    place = parse_place(key)
    text = parse_text(forum, place, data)
    _pace(forum, author)
    return author, place, text


async def do_save_draft(
    forum: Forum, user: User | None, key: str | None, data: str | None, sequence: int
) -> int:
    """Keep the draft; its new sequence (0: it was empty, so none is kept now). A save
    naming a sequence the draft no longer has is a Conflict and changes nothing."""
    author, place, text = check_save(forum, user, key, data)
    async with forum.db.transaction() as conn:
        await _check_place(conn, author, place, writing=True)
        if text.empty:  # an emptied box: no draft
            gone = await draft_queries.delete_draft(conn, author.id, place.key, sequence)
            if gone or await draft_queries.get_draft(conn, author.id, place.key) is None:
                return 0
            raise Conflict(_CHANGED)
        saved = await draft_queries.save_draft(
            conn, author.id, place.key, text.to_json(), sequence, forum.now()
        )
        if saved is None:
            raise Conflict(_CHANGED)
        if saved == 1:  # a new draft: the oldest beyond the limit go
            await draft_queries.drop_oldest(conn, author.id, forum.settings.drafts_per_user)
        return saved


_CHANGED = (
    "This draft was changed in another window or on another device (or already posted),"
    " so this version was not saved."
)


async def do_delete_draft(
    forum: Forum, user: User | None, key: str | None, sequence: int | None = None
) -> None:
    """Forget the viewer's draft (with `sequence`: only that version of it). Deleting what
    is not there is not an error; anyone signed in may, wherever they may no longer post."""
    if user is None:
        raise NotAuthenticated("Please log in to see your drafts.")
    place = parse_place(key)
    _pace(forum, user)
    async with forum.db.transaction() as conn:
        if await draft_queries.delete_draft(conn, user.id, place.key, sequence):
            return
        if sequence is not None and await draft_queries.get_draft(conn, user.id, place.key):
            raise Conflict(_CHANGED)
