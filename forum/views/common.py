"""What HTML pages share beyond forum/web.py: the fields every page has, and where live
updates resume."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from forum.web import auth_of


def base(request: Request, title: str) -> dict[str, Any]:
    """The fields every Page has."""
    auth = auth_of(request)
    return {"title": title, "viewer": auth.user, "csrf_token": auth.csrf_token}


async def live_since(request: Request, channel: str) -> str:
    """The channel's head as the page is rendered: live.js resumes after it, so an event
    committed between this render and the socket's subscribe is not missed."""
    head = await request.app.state.live.head(channel)
    return f"{channel}={head}"
