"""The app's own ASGI middleware: security headers on every response, addresses that carry
a NUL byte refused before any handler (or query) sees them, and database faults answered
in one place, whether a route or the session lookup met them."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forum.asgi import PagesOnly
from forum.forms import NUL_MESSAGE
from forum.web import error_response


def content_security_policy(image_hosts: frozenset[str]) -> str:
    """Scripts, styles and everything else from this site only: no inline script or style,
    so an injected `<script>` or `onclick` does nothing even if a sanitiser ever failed.
    Images only from here or the hosts an admin allowed (a reader's address is not handed to
    any other host). Never framed, so no page's buttons can be clicked through a disguise."""
    images = " ".join(["'self'", *(f"https://{host}" for host in sorted(image_hosts))])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",  # CSP 3: also the same host's ws:// and wss://
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders(PagesOnly):
    """Adds the same protective headers to every HTTP response (pages, JSON, static files,
    errors), unless a handler set its own."""

    def __init__(self, app: ASGIApp, image_hosts: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": content_security_policy(image_hosts),
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            # Topic addresses carry their titles ("/t/my-diagnosis/12"): never send them to
            # the sites that posts link to.
            "referrer-policy": "same-origin",
            "cross-origin-opener-policy": "same-origin",
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
                if secure:  # only a site reached over https may ask to be reached so always
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNulAddresses(PagesOnly):
    """A path or query with a NUL byte (`/u/a%00b`, `?next=%00`) is answered 400 at once:
    PostgreSQL cannot compare text with NUL, so it would otherwise surface as a server error
    wherever a path parameter meets a query."""

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            request = Request(scope, receive)
            response = error_response(request, 400, [NUL_MESSAGE], "That address is not valid")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


class AnswerDatabaseFaults(PagesOnly):
    """A database fault raised inside (a route, or the session or API key lookup) is answered
    by `respond` (app.database_fault: 503 with Retry-After, or 400), not as a server error or
    a dropped connection; anything else goes on up to the server-error handler."""

    def __init__(
        self, app: ASGIApp, respond: Callable[[Request, Exception], Response | None]
    ) -> None:
        self.app = app
        self.respond = respond

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            response = None if started else self.respond(Request(scope, receive), error)
            if response is None:
                raise
            await response(scope, receive, send)


class OneConnectionPerPage(PagesOnly):
    """A GET's reads (the session, the page's own) share one pooled connection
    (Database.one_connection): one pool checkout a page, not one a read. It is given back
    as the response starts, so a streamed download never holds one."""

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        forum = getattr(scope["app"].state, "forum", None) if "app" in scope else None
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or forum is None:
            await self.app(scope, receive, send)
            return
        async with forum.db.one_connection() as pin:

            async def give_back_at_start(message: Message) -> None:
                # A streamed body is sent from a task of its own: close the pin itself.
                if pin is not None and message["type"] == "http.response.start":
                    await pin.close()
                await send(message)

            await self.app(scope, receive, give_back_at_start)
