"""create_app(settings): routes, middleware, exception handlers and lifespan. Assembly only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route, Router

from forum.alerter import Alerter
from forum.auth import AuthMiddleware
from forum.clock import Clock, SystemClock
from forum.context import Forum
from forum.db import (
    Database,
    DatabaseReadOnly,
    is_unavailable,
    is_unstorable,
    open_database,
)
from forum.errors import ForumError, NotAuthenticated
from forum.live import open_live
from forum.mailer import Mailer
from forum.middleware import (
    AnswerDatabaseFaults,
    OneConnectionPerPage,
    RefuseNulAddresses,
    SecurityHeaders,
)
from forum.migrate import migrate
from forum.page_cache import PageCache, ServePages
from forum.rendering import Renderer
from forum.routes import routes
from forum.scheduler import DebateScheduler
from forum.settings import Settings, image_host_set, load_settings
from forum.web import error_response, speaks_json
from realtime.backends import open_bus
from realtime.protocol import MAX_FRAME_BYTES

log = logging.getLogger("forum")

HTTP_MESSAGES = {
    404: "We could not find that page.",
    405: "That kind of request is not allowed here.",
}


async def forum_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ForumError)
    if isinstance(exc, NotAuthenticated) and request.method == "GET" and not speaks_json(request):
        # A shared link to a members-only page leads through the login form and back.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return error_response(request, exc.status_code, exc.messages, exc.title, exc.wait_seconds)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    return error_response(request, exc.status_code, [message], message)


# How uvicorn must serve the app (`forum serve`, the tests): live frames larger than the
# protocol allows are refused by the server before they are buffered (16 MB otherwise), and
# per-message compression stays off (it doubled memory per socket, docs/PERFORMANCE.md).
SERVER_OPTIONS: dict[str, Any] = {
    "ws_max_size": MAX_FRAME_BYTES,
    "ws_per_message_deflate": False,
    # realtime/hub.py writes a frame straight to the socket by running the send one step: this
    # protocol writes without suspending while the transport is writable, and waits (before
    # writing anything) while it is not. Its legacy "websockets" one writes, then waits.
    "ws": "websockets-sansio",
    # A peer that vanished is found by the server's ping within 30 + 20 s. Every 30 s, not
    # uvicorn's 20: live.js pings every 25 s itself (and ends a socket whose pings go
    # unanswered), so a phone's radio is woken less, and 10,000 idle readers cost a third
    # fewer frames (docs/PERFORMANCE.md, bench/idle.py).
    "ws_ping_interval": 30.0,
    "ws_ping_timeout": 20.0,
}

# Seconds a client is asked to wait when the database cannot be reached or written.
RETRY_AFTER_SECONDS = 5


def database_fault(request: Request, exc: Exception) -> Response | None:
    """A database that is down, restarting or full is a moment's trouble (503, try again);
    a value it cannot store is the request's (400). None: some other error."""
    if is_unavailable(exc):
        log.warning(
            "database unavailable on %s %s (%s)", request.method, request.url.path, type(exc)
        )
        return error_response(
            request,
            503,
            ["The forum cannot reach its database just now. Please try again in a moment."],
            "Please try again in a moment",
            wait_seconds=RETRY_AFTER_SECONDS,
        )
    if is_unstorable(exc):
        # An input check is missing somewhere: say which route, never the value.
        log.warning("unstorable value on %s %s (%s)", request.method, request.url.path, type(exc))
        return error_response(
            request,
            400,
            ["The request contains a value the forum cannot store."],
            "Please check what you entered",
        )
    return None


async def server_error(request: Request, exc: Exception) -> Response:
    # The traceback is logged, never the request body: posts may hold patient data.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        ["Something went wrong on our side. Please try again."],
        "Something went wrong",
    )


def cached_url_path(router: Router) -> Callable[..., str]:
    """A route's path by name. The router's url_path_for tries every route in turn (about a
    hundred microseconds); here each name goes straight to its route, and the paths a page
    asks for many times (a group's, a topic's) are cached. A new post's links miss the cache,
    so the direct lookup is what keeps a live post's render cheap."""
    by_name = {route.name: route for route in router.routes if isinstance(route, (Route, Mount))}

    @lru_cache(maxsize=4096)
    def build(name: str, params: tuple[tuple[str, Any], ...]) -> str:
        route = by_name.get(name)
        if route is None:
            return str(router.url_path_for(name, **dict(params)))  # raises NoMatchFound
        return str(route.url_path_for(name, **dict(params)))

    def url_path(name: str, **params: Any) -> str:
        return build(name, tuple(sorted(params.items())))

    return url_path


async def open_starting_database(settings: Settings) -> Database:
    """Open, check and migrate the database, or stop the start with a plain reason: a forum
    that started on a database it cannot write would fail every post while looking well."""
    try:
        db = await open_database(settings.database_url, busy_ms=settings.sqlite_busy_ms)
    except Exception as error:
        if is_unavailable(error):
            log.error(
                "The forum cannot open its database (%s). Check that the database server is"
                " reachable, or that the database file and its folder can be written."
                " It is not starting.",
                error,
            )
        raise
    try:
        await db.check_writable()
        await migrate(db)
    except Exception as error:
        if isinstance(error, DatabaseReadOnly):
            log.error("%s It is not starting.", error)
        await db.close()
        raise
    return db


def build_renderer(time_zone: str = "Europe/London") -> Renderer:
    """The page renderer, with links from the route table: the app's, and the one the
    command line, the tests and the bench use without building an app. `time_zone`: where
    pages show times for readers whose own is not known (settings.time_zone)."""
    return Renderer(cached_url_path(Router(routes)), time_zone)


@asynccontextmanager
async def opened_forum(
    settings: Settings, clock: Clock | None = None, renderer: Renderer | None = None
) -> AsyncIterator[Forum]:
    """The forum's context outside a server (the command line, tests, the bench): its
    database checked and migrated, and the same bus as the servers, so the events written
    here wake them (NOTIFY, a Redis publish; SQLite servers poll the log). It serves no
    sockets, so the bus is not listened to."""
    db = await open_starting_database(settings)
    try:
        bus = await open_bus(settings.bus_url or db.url, db)
        try:
            yield Forum(
                db,
                bus,
                renderer or build_renderer(settings.time_zone),
                settings,
                clock or SystemClock(),
            )
        finally:
            await bus.close()  # sends any wake-up still queued
    finally:
        await db.close()


# An upload still arriving after this long is taken for one a crash left (a slow phone
# sends 20 MB in well under an hour); another worker's upload in progress is younger.
PARTIAL_HOURS = 6


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """The app. `clock`: the time its actions read (the wall clock unless a test moves it)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Built whole, in order, and closed in reverse: nothing is attached afterwards.
        db = await open_starting_database(settings)
        try:
            bus = await open_bus(settings.bus_url or db.url, db)
            try:
                app.state.forum = Forum(db, bus, renderer, settings, clock or SystemClock())
                # Uploads cut off by a crash left their temporary files: the old ones go.
                swept = await app.state.forum.storage.sweep(PARTIAL_HOURS * 3600)
                if swept:
                    log.info("Removed %d unfinished upload(s) left by an earlier run.", swept)
                app.state.live = await open_live(app.state.forum, bus)
                # Kept pages are checked on every hit; a hint frees the stale ones early.
                app.state.live.endpoint.on_hint_listeners.append(app.state.page_cache.on_hint)
                scheduler = DebateScheduler(app.state.forum, settings.debate_tick_ms / 1000)
                scheduler.start()
                alerter = Alerter(app.state.forum, settings.alert_poll_ms / 1000)
                alerter.start()
                mailer = Mailer(app.state.forum) if settings.smtp_host else None
                if mailer is not None:
                    mailer.start()
                try:
                    yield
                finally:
                    if mailer is not None:
                        await mailer.close()
                    await alerter.close()
                    await scheduler.close()
                    await app.state.live.close()
            finally:
                await bus.close()
        finally:
            await db.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, image_hosts=image_host_set(settings)),
            # Database faults from the routes and from the session lookup alike: one place.
            Middleware(AnswerDatabaseFaults, respond=database_fault),
            Middleware(RefuseNulAddresses),
            Middleware(OneConnectionPerPage),  # the session lookup shares it too
            Middleware(AuthMiddleware),
            # Inside: it knows the reader, and never sees the anonymous cookie being set.
            Middleware(ServePages),
        ],
        exception_handlers={
            ForumError: forum_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    renderer = build_renderer(settings.time_zone)
    app.state.page_cache = PageCache(settings.page_cache_entries, settings.page_cache_seconds)
    return app


def app_from_env() -> Starlette:
    """The factory `forum serve --workers N` hands to uvicorn: settings come from FORUM_*."""
    return create_app(load_settings())
