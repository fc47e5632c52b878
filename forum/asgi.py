"""The base of middleware that handles pages only."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.types import ASGIApp, Receive, Scope, Send


class PagesOnly:
    """Middleware for HTTP requests (`_http`); anything else, a live socket above all, goes
    straight through: no frame of this layer is kept alive for a socket's lifetime (a few
    hundred bytes a layer, per socket, measured in bench/fanout.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
