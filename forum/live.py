"""The forum's side of live updates: who a socket is, which channels it may read, and the
bus, hub, presence and endpoint assembled for the app's lifespan.

Channels: `topic:<id>`, `group:<id>`, `debate:<id>` (a hosted debate: its state, questions,
answers and count), `latest` (filtered per viewer), `review` (filtered per viewer),
`user:<id>` (private). Every decision goes through forum/permissions.py, via
access.py, as pages do, with the account as it is now: a socket's user is read again for
every subscribe, and when an access change (forum/events.py: AccessChanged, on the `access`
channel every node follows) names it, its session or key is checked again too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar
from urllib.parse import urlsplit

from starlette.websockets import WebSocket

from forum.access import access_debate, access_group, access_topic, readable_groups
from forum.auth import Auth, api_key_user, is_suspended, token_hash
from forum.clock import Clock
from forum.context import Forum
from forum.db import Database
from forum.errors import NotFound
from forum.events import ACCESS_CHANNEL
from forum.forms import MAX_ID
from forum.pace import KEEP_SECONDS as PACE_KEEP_SECONDS
from forum.pace import trim_pace
from forum.permissions import NO_CONTROLS, PostControls, PostFacts, is_staff, post_controls
from forum.queries.idempotency import KEEP_SECONDS as IDEMPOTENCY_KEEP_SECONDS
from forum.queries.idempotency import trim as trim_idempotency_keys
from forum.queries.review import convened_group_ids
from forum.queries.users import User, get_session_user, get_user
from forum.ratelimit import trim_rate_events
from forum.rendering import Renderer
from realtime.bus import Bus, Event
from realtime.endpoint import Limits, LiveEndpoint

log = logging.getLogger("forum.live")

A = TypeVar("A")  # how a viewer sees an event: staff or not, a set of post controls


@dataclass
class LiveViewer:
    """A socket's principal. `readable` (group ids) filters the shared `latest` channel and is
    refreshed whenever the socket's rights are checked again. The credential it came with
    (a session's token hash, or an API key's hash and username) is kept, so the socket can
    be checked again when the session ends or the key's owner is suspended."""

    user: User | None
    readable: set[int] = field(default_factory=set)
    # Groups whose review items this viewer gets; None: all (site staff, set when a review
    # subscribe is authorised). Closed until then.
    reviews: set[int] | None = field(default_factory=set)
    session_hash: str | None = None
    api_key_hash: str | None = None
    api_username: str | None = None
    key_owner_id: int | None = None  # an admin's key acting as someone else: the admin


def account_of(viewer: LiveViewer) -> tuple[str, ...]:
    """The accounts whose changes concern this socket: whom it acts as, and the owner of the
    key it acts with (an admin suspended or demoted loses what their key opened)."""
    if viewer.user is None:
        return ()
    owners = (viewer.key_owner_id,) if viewer.key_owner_id not in (None, viewer.user.id) else ()
    return tuple(str(account) for account in (viewer.user.id, *owners))


def username_of(viewer: LiveViewer) -> str | None:
    return viewer.user.username if viewer.user else None


class Presenter:
    """Each event as one viewer may see it (realtime's `present` hook), by the same rules as
    the pages: shared lists filtered by what the viewer can read; review cards for staff or
    for conveners; and a post with exactly the controls a reload of the topic would show
    them (permissions.post_controls over the facts the event carries).

    Viewers who see an event alike get the same object, so the hub builds one frame text
    per way of seeing it: a reply in a topic of hundreds of readers is rendered at most a
    few times (anonymous, members, its author, staff), not once per socket."""

    def __init__(self, renderer: Renderer, keep: int = 1024) -> None:
        self.renderer = renderer
        self.keep = keep
        self._made: OrderedDict[tuple[object, ...], Event] = OrderedDict()
        self._read: OrderedDict[tuple[object, ...], PostFacts | None] = OrderedDict()

    def __call__(self, viewer: LiveViewer, event: Event) -> Event | None:
        data = event.data
        if event.channel == "latest":
            return event if data.get("group_id") in viewer.readable else None
        if event.channel == "review":
            # Conveners see their own groups' items only; accounts (no group) are for staff.
            if viewer.reviews is not None and data.get("group_id") not in viewer.reviews:
                return None
            if event.kind != "review.changed":  # a topic answered: ids, alike for all
                return event
            return self._shaped(event, viewer.reviews is None, self._review_card)
        if event.kind in POST_EVENTS:
            # Events stored before posts carried their facts (or malformed ones) get no
            # controls: never more than a reload would show.
            facts = self._facts(event)
            controls = post_controls(viewer.user, facts) if facts else NO_CONTROLS
            if not controls.any:
                return event
            return self._shaped(event, controls, self._with_controls)
        return event

    def _facts(self, event: Event) -> PostFacts | None:
        """The event's facts, read once for all its sockets (a debate's answer reaches
        hundreds), by the same key as the shapes: a rewritten event is read again."""
        data = event.data
        key = (event.channel, event.id, data.get("html"))
        if key not in self._read:
            self._read[key] = PostFacts.from_data(data.get("facts"))
            if len(self._read) > self.keep:
                self._read.popitem(last=False)
        return self._read[key]

    def _shaped(self, event: Event, audience: A, make: Callable[[Event, A], Event]) -> Event:
        # Keyed by the event's text as well as its id: the log rewrites a stored event's
        # html in place when text is removed (forum/events.py), and a replay must never be
        # answered from a copy shaped before that.
        data = event.data
        key = (event.channel, event.id, data.get("html"), data.get("html_conveners"), audience)
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = make(event, audience)
            if len(self._made) > self.keep:
                self._made.popitem(last=False)
        return made

    @staticmethod
    def _review_card(event: Event, staff: bool) -> Event:
        data = dict(event.data)
        conveners = data.pop("html_conveners", None)
        if not staff:
            if conveners is None:
                # Stored before cards were drawn per role: the count changes, no card.
                data.pop("html", None)
            else:
                data["html"] = conveners
        return replace(event, data=data)

    def _with_controls(self, event: Event, controls: PostControls) -> Event:
        data = event.data
        debate_id = data.get("debate_id")
        actions = self.renderer.render_post_actions(
            data["post_id"],
            data["topic_id"],
            data["post_number"],
            controls,
            debate_id if isinstance(debate_id, int) else None,
        )
        html: str = data["html"]
        # After the mark _post.html leaves for them; events stored before it: at the end.
        mark = html.find(ACTIONS_MARK)
        end = mark + len(ACTIONS_MARK) if mark >= 0 else html.rfind("</article>")
        return replace(event, data=data | {"html": html[:end] + actions + html[end:]})


POST_EVENTS = frozenset({"post.created", "post.edited"})
ACTIONS_MARK = "<!--actions-->"


@dataclass
class Live:
    """Everything live, opened and closed with the app."""

    db: Database
    bus: Bus
    clock: Clock
    retention_seconds: float
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def authenticate(self, websocket: WebSocket) -> LiveViewer | None:
        auth: Auth | None = websocket.scope.get("state", {}).get("auth")
        origin = websocket.headers.get("origin")
        # A cookie rides along with any site's handshake; only our own pages may use it.
        cross_site = origin is not None and urlsplit(origin).netloc != websocket.headers.get("host")
        if auth is not None and auth.method == "session" and cross_site:
            return None
        if auth is None or auth.user is None:
            return LiveViewer(None)
        if auth.method == "api_key":
            return LiveViewer(
                auth.user,
                api_key_hash=auth.key_hash,
                api_username=websocket.headers.get("api-username"),
                key_owner_id=auth.key_owner_id,
            )
        assert auth.session_token is not None
        return LiveViewer(auth.user, session_hash=token_hash(auth.session_token))

    async def refresh(self, viewer: LiveViewer) -> LiveViewer | None:
        """The viewer as they are now; None if their session or key no longer admits them
        (logged out, suspended, key revoked): the endpoint then closes the socket."""
        if viewer.user is None:
            return viewer  # an anonymous reader has nothing to lose but channels
        user: User | None
        if viewer.session_hash is not None:
            now = self.clock.now()
            user = await get_session_user(self.db, viewer.session_hash, now)
            if user is not None and is_suspended(user, now):
                user = None
        else:
            key, name = viewer.api_key_hash or "", viewer.api_username
            user, _, _ = await api_key_user(self.db, key, name, self.clock.now())
        if user is None or user.id != viewer.user.id:
            return None
        viewer.user = user
        return viewer

    async def authorize(self, viewer: LiveViewer, channel: str) -> str | None:
        # The role as it is now, not as it was when the socket opened: a moderator demoted a
        # moment ago must not subscribe to a private group (nor read its history).
        user = await get_user(self.db, viewer.user.id) if viewer.user else None
        if viewer.user is not None and (user is None or is_suspended(user, self.clock.now())):
            return "forbidden"
        viewer.user = user
        kind, _, ident = channel.partition(":")
        try:
            if kind == "latest" and not ident:
                viewer.readable = {g.id for g in await readable_groups(self.db, user)}
                return None
            if kind == "review" and not ident and user is not None:
                return await self._authorize_review(viewer, user)
            # Ids beyond any row are refused here, before a query could overflow on them.
            number = int(ident) if ident.isdigit() and len(ident) <= 10 else -1
            if not 0 < number <= MAX_ID:
                return "forbidden"
            if kind == "topic":
                await access_topic(self.db, user, number)
                return None
            if kind == "group":
                await access_group(self.db, user, group_id=number)
                return None
            if kind == "debate":
                await access_debate(self.db, user, number)
                return None
            if kind == "user" and user is not None and number == user.id:
                return None
        except NotFound:
            pass
        # Unknown and unreadable are answered alike, so probing reveals no private group.
        return "forbidden"

    async def _authorize_review(self, viewer: LiveViewer, user: User) -> str | None:
        if is_staff(user):
            viewer.reviews = None
            return None
        convened = await convened_group_ids(self.db, user.id)
        if not convened:
            return "forbidden"
        viewer.reviews = set(convened)
        return None

    async def trim_forever(self) -> None:
        while True:
            try:
                now = self.clock.now()
                await self.bus.trim(now - self.retention_seconds)
                await trim_pace(self.db, now - PACE_KEEP_SECONDS)
                await trim_rate_events(self.db, now - PACE_KEEP_SECONDS)
                await trim_idempotency_keys(self.db, now - IDEMPOTENCY_KEEP_SECONDS)
            except Exception:
                log.exception("trimming the logs failed; trying again in an hour")
            await asyncio.sleep(3600)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass
class LiveSide:
    """What the app opens for live updates and closes with it: the endpoint (with its hub
    and presence) and the forum's side (rights, trimming the logs)."""

    live: Live
    endpoint: LiveEndpoint[LiveViewer]

    async def head(self, channel: str) -> int:
        """The channel's last event id, where a page's live updates resume."""
        return await self.live.bus.head(channel)

    async def heads(self, channels: list[str]) -> dict[str, int]:
        """Several channels' heads in one query (forum/page_cache.py checks kept pages)."""
        return await self.live.bus.heads(channels)

    async def close(self) -> None:
        await self.endpoint.close()
        await self.live.close()


async def open_live(forum: Forum, bus: Bus) -> LiveSide:
    """Start live updates over an open bus (the app owns and closes the bus)."""
    settings, renderer = forum.settings, forum.renderer
    live = Live(forum.db, bus, forum.clock, settings.event_retention_days * 86400)
    endpoint = LiveEndpoint[LiveViewer](
        bus,
        live.authenticate,
        live.authorize,
        username_of,
        refresh=live.refresh,
        account_of=account_of,
        present=Presenter(renderer),
        queue_size=settings.live_queue_size,
        limits=Limits(
            sockets_per_account=settings.live_sockets_per_account,
            sockets_per_address=settings.live_sockets_per_address,
        ),
        revalidate_channel=ACCESS_CHANNEL,
    )
    await endpoint.start()
    live._tasks = [asyncio.get_running_loop().create_task(live.trim_forever())]
    return LiveSide(live, endpoint)


async def live_socket(websocket: WebSocket) -> None:
    """The `/live` route: hands the socket to the endpoint opened in the lifespan."""
    side: LiveSide = websocket.app.state.live
    await side.endpoint(websocket)
