"""Sharing learning (issue 12): a group's conveners post a short summary of what the group
learned, linking the topics, debates and documents it came from; the Learning page and its
Atom feed gather them. Like a debate's text, it goes to many at once and cannot wait for a
moderator, so anything that looks like it could identify someone is refused."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from forum.access import access_group
from forum.actions.debates import refuse_identifiers
from forum.actions.posts import require_author
from forum.actions.validation import clean_text, clean_title
from forum.content import cook
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Forbidden, NotFound, RateLimited
from forum.forms import Input
from forum.permissions import can_manage_members
from forum.queries import debates as debate_queries
from forum.queries import documents as document_queries
from forum.queries import learning as queries
from forum.queries import topics as topic_queries
from forum.queries.groups import Group
from forum.queries.users import User
from forum.settings import image_host_set

MAX_SUMMARY_CHARS = 4_000
MAX_SOURCES = 10
UPDATES_PER_HOUR = 10
PER_PAGE = 20

_TOPIC = re.compile(r"/t/(?:[^/]+/)?(\d{1,10})(?:/\d{1,10})?/?")
_DEBATE = re.compile(r"/debates/(\d{1,10})/?")
_DOCUMENT = re.compile(r"/g/([^/]+)/documents/(\d{1,10})/?")


async def _source(conn: Connection, group: Group, address: str) -> tuple[str, int] | None:
    """A topic, debate or document of `group` named by its address (whole or its path)."""
    try:
        path = urlsplit(address).path
    except ValueError:  # "http://[x": not an address at all
        return None
    if found := _TOPIC.fullmatch(path):
        topic = await topic_queries.get_topic(conn, int(found.group(1)))
        return ("topic", topic.id) if topic and topic.group_id == group.id else None
    if found := _DEBATE.fullmatch(path):
        debate = await debate_queries.get_debate(conn, int(found.group(1)))
        return ("debate", debate.id) if debate and debate.group_id == group.id else None
    if (found := _DOCUMENT.fullmatch(path)) and found.group(1) == group.slug:
        document = await document_queries.get_document(conn, group.id, int(found.group(2)))
        return ("document", document.id) if document else None
    return None


async def do_post_update(forum: Forum, user: User | None, group_id: int, form: Input) -> int:
    convener = require_author(user, forum.now())
    errors: list[str] = []
    title = raw = ""
    try:
        title = clean_title(form.get("title"), 200)
    except BadRequest as error:
        errors += error.messages
    try:
        raw = clean_text(form.get("summary"), "The summary", MAX_SUMMARY_CHARS)
        refuse_identifiers(f"{title}\n{raw}", "A learning update")
    except BadRequest as error:
        errors += error.messages
    lines = [line.strip() for line in (form.get("sources") or "").splitlines() if line.strip()]
    if len(lines) > MAX_SOURCES:
        errors.append(f"Link at most {MAX_SOURCES} topics, debates or documents.")
        lines = []
    # Cooked before the transaction (which holds SQLite's writer); a summary is short.
    cooked = cook(raw, image_host_set(forum.settings)) if raw and not errors else ""
    async with forum.db.transaction() as conn:
        access = await access_group(conn, convener, group_id=group_id)
        if not can_manage_members(convener, access.membership):
            raise Forbidden("Only the group's conveners post its learning updates.")
        sources: list[tuple[str, int]] = []
        for number, line in enumerate(lines, 1):
            source = await _source(conn, access.group, line) if len(line) <= 2000 else None
            if source is None:
                errors.append(
                    f"Line {number} of “Where it came from” is not the address of a topic,"
                    " debate or document of this group."
                )
            elif source not in sources:
                sources.append(source)
        if errors:
            raise BadRequest(*errors)
        wait = forum.follow_limits.take(f"learning:{convener.id}", UPDATES_PER_HOUR, 3600)
        if wait:
            raise RateLimited("That is a lot of updates at once. Please wait.", wait_seconds=wait)
        return await queries.insert_update(
            conn, group_id, convener.id, title, raw, cooked, sources, forum.now()
        )


async def do_delete_update(forum: Forum, user: User | None, update_id: int) -> str:
    """Remove an update; the slug of its group."""
    convener = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        update = await queries.get_update(conn, update_id)
        if update is None:
            raise NotFound("There is no such update.")
        access = await access_group(conn, convener, group_id=update.group_id)
        if not can_manage_members(convener, access.membership):
            raise Forbidden("Only the group's conveners remove its learning updates.")
        await queries.delete_update(conn, update_id)
        return access.group.slug
