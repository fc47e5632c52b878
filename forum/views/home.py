"""The home page (groups and latest topics) and the plain-text health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from forum.access import readable_groups
from forum.page_cache import share_page
from forum.pages import HomePage
from forum.queries import debates as debate_queries
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.views.common import base, list_reading, live_since
from forum.web import forum_of, render, topic_page_of, viewer_of


async def home(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    per_page = forum_of(request).settings.topics_per_page
    groups = await readable_groups(db, viewer)
    group_ids = [g.id for g in groups]
    topics, next_cursor = await topic_page_of(
        request, lambda before, n: topic_queries.list_topics(db, group_ids, before, n), per_page
    )
    live_debates = await debate_queries.list_live(db, group_ids, forum_of(request).now())
    mine = await group_queries.get_memberships(db, viewer.id) if viewer else {}
    page = HomePage(
        **base(request, "Home"),
        live_since=await live_since(request, "latest"),
        groups=groups,
        topics=topics,
        next_cursor=next_cursor,
        live_debates=live_debates,
        my_groups=[g for g in groups if g.id in mine],
        **await list_reading(request, topics),
    )
    if viewer is None:  # a reader who is not signed in sees public groups only
        share_page(request, "latest")
    return render(request, page)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")
