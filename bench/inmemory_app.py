"""Bench-only server: the real forum app plus one route that renders a topic page from memory.

It is the ceiling the topic-page figures are compared with: the same uvicorn settings as
`forum serve`, the same middleware (session/anonymous auth, CSRF token), the same permission
checks and the same `Renderer.render(TopicPage(...))` as `views.topics.topic_page`, but
everything the view reads from the database (the topic, its group, the viewer's membership
and reading place, the posts and the posts they answer, the viewer's thanks, the channel's
head) is read once, on a viewer's first request, and kept. The gap between this route and
`/t/{slug}/{id}` on the same kind of process is the price of the database round trips.

Anonymous readers and signed-in members alike: for a member the page is the one the view
renders for them (reply form, their controls, follow level, the signed reading report). The
member's session is read once too: `forum.queries.users.get_session` is wrapped, in this
process only, to keep what it answered per session, so the auth middleware's session query
is memory here as well (the rest of that middleware, the cookie's signature and the CSRF
HMAC, runs on every request as in `forum serve`).

    python -m bench.inmemory_app --db URL --port P --topic-id N

Nothing in forum/ is changed: the app is built by `forum.app.create_app`, its lifespan is
wrapped to load the anonymous reader's data after the forum's own start-up, and the route is
added in front.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from forum.access import access_topic
from forum.app import SERVER_OPTIONS, create_app
from forum.auth import seen_signature
from forum.pages import TopicPage
from forum.permissions import can_moderate, can_reply, is_staff
from forum.queries import posts as post_queries
from forum.queries import reading as reading_queries
from forum.queries import users as user_queries
from forum.queries.groups import Group
from forum.queries.notifications import Level
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.settings import load_settings
from forum.views.common import base, live_since, seen_on_page
from forum.views.topics import build_items, new_idempotency_key, read_for_items
from forum.web import render, viewer_of

PATH = "/bench/inmemory-topic"


@dataclass(frozen=True)
class Loaded:
    """What `views.topics.topic_page` reads for one viewer, read once."""

    topic: Topic
    group: Group
    membership: str | None  # the viewer's role in the group (None: anonymous, or not a member)
    posts: list[Post]
    shown: dict[int, Post]  # by post number: the page's posts and the posts they answer
    liked: frozenset[int]  # ids of the page's posts the viewer thanked
    level: Level | None  # how closely the viewer follows the topic (None: anonymous)
    first_unread: int | None
    live_since: str


async def load(request: Request, viewer: User | None, topic_id: int) -> Loaded:
    """The view's reads, as it makes them (the first page, no before/after in the query)."""
    forum = request.app.state.forum
    db, per_page = forum.db, forum.settings.posts_per_page
    access = await access_topic(db, viewer, topic_id)
    topic = access.topic
    reading = await reading_queries.get_reading(db, viewer.id, topic.id) if viewer else None
    first_unread, after = None, 0
    if reading is not None and 0 < reading.last_read < topic.highest_post_number:
        first_unread = reading.last_read + 1
        after = ((first_unread - 1) // per_page) * per_page
    posts = await post_queries.list_posts(db, topic.id, after, per_page)
    first, last = (posts[0].post_number, posts[-1].post_number) if posts else (1, 0)
    if viewer is not None:
        # Marks what the viewer was told of on this page as seen, as the view's first
        # request does; later requests find nothing to mark (the view then adds no field).
        await seen_on_page(request, viewer, topic.id, range(first, last + 1))
    liked, shown = await read_for_items(db, viewer, topic, posts)
    return Loaded(
        topic,
        access.group,
        access.membership,
        posts,
        shown,
        frozenset(liked),
        (reading.level if reading else Level.NORMAL) if viewer else None,
        first_unread if first_unread and first <= first_unread <= last else None,
        await live_since(request, f"topic:{topic.id}"),
    )


async def inmemory_topic(request: Request) -> Response:
    """`views.topics.topic_page` for the first page, with every read replaced by memory."""
    viewer = viewer_of(request)
    cache: dict[int | None, Loaded] = request.app.state.bench_loaded
    key = viewer.id if viewer else None
    loaded = cache.get(key)
    if loaded is None:
        loaded = cache[key] = await load(request, viewer, request.app.state.bench_topic_id)
    topic, posts = loaded.topic, loaded.posts
    first, last = (posts[0].post_number, posts[-1].post_number) if posts else (1, 0)
    fields = base(request, topic.title)
    items = build_items(viewer, topic, posts, loaded.liked, loaded.shown)  # from memory
    secret = request.app.state.forum.settings.secret_key
    page = TopicPage(
        **fields,
        live_since=loaded.live_since,
        topic=topic,
        group=loaded.group,
        posts=items,
        prev_before=first if first > 1 else None,
        next_after=last if last < topic.highest_post_number else None,
        can_reply=can_reply(viewer, loaded.group, loaded.membership, topic),
        can_moderate=can_moderate(viewer, loaded.membership),
        idempotency_key=new_idempotency_key() if viewer else "",
        can_see_hidden=is_staff(viewer),
        level=loaded.level,
        first_unread=loaded.first_unread,
        seen_sig=(
            seen_signature(secret, fields["csrf_token"], topic.id, last)
            if viewer is not None and posts
            else ""
        ),
    )
    return render(request, page)


def keep_sessions() -> None:
    """Wrap `get_session` (looked up through its module by the auth middleware) so that each
    session is read from the database once in this process."""
    read = user_queries.get_session
    kept: dict[str, Any] = {}

    async def get_session(conn: Any, token_hash: str, now: float) -> Any:
        if token_hash not in kept:
            kept[token_hash] = await read(conn, token_hash, now)
        return kept[token_hash]

    user_queries.get_session = get_session


def build_app(database_url: str, topic_id: int) -> Starlette:
    settings = load_settings(database_url=database_url)
    app = create_app(settings)
    forum_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with forum_lifespan(app):
            app.state.bench_topic_id = topic_id
            app.state.bench_loaded = {}  # viewer id (None: anonymous) -> Loaded
            yield

    app.router.lifespan_context = lifespan
    keep_sessions()
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
    # Exactly what `forum serve` (forum/cli.py, one worker) does: its collector thresholds
    # and the options it gives uvicorn.
    gc.set_threshold(50_000, 20, 10)
    uvicorn.run(
        build_app(args.db, args.topic_id),
        host=args.host,
        port=args.port,
        log_level="info",
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main()
