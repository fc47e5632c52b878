"""Notifications over the JSON API, in Discourse's shapes: the list, marking read, and the
notification level of a topic or a category (group)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import following
from forum.api.serialize import notification_json
from forum.errors import BadRequest
from forum.forms import query_input, read_input
from forum.queries import notifications as queries
from forum.web import ForumJSON, forum_of, path_int, require_viewer

MAX_LIMIT = 60


async def notifications(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    query = query_input(request)
    limit = query.get_int("limit") or MAX_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}.")
    before = query.get_int("before")
    found = await queries.list_notifications(forum.db, viewer.id, limit=limit + 1, before_id=before)
    shown = found[:limit]
    body: dict[str, object] = {
        "notifications": [notification_json(n, viewer.id) for n in shown],
        "total_rows_notifications": await queries.count_all(forum.db, viewer.id),
        "unread_notifications": await queries.count_unread(forum.db, viewer.id),
        "seen_notification_id": max((n.id for n in shown if n.read), default=0),
    }
    if len(found) > limit:
        body["load_more_notifications"] = f"/notifications.json?limit={limit}&before={shown[-1].id}"
    return ForumJSON(body)


async def mark_read(request: Request) -> Response:
    form = await read_input(request)
    unread = await following.do_mark_read(
        forum_of(request), require_viewer(request), form.get_int("id")
    )
    return ForumJSON({"success": "OK", "unread_notifications": unread})


async def topic_level(request: Request) -> Response:
    return await _set_level(request, following.do_set_topic_level, "topic_id")


async def category_level(request: Request) -> Response:
    return await _set_level(request, following.do_set_group_level, "group_id")


async def _set_level(request: Request, act: Any, id_name: str) -> Response:
    """Discourse's notification level form (`notification_level`) for a topic or category."""
    form = await read_input(request)
    level = following.parse_level(form.get("notification_level"))
    await act(forum_of(request), require_viewer(request), path_int(request, id_name), level)
    return ForumJSON({"success": "OK", "notification_level": int(level)})


_TIMING_KEY = re.compile(r"timings\[([0-9]{1,10})\]")


async def topic_timings(request: Request) -> Response:
    """Discourse's POST /topics/timings: `topic_id` and `timings[N]` (milliseconds spent on
    post N); the reader's place moves on to the highest N."""
    form = await read_input(request)
    topic_id = form.get_int("topic_id")
    numbers = [int(found.group(1)) for key in form.values if (found := _TIMING_KEY.fullmatch(key))]
    if topic_id is None or not numbers:
        raise BadRequest("Send topic_id and at least one timings[N] for a post number N.")
    await following.do_record_reading(
        forum_of(request), require_viewer(request), topic_id, min(max(numbers), 2**31 - 1)
    )
    return ForumJSON({"success": "OK"})
