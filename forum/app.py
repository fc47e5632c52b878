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

from forum.api.serialize import ForumJSON
from forum.auth import Auth, AuthMiddleware
from forum.db import migrate, open_database
from forum.errors import ForumError, NotAuthenticated
from forum.live import open_live
from forum.pages import ErrorPage
from forum.ratelimit import RateLimiter
from forum.rendering import Renderer
from forum.routes import routes
from forum.settings import Settings, load_settings
from forum.views.common import wants_json

log = logging.getLogger("forum")

HTTP_MESSAGES = {
    404: "We could not find that page.",
    405: "That kind of request is not allowed here.",
}


def error_response(
    request: Request, status: int, messages: list[str], title: str, wait_seconds: int | None = None
) -> Response:
    headers = {"Retry-After": str(wait_seconds)} if wait_seconds else None
    if wants_json(request):
        body: dict[str, object] = {"errors": messages}
        if wait_seconds is not None:
            body["extras"] = {"wait_seconds": wait_seconds}
        return ForumJSON(body, status_code=status, headers=headers)
    auth: Auth | None = getattr(request.state, "auth", None)
    page = ErrorPage(
        title=title,
        viewer=auth.user if auth else None,
        csrf_token=auth.csrf_token if auth else "",
        status_code=status,
        messages=messages,
    )
    renderer: Renderer = request.app.state.renderer
    return Response(
        renderer.render(page), status_code=status, headers=headers, media_type="text/html"
    )


async def forum_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ForumError)
    if isinstance(exc, NotAuthenticated) and request.method == "GET" and not wants_json(request):
        # A shared link to a members-only page leads through the login form and back.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return error_response(request, exc.status_code, exc.messages, exc.title, exc.wait_seconds)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    return error_response(request, exc.status_code, [message], message)


async def server_error(request: Request, exc: Exception) -> Response:
    # The traceback is logged, never the request body: posts may hold patient data.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request,
        500,
        ["Something went wrong on our side. Please try again."],
        "Something went wrong",
    )


def cached_url_path(app: Starlette) -> Callable[..., str]:
    """url_path_for tries every route in turn; a page asks for the same few links many times."""

    @lru_cache(maxsize=4096)
    def build(name: str, params: tuple[tuple[str, Any], ...]) -> str:
        return str(app.url_path_for(name, **dict(params)))

    def url_path(name: str, **params: Any) -> str:
        return build(name, tuple(sorted(params.items())))

    return url_path


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.db = await open_database(settings.database_url)
        await migrate(app.state.db)
        app.state.live = await open_live(app.state.db, settings)
        try:
            yield
        finally:
            await app.state.live.close()
            await app.state.db.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(AuthMiddleware)],
        exception_handlers={
            ForumError: forum_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.renderer = Renderer(cached_url_path(app))
    app.state.limiter = RateLimiter()
    return app


def app_from_env() -> Starlette:
    """The factory `forum serve --workers N` hands to uvicorn: settings come from FORUM_*."""
    return create_app(load_settings())
