"""The directory over the JSON API: `GET /people.json` with the page's filters (`name`,
`interest`, `badge`, `organisation`, `region`, `page`); only profiles the caller may see."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import profiles as actions
from forum.api.serialize import avatar_template
from forum.forms import query_input
from forum.web import ForumJSON, forum_of, viewer_of


async def people(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    asked, page = actions.check_directory(query_input(request))
    found, more = await actions.find_people(forum, viewer, asked, page)
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
                for p in found
            ],
            "meta": {"more": more, "page": page},
        }
    )
