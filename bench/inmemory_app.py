"""Bench-only server: the real forum app plus one route that renders a topic page from memory.

It is the ceiling the topic-page figure is compared with: the same uvicorn settings as
`forum serve`, the same middleware (session/anonymous auth, CSRF token), the same permission
checks and the same `Renderer.render(TopicPage(...))`, but the topic, its group and its posts
are read from the database once at start-up instead of on every request. The gap between this
route and `/t/{slug}/{id}` on the same kind of process is the price of the database round trips.

    python -m bench.inmemory_app --db URL --port P --topic-id N

Nothing in forum/ is changed: the app is built by `forum.app.create_app`, its lifespan is
wrapped to load the data after the forum's own start-up, and the route is added in front.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forum.access import access_topic
from forum.app import create_app
from forum.errors import NotFound
from forum.pages import PostItem, TopicPage
from forum.permissions import can_moderate, can_reply, post_controls, post_facts
from forum.queries import posts as post_queries
from forum.queries.groups import Group
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.settings import load_settings
from forum.views.common import base
from forum.web import render, viewer_of

PATH = "/bench/inmemory-topic"


@dataclass(frozen=True)
class Loaded:
    topic: Topic
    group: Group
    membership: str | None  # the anonymous viewer's: None
    posts: list[Post]


async def inmemory_topic(request: Request) -> Response:
    """`views.topics.topic_page` for the first page, with every query replaced by memory."""
    loaded: Loaded = request.app.state.bench_loaded
    viewer = viewer_of(request)
    topic, posts = loaded.topic, loaded.posts
    if viewer is not None:  # the bench reads anonymously; a member's rights would need a query
        raise NotFound("The in-memory page is for anonymous readers.")
    first, last = (posts[0].post_number, posts[-1].post_number) if posts else (1, 0)
    page = TopicPage(
        **base(request, topic.title),
        topic=topic,
        group=loaded.group,
        posts=[PostItem(p, post_controls(viewer, post_facts(p, topic))) for p in posts],
        prev_before=first if first > 1 else None,
        next_after=last if last < topic.highest_post_number else None,
        can_reply=can_reply(viewer, loaded.group, loaded.membership, topic),
        can_moderate=can_moderate(viewer, loaded.membership),
        idempotency_key="",  # an anonymous reader has no reply form
    )
    return render(request, page)


def build_app(database_url: str, topic_id: int) -> Starlette:
    settings = load_settings(database_url=database_url)
    app = create_app(settings)
    forum_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with forum_lifespan(app):
            db = app.state.forum.db
            access = await access_topic(db, None, topic_id)
            posts = await post_queries.list_posts(db, topic_id, 0, settings.posts_per_page)
            app.state.bench_loaded = Loaded(access.topic, access.group, access.membership, posts)
            yield

    app.router.lifespan_context = lifespan
    # Just before the topic route, so URL matching costs this route what it costs that one.
    names = [getattr(route, "name", None) for route in app.router.routes]
    app.router.routes.insert(
        names.index("topic"),
        Route(PATH, inmemory_topic, methods=["GET"], name="bench_inmemory_topic"),
    )
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--topic-id", type=int, required=True)
    args = parser.parse_args()
    # Exactly the options `forum serve` (forum/cli.py, one worker) gives uvicorn.
    uvicorn.run(
        build_app(args.db, args.topic_id),
        host=args.host,
        port=args.port,
        log_level="info",
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
