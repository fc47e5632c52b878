"""Learning updates over the JSON API: `GET /learning.json` (ours), those the caller may
read, newest first, with where each came from."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import readable_groups
from forum.actions import learning as actions
from forum.errors import BadRequest
from forum.forms import query_input
from forum.queries import learning as queries
from forum.rendering import iso_time
from forum.web import ForumJSON, forum_of, viewer_of


async def learning(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    page = query_input(request).get_int("page") or 1
    if page > 1000:
        raise BadRequest("There is no such page.")
    groups = [g.id for g in await readable_groups(forum.db, viewer)]
    found = await queries.list_updates(
        forum.db, groups, limit=actions.PER_PAGE + 1, offset=(page - 1) * actions.PER_PAGE
    )
    return ForumJSON(
        {
            "updates": [
                {
                    "id": u.id,
                    "title": u.title,
                    "group": {"slug": u.group_slug, "name": u.group_name},
                    "username": u.username,
                    "created_at": iso_time(u.created_at),
                    "cooked": u.summary_cooked,
                    "sources": [
                        {"kind": s.kind, "id": s.ref_id, "title": s.title} for s in u.sources
                    ],
                    "url": request.url_for("learning_update", update_id=u.id).path,
                }
                for u in found[: actions.PER_PAGE]
            ],
            "more": len(found) > actions.PER_PAGE,
        }
    )
