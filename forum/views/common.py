"""What every HTML handler needs: the viewer, the page basics, rendering and redirects."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from forum.api.serialize import ForumJSON
from forum.auth import Auth
from forum.db import Database
from forum.errors import BadRequest, NotAuthenticated, NotFound
from forum.forms import MAX_ID
from forum.pages import ErrorPage, Page
from forum.queries.topics import TopicCursor
from forum.queries.users import User
from forum.rendering import Renderer
from forum.settings import Settings


def auth_of(request: Request) -> Auth:
    auth: Auth = request.state.auth
    return auth


def viewer_of(request: Request) -> User | None:
    return auth_of(request).user


def require_viewer(request: Request) -> User:
    user = viewer_of(request)
    if user is None:
        raise NotAuthenticated("Please log in first.")
    return user


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def renderer_of(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def base(request: Request, title: str) -> dict[str, Any]:
    """The fields every Page has."""
    auth = auth_of(request)
    return {"title": title, "viewer": auth.user, "csrf_token": auth.csrf_token}


async def live_since(request: Request, channel: str) -> str:
    """The channel's head as the page is rendered: live.js resumes after it, so an event
    committed between this render and the socket's subscribe is not missed."""
    head = await request.app.state.live.bus.head(channel)
    return f"{channel}={head}"


def wants_json(request: Request) -> bool:
    """API clients get JSON errors; people in a browser get a page."""
    path = request.url.path
    if path.endswith(".json") or path in ("/posts", "/preview") or "api-key" in request.headers:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request, status: int, messages: list[str], title: str, wait_seconds: int | None = None
) -> Response:
    """An error as the caller reads it: `{"errors": [...]}` for API clients (with
    `extras.wait_seconds` and Retry-After when they should wait), else an HTML page."""
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
    return HTMLResponse(renderer_of(request).render(page), status_code=status, headers=headers)


def render(request: Request, page: Page, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(renderer_of(request).render(page), status_code=status_code)


def with_retry_after(response: Response, wait_seconds: int | None) -> Response:
    """A form shown again because its sender must wait says for how long (429)."""
    if wait_seconds:
        response.headers["Retry-After"] = str(wait_seconds)
    return response


def redirect(url: str) -> RedirectResponse:
    # 303: after a POST the browser fetches the new page with GET, so reload never re-posts.
    return RedirectResponse(url, status_code=303)


def safe_next(path: str | None, default: str = "/") -> str:
    """Only same-site paths: `//evil.example` and `https://...` would send people elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def path_int(request: Request, name: str) -> int:
    """An id from the path; one no row could have (too large) is simply not found."""
    value = request.path_params[name]
    try:
        number = int(value)
    except ValueError:
        raise NotFound("There is no such page.") from None
    if not 0 <= number <= MAX_ID:
        raise NotFound("There is no such page.")
    return number


def topic_cursor(text: str | None) -> TopicCursor | None:
    if not text:
        return None
    try:
        return TopicCursor.decode(text)
    except ValueError:
        raise BadRequest("That page link is not valid.") from None


async def topic_page_of(
    request: Request, fetch: Any, per_page: int
) -> tuple[list[Any], str | None]:
    """One page of a bump-ordered topic list, fetching one extra row to know if more follow."""
    before = topic_cursor(request.query_params.get("before"))
    topics = await fetch(before, per_page + 1)
    if len(topics) <= per_page:
        return topics, None
    topics = topics[:per_page]
    return topics, TopicCursor(topics[-1].bumped_at, topics[-1].id).encode()
