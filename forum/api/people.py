"""The directory over the JSON API: `GET /people.json` with the page's filters (`name`,
`interest`, `badge`, `organisation`, `region`, `page`); only profiles the caller may see."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import profiles as actions
from forum.api.serialize import avatar_template
from forum.forms import query_input
from forum.permissions import is_staff
from forum.queries import profiles as queries
from forum.web import ForumJSON, forum_of, viewer_of


async def people(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    asked, page = actions.check_directory(query_input(request))
    found = await queries.search_directory(
        forum.db,
        asked,
        viewer,
        is_staff(viewer),
        forum.now(),
        limit=actions.DIRECTORY_PER_PAGE + 1,
        offset=(page - 1) * actions.DIRECTORY_PER_PAGE,
    )
    return ForumJSON(
        {
            "directory_items": [
                {
                    "id": p.user_id,
                    "user": {
                        "id": p.user_id,
                        "username": p.username,
                        "name": p.display_name or p.username,
                        "avatar_template": avatar_template(p.username),
                        "title": p.badge,
                    },
                    "bio": p.bio,
                    "organisation": p.organisation,
                    "region": p.region,
                    "interests": list(p.interests),
                }
                for p in found[: actions.DIRECTORY_PER_PAGE]
            ],
            "meta": {"more": len(found) > actions.DIRECTORY_PER_PAGE, "page": page},
        }
    )
