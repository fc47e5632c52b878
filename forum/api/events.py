"""A group's events over the JSON API: `GET /g/{slug}/events.json` (ours; Discourse's events
are a plugin with other shapes): those to come, soonest first, and the latest past ones."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group
from forum.queries import events as queries
from forum.queries.events import GroupEvent
from forum.rendering import iso_time
from forum.web import ForumJSON, forum_of, viewer_of

LIMIT = 50


def event_json(request: Request, slug: str, event: GroupEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "starts_at": iso_time(event.starts_at),
        "ends_at": iso_time(event.ends_at),
        "time_zone": event.time_zone,
        "online_url": event.online_url,
        "place": event.place,
        "capacity": event.capacity,
        "going": event.going,
        "cancelled": event.cancelled_at is not None,
        "username": event.username,
        "url": request.url_for("event", slug=slug, event_id=event.id).path,
        "ics_url": request.url_for("event_ics", slug=slug, event_id=event.id).path,
    }


async def events(request: Request) -> Response:
    forum = forum_of(request)
    access = await access_group(forum.db, viewer_of(request), slug=request.path_params["slug"])
    group, now = access.group, forum.now()
    upcoming = await queries.list_upcoming(forum.db, group.id, now, LIMIT)
    past = await queries.list_past(forum.db, group.id, now, LIMIT)
    return ForumJSON(
        {
            "upcoming": [event_json(request, group.slug, e) for e in upcoming],
            "past": [event_json(request, group.slug, e) for e in past],
        }
    )
