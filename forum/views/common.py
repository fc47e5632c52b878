"""What HTML pages share beyond forum/web.py: the fields every page has, and where live
updates resume."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from forum.actions.following import mark_seen
from forum.confirmations import confirmation_of
from forum.queries import notifications as notification_queries
from forum.queries.reading import NEW_TOPIC_SECONDS, count_readers, readings
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.web import auth_of, forum_of


def base(request: Request, title: str) -> dict[str, Any]:
    """The fields every Page has."""
    auth = auth_of(request)
    return {
        "title": title,
        "viewer": auth.user,
        "csrf_token": auth.csrf_token,
        "unread_notifications": auth.unread_notifications,
        "bell_since": auth.bell_since,
        "unanswered_count": auth.unanswered,
        "review_waiting": auth.review_waiting,
        "confirmation": confirmation_of(request),
    }


async def seen_on_page(
    request: Request, viewer: User, topic_id: int, posts: range | None
) -> dict[str, Any]:
    """What the viewer was told of on this page (`posts` of a topic; None: all of it), they
    have now seen: marked read, a write only when there is something to mark, and the
    header's count the one after it."""
    forum = forum_of(request)
    auth = auth_of(request)
    if auth.method == "session" and not auth.unread_notifications:
        return {}  # counted with the session: nothing unread anywhere, nothing to mark
    if not await notification_queries.has_unread_in_topic(forum.db, viewer.id, topic_id, posts):
        return {}
    async with forum.db.transaction() as conn:
        unread = await mark_seen(forum, conn, viewer, topic_id, posts)
    return {} if unread is None else {"unread_notifications": unread}


async def list_reading(request: Request, topics: list[Topic]) -> dict[str, Any]:
    """A topic list's fields beyond its topics: how many members opened each; and, for a
    signed-in viewer, how far they have read each listed topic and since when an unopened
    topic counts as new. None of it is sent live: live.js carries each row's over as it
    moves."""
    forum, viewer = forum_of(request), auth_of(request).user
    topic_ids = [t.id for t in topics]
    readers = await count_readers(forum.db, topic_ids)  # shown to everyone, unlike the rest
    if viewer is None:
        return {"readers": readers}
    reading = await readings(forum.db, viewer.id, topic_ids)
    # New: created in the last two days, and after the member joined.
    since = max(forum.now() - NEW_TOPIC_SECONDS, viewer.created_at)
    return {"reading": reading, "new_since": since, "readers": readers}


async def live_since(request: Request, channel: str) -> str:
    """The channel's head as the page is rendered: live.js resumes after it, so an event
    committed between this render and the socket's subscribe is not missed."""
    head = await request.app.state.live.head(channel)
    return f"{channel}={head}"
