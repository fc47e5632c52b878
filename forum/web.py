"""The web layer below views/ and api/: who is asking, the forum they ask, and the responses
both speak (pages, JSON, errors, redirects). Neither views/ nor api/ imports the other;
both import this.

Which routes speak JSON is declared in the route table (forum/routes.py: `JsonRoute`),
not guessed from the path: a JSON route answers its errors in JSON too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from forum.confirmations import confirm, said_once
from forum.context import Forum
from forum.errors import BadRequest, ForumError, NotAuthenticated, NotFound
from forum.forms import MAX_ID
from forum.page_cache import is_shared
from forum.pages import ErrorPage, Page
from forum.queries.topics import TopicCursor
from forum.queries.users import User

if TYPE_CHECKING:  # forum/auth.py answers refused API keys with ForumJSON from here
    from forum.auth import Auth

JSON_TYPE = "application/json; charset=utf-8"


class ForumJSON(JSONResponse):
    """Every JSON response carries exactly this content type, as Discourse clients expect."""

    media_type = JSON_TYPE


class JsonRoute(Route):
    """A route whose answers, errors included, are JSON (the API, the preview). The router
    puts the matched route in the scope, so the error handlers see which kind it is."""


class JsonFallback(JsonRoute):
    """The last route: an address under the API that names nothing is answered in JSON. It
    matches only as a fallback (PARTIAL), so a real route that matched the path with another
    method still answers first (405, with the methods it takes)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.PARTIAL if match == Match.FULL else match), child_scope


# --- who asks, and of which forum ------------------------------------------------------------


def forum_of(request: Request) -> Forum:
    forum: Forum = request.app.state.forum
    return forum


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


def route_of(request: Request) -> BaseRoute | None:
    """The route this request is for: the router's choice, or, for a request answered before
    routing (a NUL in the address, the database down during the session lookup), the route
    the router would choose, found the same way (first full match, else first partial)."""
    route = request.scope.get("route")
    if isinstance(route, BaseRoute) or request.scope.get("type") != "http":
        return route if isinstance(route, BaseRoute) else None
    partial: BaseRoute | None = None
    routes: list[BaseRoute] = request.app.router.routes
    for candidate in routes:
        match, _ = candidate.matches(request.scope)
        if match == Match.FULL:
            return candidate
        if match == Match.PARTIAL and partial is None:
            partial = candidate
    return partial


def speaks_json(request: Request) -> bool:
    """JSON for a JSON route (the route table says), an API key, or a client that asks for
    JSON and not HTML; a page for people in a browser."""
    if isinstance(route_of(request), JsonRoute) or "api-key" in request.headers:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


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


# --- answers ---------------------------------------------------------------------------------


def render(request: Request, page: Page, status_code: int = 200) -> HTMLResponse:
    if is_shared(request):
        # Every anonymous reader gets these bytes: none carries its own token (it only
        # guards the login and signup forms, which are pages of their own).
        page = replace(page, csrf_token="")
    response = HTMLResponse(forum_of(request).renderer.render(page), status_code=status_code)
    if page.confirmation:
        said_once(request, response)
    return response


def error_response(
    request: Request, status: int, messages: list[str], title: str, wait_seconds: int | None = None
) -> Response:
    """An error as the caller reads it: `{"errors": [...]}` for API clients (with
    `extras.wait_seconds` and Retry-After when they should wait), else an HTML page."""
    headers = {"Retry-After": str(wait_seconds)} if wait_seconds else None
    if speaks_json(request):
        body: dict[str, Any] = {"errors": messages}
        if wait_seconds is not None:
            body["extras"] = {"wait_seconds": wait_seconds}
        return ForumJSON(body, status_code=status, headers=headers)
    auth: Auth | None = getattr(request.state, "auth", None)
    page = ErrorPage(
        title=title,
        viewer=auth.user if auth else None,
        csrf_token=auth.csrf_token if auth else "",
        unread_notifications=auth.unread_notifications if auth else 0,
        bell_since=auth.bell_since if auth else "",
        status_code=status,
        messages=messages,
    )
    html = forum_of(request).renderer.render(page)
    return HTMLResponse(html, status_code=status, headers=headers)


def with_retry_after(response: Response, wait_seconds: int | None) -> Response:
    """A form shown again because its sender must wait says for how long (429)."""
    if wait_seconds:
        response.headers["Retry-After"] = str(wait_seconds)
    return response


def redirect(url: str, said: str | None = None) -> RedirectResponse:
    """`said`: the next page confirms what was done (forum/confirmations.py)."""
    # 303: after a POST the browser fetches the new page with GET, so reload never re-posts.
    response = RedirectResponse(url, status_code=303)
    if said is not None:
        confirm(response, said)
    return response


def client_address(request: Request) -> str:
    """The caller's network address, for limits kept per address."""
    return request.client.host if request.client else "unknown"


def safe_next(path: str | None, default: str = "/") -> str:
    """Only same-site paths: `//evil.example` and `https://...` would send people elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def shown_on_form(error: ForumError) -> bool:
    """Whether an error is one the person can fix (what they typed or sent, its size or
    kind, or their pace): shown in the form it came from, with what they typed, rather than
    on an error page. Rights and missing things (403, 404) are error pages."""
    return error.status_code in (400, 413, 415, 429)
