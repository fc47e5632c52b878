"""JSON API handlers: the Discourse endpoints a client needs to read and post."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group, access_topic, readable_groups
from forum.actions import posts as post_actions
from forum.actions.drafts import Draft
from forum.actions.holds import Held
from forum.api.serialize import (
    category_json,
    held_json,
    post_json,
    topic_list,
    user_json,
)
from forum.errors import BadRequest, NotFound
from forum.forms import query_input, read_input
from forum.page_cache import share_page
from forum.permissions import can_edit_post, can_reply, can_start_topic
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.topics import Topic
from forum.rendering import iso_time
from forum.web import ForumJSON, forum_of, path_int, topic_page_of, viewer_of


def _more_url(request: Request, cursor: str | None) -> str | None:
    return f"{request.url.path}?before={cursor}" if cursor else None


async def latest(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    per_page = forum_of(request).settings.topics_per_page
    group_ids = [g.id for g in await readable_groups(db, viewer)]
    topics, cursor = await topic_page_of(
        request, lambda before, n: topic_queries.list_topics(db, group_ids, before, n), per_page
    )
    if viewer is None:  # a reader who is not signed in sees public groups only
        share_page(request, "latest")
    return ForumJSON(topic_list(topics, _more_url(request, cursor), per_page, viewer is not None))


async def categories(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    groups = await readable_groups(db, viewer)
    body = {
        "category_list": {
            "can_create_category": False,
            "can_create_topic": viewer is not None,
            "categories": [
                category_json(g, request.url_for("api_category", group_id=g.id).path)
                for g in groups
            ],
        }
    }
    if viewer is None:  # public groups only; their counts move with `latest`
        share_page(request, "latest")
    return ForumJSON(body)


async def category_topics(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_group(db, viewer, group_id=path_int(request, "group_id"))
    slug = request.path_params.get("slug")
    if slug is not None and slug != access.group.slug:
        raise NotFound("There is no such category.")
    per_page = forum_of(request).settings.topics_per_page
    topics, cursor = await topic_page_of(
        request,
        lambda before, n: topic_queries.list_topics(db, [access.group.id], before, n),
        per_page,
    )
    can_create = can_start_topic(viewer, access.group, access.membership)
    if viewer is None and not access.group.is_private:
        share_page(request, f"group:{access.group.id}")
    return ForumJSON(topic_list(topics, _more_url(request, cursor), per_page, can_create))


async def category_show(request: Request) -> Response:
    access = await access_group(
        forum_of(request).db, viewer_of(request), group_id=path_int(request, "group_id")
    )
    group = access.group
    return ForumJSON(
        {"category": category_json(group, request.url_for("api_category", group_id=group.id).path)}
    )


def _topic_json(topic: Topic) -> dict[str, object]:
    return {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "slug": topic.slug,
        "posts_count": topic.posts_count,
        "reply_count": topic.reply_count,
        "highest_post_number": topic.highest_post_number,
        "created_at": iso_time(topic.created_at),
        "category_id": topic.group_id,
        "closed": topic.closed,
        "pinned": topic.pinned,
        "archived": False,
        "visible": True,
    }


async def topic(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_topic(db, viewer, path_int(request, "topic_id"))
    t = access.topic
    per_page = forum_of(request).settings.posts_per_page
    posts = await post_queries.list_posts(db, t.id, 0, per_page)
    body = _topic_json(t) | {
        "post_stream": {
            "posts": [post_json(p, t, can_edit=can_edit_post(viewer, p, t)) for p in posts],
            "stream": await post_queries.list_post_ids(db, t.id),
        },
        "details": {
            "created_by": {"username": t.username},
            "last_poster": {"username": t.last_poster_username},
            "can_create_post": can_reply(viewer, access.group, access.membership, t),
        },
    }
    if viewer is None and not access.group.is_private and not t.is_debate:
        share_page(request, f"topic:{t.id}")
    return ForumJSON(body)


async def topic_posts(request: Request) -> Response:
    """`post_ids[]=...` as Discourse clients load a topic's stream; else the first page."""
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_topic(db, viewer, path_int(request, "topic_id"))
    t = access.topic
    query = query_input(request)
    ids = query.get_int_list("post_ids")
    if len(ids) > 200:
        raise BadRequest("Ask for at most 200 posts at once.")
    if ids:
        posts = await post_queries.list_posts_by_ids(db, t.id, ids)
    else:
        after = query.get_int("post_number") or 0
        posts = await post_queries.list_posts(
            db, t.id, after, forum_of(request).settings.posts_per_page
        )
    if viewer is None and not access.group.is_private and not t.is_debate:
        share_page(request, f"topic:{t.id}")
    return ForumJSON(
        {
            "id": t.id,
            "post_stream": {
                "posts": [post_json(p, t, can_edit=can_edit_post(viewer, p, t)) for p in posts]
            },
        }
    )


async def create_post(request: Request) -> Response:
    """New topic (`title`, `raw`, `category`) or reply (`topic_id`, `raw`)."""
    db, viewer = forum_of(request).db, viewer_of(request)
    form = await read_input(request)
    # Sent again with the same key (a retry after a timeout or a 503), a post is not written
    # twice: the answer is the post the first request made.
    key = request.headers.get("idempotency-key")
    topic_id = form.get_int("topic_id")
    if topic_id is not None:
        draft = Draft(
            form.get("raw"),
            reply_to_post_number=form.get_int("reply_to_post_number"),
            idempotency_key=key,
        )
        written = await post_actions.do_reply(forum_of(request), viewer, topic_id, draft)
    else:
        group_id = form.get_int("category")
        if group_id is None:
            raise BadRequest("Give a category for a new topic, or a topic_id for a reply.")
        draft = Draft(form.get("raw"), title=form.get("title"), idempotency_key=key)
        written = await post_actions.do_new_topic(forum_of(request), viewer, group_id, draft)
    if isinstance(written, Held):
        return ForumJSON(held_json(written, form.get("raw")))
    if isinstance(written, post_actions.Posted):  # the post as written: nothing to read again
        return ForumJSON(post_json(written.post, written.topic, can_edit=True, include_raw=True))
    # Sent again with its key: what the first request made, as it is now.
    post = await post_queries.get_post(db, written.post_id)
    t = await topic_queries.get_topic(db, written.topic_id)
    assert post is not None and t is not None
    return ForumJSON(post_json(post, t, can_edit=True, include_raw=True))


async def user(request: Request) -> Response:
    db = forum_of(request).db
    found = await user_queries.get_user_by_username(db, request.path_params["username"])
    if found is None:
        raise NotFound("There is no such user.")
    group_ids = [g.id for g in await readable_groups(db, viewer_of(request))]
    post_count = await user_queries.count_posts_by_user(db, found.id, group_ids)
    return ForumJSON({"user": user_json(found, post_count)})


async def not_found(request: Request) -> Response:
    """An API address that names nothing."""
    raise NotFound("We could not find that page.")
