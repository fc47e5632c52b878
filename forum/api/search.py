"""Search over the JSON API in Discourse's shapes: `GET /search.json?q=` (what Discourse
clients' `search()` reads) and `GET /users/search.json?term=` (the @mention autocomplete)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group, access_topic
from forum.actions import search as search_actions
from forum.api.serialize import avatar_template, topic_list_item
from forum.errors import BadRequest
from forum.forms import query_input
from forum.queries import search as search_queries
from forum.queries import topics as topic_queries
from forum.rendering import iso_time
from forum.web import ForumJSON, client_address, forum_of, viewer_of

USERS_LIMIT = 8


def _plain(blurb: str) -> str:
    return blurb.replace(search_queries.MARK_START, "").replace(search_queries.MARK_END, "")


async def search(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    form = query_input(request)
    found = None
    asked = await search_actions.check_search(forum, viewer, form)
    if asked is None:
        raise BadRequest("Please type something to search for (q).")
    search_actions.pace_search(forum, viewer, client_address(request))
    found = await search_actions.do_search(forum, viewer, asked, form.get_int("page") or 1)
    read = await topic_queries.get_topics(forum.db, list({h.topic_id for h in found.posts}))
    topics = {
        hit.topic_id: topic_list_item(read[hit.topic_id]) | {"archetype": "regular"}
        for hit in found.posts
        if hit.topic_id in read
    }
    posts = [
        {
            "id": hit.post_id,
            "username": hit.username,
            "name": hit.username,
            "avatar_template": avatar_template(hit.username),
            "created_at": iso_time(hit.created_at),
            "like_count": 0,
            "blurb": _plain(hit.blurb),
            "post_number": hit.post_number,
            "topic_id": hit.topic_id,
            "topic_title_headline": hit.topic_title,
        }
        for hit in found.posts
        if hit.topic_id in topics
    ]
    return ForumJSON(
        {
            "posts": posts,
            "topics": list(topics.values()),
            "users": [],
            "categories": [],
            "tags": [],
            "groups": [],
            "grouped_search_result": {
                "more_posts": found.more,
                "more_users": None,
                "more_categories": None,
                "term": asked.terms,
                "search_log_id": None,
                "more_full_page_results": found.more,
                "can_create_topic": viewer is not None,
                "error": None,
                "post_ids": [p["id"] for p in posts],
                "user_ids": [],
                "category_ids": [],
                "tag_ids": [],
                "group_ids": [],
            },
        }
    )


async def users(request: Request) -> Response:
    """Members whose names start with `term`, for the @mention autocomplete."""
    forum = forum_of(request)
    term = (query_input(request).get("term") or "").strip().lstrip("@")
    if not term:
        return ForumJSON({"users": []})
    if len(term) > 20:
        raise BadRequest("A member's name is at most 20 characters.")
    viewer, query = viewer_of(request), query_input(request)
    search_actions.pace_search(forum, viewer, client_address(request), names=True)
    # Where the mention will be read (Discourse's topic_id / category_id; our group_id too):
    # only those who may read it are offered. Someone who cannot read it themselves learns
    # nothing of it (404).
    topic_id, group_id = query.get_int("topic_id"), query.get_int("group_id")
    group_id = group_id if group_id is not None else query.get_int("category_id")
    if topic_id is not None:
        group_id = (await access_topic(forum.db, viewer, topic_id)).group.id
    elif group_id is not None:
        group_id = (await access_group(forum.db, viewer, group_id=group_id)).group.id
    found = await search_queries.search_users(
        forum.db, term, limit=USERS_LIMIT, readers_of=group_id
    )
    return ForumJSON(
        {
            "users": [
                {
                    "username": user.username,
                    "name": user.username,
                    "avatar_template": avatar_template(user.username),
                }
                for user in found
            ]
        }
    )
