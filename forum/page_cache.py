"""Pages that every anonymous reader of a public group sees alike, kept per node and served
without a render; and conditional requests (ETag, If-None-Match -> 304) for every page.

Which pages: those whose view says so with `share_page(request, *channels)`: the topic,
group and home pages and their JSON, for a reader who is not signed in, in a public group.
The view names the live channels whose events change the page (`topic:<id>`, ...); the
`pages` channel is added to every page, so a group made private, a member removed, a topic
moved, a member's new picture, badge or role drops every kept page at once (every change of
rights but a logout, which shows on no page anyone else reads).

Never stale: an entry keeps the heads of its channels as they were read BEFORE the page was
rendered, and a hit reads those heads again (one query) and serves the entry only if none
moved. So the very next request after any commit, on this node or another, renders afresh;
bus hints only free the memory of entries early. What changes without an event (reader
counts, "3 minutes ago", a debate starting on a list) is at most `page_cache_seconds` old.

Never private: a signed-in reader, an API key, a confirmation to say (the `said` cookie), a
response that sets a cookie, or a page that carries the reader's CSRF token is never kept.
Kept pages carry no secret, so their gzip body is made once, when kept, with no BREACH
risk; pages with secrets (signed-in ones) stay uncompressed, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forum.asgi import PagesOnly
from forum.confirmations import COOKIE as SAID_COOKIE
from forum.events import PAGES_CHANNEL

log = logging.getLogger("forum.page_cache")

SHARE_KEY = "page_share"
MAX_QUERY_CHARS = 200  # longer query strings are served but never kept
# Only the parameters the shared views read: `?a=1&b=2...` would make any number of copies.
KEPT_PARAMS = frozenset({"after", "before", "show", "post_number", "post_ids", "post_ids[]"})
MAX_BYTES = 64 * 1024 * 1024  # kept bodies (plain and gzipped) per node
KEPT_TYPES = (b"text/html", b"application/json")
RENDER_WAIT_SECONDS = 5.0  # the longest a reader waits for another's render of a page


@dataclass
class Share:
    """The view's word about the page it answers: None, or the channels that change it."""

    channels: tuple[str, ...] | None = None


def share_page(request: Request, *channels: str) -> None:
    """This answer is the same for every anonymous reader and changes only with events on
    `channels` (and access changes): the page cache may keep it. Call it only for a page of
    a public group (or of public groups only) rendered for a reader who is not signed in."""
    share = request.scope.get("state", {}).get(SHARE_KEY)
    if isinstance(share, Share):
        share.channels = tuple(channels)


def is_shared(request: Request) -> bool:
    share = request.scope.get("state", {}).get(SHARE_KEY)
    return isinstance(share, Share) and share.channels is not None


@dataclass(frozen=True, slots=True)
class Entry:
    heads: dict[str, int]
    body: bytes
    gzipped: bytes
    media_type: bytes
    etag: bytes
    expires: float

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped)


class PageCache:
    """The kept pages of one node: at most `entries`, least recently used dropped first."""

    def __init__(self, entries: int, seconds: float, max_bytes: int = MAX_BYTES) -> None:
        self.limit = entries
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        # The channels each path's page named the last time it was rendered: read before a
        # render (the heads an entry is kept with are older than anything it shows).
        self._channels: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._by_channel: dict[str, set[str]] = {}
        # Pages being rendered now, with the heads they were read at: a reader arriving
        # meanwhile waits for that render instead of making another (hundreds open a hot
        # topic at once, or right after a reply).
        self._rendering: dict[str, tuple[dict[str, int], asyncio.Event]] = {}
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def channels_of(self, path: str) -> tuple[str, ...] | None:
        return self._channels.get(path) or predicted_channels(path)

    def learn(self, path: str, channels: tuple[str, ...]) -> None:
        self._channels[path] = channels
        self._channels.move_to_end(path)
        while len(self._channels) > self.limit * 4:
            self._channels.popitem(last=False)

    def get(self, key: str, heads: dict[str, int], now: float) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.heads != heads or entry.expires <= now:
            if entry is not None:
                self._forget(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def rendering(self, key: str, heads: dict[str, int]) -> Callable[[], None] | None:
        """Say that this request renders `key` at `heads`; call what it returns when done."""
        if key in self._rendering:
            return None
        done = asyncio.Event()
        self._rendering[key] = (heads, done)

        def finished() -> None:
            done.set()
            if self._rendering.get(key, (None, None))[1] is done:
                del self._rendering[key]

        return finished

    def being_rendered(self, key: str, heads: dict[str, int]) -> bool:
        pending = self._rendering.get(key)
        return pending is not None and pending[0] == heads

    async def rendered_by_another(self, key: str, heads: dict[str, int]) -> Entry | None:
        """The page another request is rendering at these same heads, once it is kept;
        None if none is, or if it was not kept (then this request renders it itself)."""
        pending = self._rendering.get(key)
        if pending is not None and pending[0] == heads:  # else it may be done already
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending[1].wait(), RENDER_WAIT_SECONDS)
        entry = self._entries.get(key)
        if entry is None or entry.heads != heads:
            return None
        self.hits += 1
        return entry

    def put(self, key: str, entry: Entry) -> None:
        self._forget(key)
        self._entries[key] = entry
        self.bytes += entry.size
        for channel in entry.heads:
            self._by_channel.setdefault(channel, set()).add(key)
        while len(self._entries) > self.limit or self.bytes > self.max_bytes:
            self._forget(next(iter(self._entries)))

    def on_hint(self, channel: str | None, event_id: int) -> None:
        """A bus hint: `channel` has an event `event_id` (None: anything may have changed).
        Frees the entries it makes stale; a hit would refuse them anyway."""
        if channel is None:
            self.clear()
            return
        # `pages` is in every entry's heads: such a change frees every page older.
        for key in list(self._by_channel.get(channel, ())):
            entry = self._entries.get(key)
            if entry is not None and entry.heads.get(channel, 0) < event_id:
                self._forget(key)

    def clear(self) -> None:
        self._entries.clear()
        self._by_channel.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.bytes -= entry.size
        for channel in entry.heads:
            keys = self._by_channel.get(channel)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_channel[channel]


# Pages whose channels show in their address, so even their first render is kept; others
# (a group's page, by its slug) are learned from the view on their first render.
_PREDICTED = (
    (re.compile(r"/t/[^/]+/(\d+)(?:\.json)?|/t/(\d+)(?:\.json|/posts\.json)"), "topic:{}"),
    (re.compile(r"/c/(?:[^/]+/)?(\d+)\.json"), "group:{}"),
    (re.compile(r"/|/latest\.json|/categories\.json"), "latest"),
)


def predicted_channels(path: str) -> tuple[str, ...] | None:
    for pattern, channel in _PREDICTED:
        found = pattern.fullmatch(path)
        if found:
            number = next((g for g in found.groups() if g), None)
            return (channel.format(number),)
    return None


def make_etag(body: bytes) -> bytes:
    """Weak (the same page gzipped or not is the same page to a reader), and cheap: every
    page is tagged, and a cryptographic hash of a 40 KB page costs a tenth of a signed-in
    render. Length and CRC-32 together: two versions of one page that collide in both are
    one in four billion, and the worst a collision does is show a reader their own copy."""
    return b'W/"%x-%08x"' % (len(body), zlib.crc32(body))


def etag_matches(if_none_match: str | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    tag = etag.decode()
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag.removeprefix("W/"):
            return True
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() not in ("gzip", "*"):
            continue
        q = params.strip()
        return not (q.startswith("q=") and _zero(q[2:]))
    return False


def _zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _has_cookie(scope: Scope, name: str) -> bool:
    cookies = _header(scope, b"cookie")
    return bool(cookies) and name in cookie_parser(cookies or "")  # as the app reads them


def _kept_query(query: bytes) -> bool:
    if len(query) > MAX_QUERY_CHARS:
        return False
    names = {name for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
    return names <= KEPT_PARAMS


class ServePages(PagesOnly):
    """The ASGI middleware (inside AuthMiddleware, which has resolved the reader): answers
    kept pages, keeps the pages views share, and answers 304 to a matching If-None-Match."""

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        state: Any = scope["app"].state
        cache: PageCache | None = getattr(state, "page_cache", None)
        auth = scope.get("state", {}).get("auth")
        anonymous = auth is not None and auth.user is None and auth.method is None
        if (
            cache is None
            or not cache.enabled
            or not anonymous
            or _has_cookie(scope, SAID_COOKIE)
            or not _kept_query(scope.get("query_string", b""))
        ):
            await _answer_with_etag(self.app, scope, receive, send)
            return
        await self._shared(cache, state, scope, receive, send, auth.csrf_token)

    async def _shared(
        self, cache: PageCache, state: Any, scope: Scope, receive: Receive, send: Send, csrf: str
    ) -> None:
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        key = path + "?" + query.decode("latin-1") if query else path
        known = cache.channels_of(path)
        heads: dict[str, int] | None = None
        now = time.monotonic()
        if known is not None:
            heads = await state.live.heads([*known, PAGES_CHANNEL])
            entry = cache.get(key, heads, now)
            if entry is None and cache.being_rendered(key, heads):
                await state.forum.db.unpin()  # waiting must not hold a pooled connection
                entry = await cache.rendered_by_another(key, heads)
            if entry is not None:
                await _send_entry(entry, scope, send)
                return
        keeps = heads is not None and scope["method"] == "GET"
        done = cache.rendering(key, heads) if heads is not None and keeps else None
        finish = done or _nothing
        try:
            await self._render(cache, scope, receive, send, csrf, key, known, heads, finish)
        finally:
            finish()

    async def _render(
        self,
        cache: PageCache,
        scope: Scope,
        receive: Receive,
        send: Send,
        csrf: str,
        key: str,
        known: tuple[str, ...] | None,
        heads: dict[str, int] | None,
        finish: Callable[[], None],
    ) -> None:
        """Render the page; keep it if it may be, and let those waiting for it go (before
        sending: a slow reader must not hold them up)."""
        path: str = scope["path"]
        share = Share()
        scope.setdefault("state", {})[SHARE_KEY] = share
        held = await _held(self.app, scope, receive, send)
        if held is None:
            finish()
            return
        start, content, complete = held
        channels = share.channels
        if channels is not None:
            cache.learn(path, channels)
        entry = None
        if (
            complete
            and channels is not None
            and heads is not None
            and channels == known
            and scope["method"] == "GET"
            and _keepable(start, content, csrf)
        ):
            entry = Entry(
                heads=heads,
                body=content,
                gzipped=zlib.compress(content, 6, wbits=31),
                media_type=_media_type(start),
                etag=make_etag(content),
                expires=time.monotonic() + cache.seconds,
            )
            cache.put(key, entry)
        finish()
        if entry is not None:
            await _send_entry(entry, scope, send)
            return
        await _send_with_etag(start, content, complete, scope, send)


def _nothing() -> None:
    pass


def _keepable(start: Message, content: bytes, csrf: str) -> bool:
    if start["status"] != 200 or not _media_type(start).startswith(KEPT_TYPES):
        return False
    if any(name == b"set-cookie" for name, _ in start.get("headers", ())):
        return False
    if csrf and csrf.encode() in content:
        # A view shared a page that carries the reader's token: a bug; never keep it.
        log.warning("a shared page carries a CSRF token; not kept")
        return False
    return True


def _media_type(start: Message) -> bytes:
    for name, value in start.get("headers", ()):
        if name == b"content-type":
            return bytes(value)
    return b""


async def _send_entry(entry: Entry, scope: Scope, send: Send) -> None:
    headers = [
        (b"etag", entry.etag),
        # Private: a first visit's answer also sets their own cookie (AuthMiddleware).
        (b"cache-control", b"private, no-cache"),
        (b"vary", b"Accept-Encoding, Cookie"),
    ]
    if etag_matches(_header(scope, b"if-none-match"), entry.etag):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    gzip = accepts_gzip(_header(scope, b"accept-encoding"))
    content = entry.gzipped if gzip else entry.body
    headers += [
        (b"content-type", entry.media_type),
        (b"content-length", str(len(content)).encode()),
    ]
    if gzip:
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else content}
    )


async def _held(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> tuple[Message, bytes, bool] | None:
    """Run the app with a page's answer held back: (its start, its body, whether the body
    came whole). None when it went through as it came: not a page (a download streams, an
    error page or one with its own ETag is not tagged)."""
    start: Message | None = None
    body: bytes | None = None
    passing = False

    async def hold(message: Message) -> None:
        nonlocal start, body, passing
        if passing:
            await send(message)
        elif message["type"] == "http.response.start":
            start = message
        elif message["type"] != "http.response.body" or start is None:
            await send(message)
        elif body is None and not message.get("more_body", False) and _tagged(start):
            body = message.get("body", b"")
        else:
            passing = True
            await send(start)
            await send(message)

    await app(scope, receive, hold)
    if start is None or passing:
        return None
    return start, body or b"", body is not None


async def _answer_with_etag(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """A page not kept: answered as the app made it, with an ETag of its body; 304 when the
    reader already holds it. Streamed bodies (downloads) go through untouched."""
    held = await _held(app, scope, receive, send)
    if held is not None:
        await _send_with_etag(*held, scope, send)


def _tagged(start: Message) -> bool:
    if start["status"] != 200 or not _media_type(start).startswith(KEPT_TYPES):
        return False
    return not any(name == b"etag" for name, _ in start.get("headers", ()))


async def _send_with_etag(
    start: Message, content: bytes, complete: bool, scope: Scope, send: Send
) -> None:
    """A page not kept, with an ETag of its body; `private`: no shared cache may keep it
    (it may carry the reader's token or their own view)."""
    if not complete or not _tagged(start):
        await send(start)
        await send({"type": "http.response.body", "body": content})
        return
    etag = make_etag(content)
    headers = [(k, v) for k, v in start.get("headers", ()) if k != b"cache-control"]
    headers += [(b"etag", etag), (b"cache-control", _cache_control(start))]
    if etag_matches(_header(scope, b"if-none-match"), etag):
        kept = [(k, v) for k, v in headers if k in (b"etag", b"cache-control", b"vary")]
        kept += [(k, v) for k, v in start.get("headers", ()) if k == b"set-cookie"]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _cache_control(start: Message) -> bytes:
    for name, value in start.get("headers", ()):
        if name == b"cache-control":
            return bytes(value)
    return b"private, no-cache"
