"""The websocket endpoint: authenticate, subscribe (authorised by the app), replay, then live.

The app passes in how to authenticate a socket and whether a principal may read a channel;
this module knows nothing else about the app. Dead peers are noticed by the server's
websocket pings (uvicorn: every 20 s, 20 s to answer), well within a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime.bus import Event
from realtime.hub import Hub, Socket
from realtime.presence import Presence
from realtime.protocol import (
    PONG,
    Ping,
    PresenceUpdate,
    ProtocolError,
    Subscribe,
    Unsubscribe,
    error_frame,
    parse_frame,
    presence_frame,
)

log = logging.getLogger("realtime.endpoint")

Authenticate = Callable[[WebSocket], Awaitable[Any]]
# None: allowed; otherwise the error code to send ("forbidden", "not_found").
Authorize = Callable[[Any, str], Awaitable[str | None]]

CLOSE_POLICY = 1008
BAD_FRAMES_ALLOWED = 5  # within BAD_FRAME_WINDOW seconds, then the socket is closed
BAD_FRAME_WINDOW = 30.0
MAX_SUBSCRIPTIONS = 50


class LiveEndpoint:
    def __init__(
        self,
        hub: Hub,
        presence: Presence,
        authenticate: Authenticate,
        authorize: Authorize,
        username_of: Callable[[Any], str | None],
        revalidate_kind: str = "access.changed",
        revalidate_every: float = 60.0,
    ) -> None:
        self.hub = hub
        self.presence = presence
        self.authenticate = authenticate
        self.authorize = authorize
        self.username_of = username_of
        self.revalidate_kind = revalidate_kind
        self.revalidate_every = revalidate_every
        self.sockets: set[Socket] = set()
        hub.on_event = self._on_event

    # --- wiring for the app ------------------------------------------------------------

    def on_presence_change(self, channel: str, users: list[dict[str, str]], reading: int) -> None:
        frame = presence_frame(channel, users, reading)
        for sock in self.hub.sockets_on(channel):
            sock.offer(frame)

    def _on_event(self, event: Event) -> None:
        # Losing access (leaving a private group, a ban) ends subscriptions at once: the app
        # publishes `revalidate_kind` on a channel its sockets watch, e.g. user:<id>.
        if event.kind == self.revalidate_kind:
            for sock in self.hub.sockets_on(event.channel):
                self._spawn(self._revalidate(sock))

    # --- one socket ----------------------------------------------------------------------

    async def __call__(self, websocket: WebSocket) -> None:
        principal = await self.authenticate(websocket)
        if principal is None:
            await websocket.close(CLOSE_POLICY)
            return
        await websocket.accept()

        async def close(code: int) -> None:
            with contextlib.suppress(Exception):  # the peer may already be gone
                await websocket.close(code)

        sock = Socket(principal, self.hub.queue_size, close)
        self.sockets.add(sock)
        writer = asyncio.get_running_loop().create_task(sock.write_loop(websocket.send_text))
        revalidator = asyncio.get_running_loop().create_task(self._revalidate_loop(sock))
        try:
            await self._read_loop(websocket, sock)
        except WebSocketDisconnect:
            pass
        finally:
            sock.closed = True
            self.sockets.discard(sock)
            self.hub.remove(sock)
            for task in (writer, revalidator):
                task.cancel()
            await asyncio.gather(writer, revalidator, return_exceptions=True)
            await self.presence.leave_all(sock.id)

    async def _read_loop(self, websocket: WebSocket, sock: Socket) -> None:
        bad: deque[float] = deque()
        while not sock.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    text = "\x00not utf-8"  # parsed below as a bad frame
            try:
                await self._handle(sock, parse_frame(text))
            except ProtocolError as error:
                sock.offer(error_frame(error.code, error.message))
                now = time.monotonic()
                bad.append(now)
                while bad and bad[0] < now - BAD_FRAME_WINDOW:
                    bad.popleft()
                if len(bad) > BAD_FRAMES_ALLOWED:
                    sock.shut(CLOSE_POLICY)
                    return

    async def _handle(self, sock: Socket, frame: Any) -> None:
        if isinstance(frame, Ping):
            sock.offer(PONG)
        elif isinstance(frame, Subscribe):
            await self._subscribe(sock, frame)
        elif isinstance(frame, Unsubscribe):
            self.hub.unsubscribe(sock, frame.channel)
            await self.presence.set(frame.channel, sock.id, None, "left")
        elif isinstance(frame, PresenceUpdate):
            if frame.channel not in sock.subs:
                raise ProtocolError("bad_request", "subscribe to a channel before presence")
            await self.presence.set(
                frame.channel, sock.id, self.username_of(sock.principal), frame.state
            )

    async def _subscribe(self, sock: Socket, frame: Subscribe) -> None:
        if frame.channel not in sock.subs and len(sock.subs) >= MAX_SUBSCRIPTIONS:
            raise ProtocolError("bad_request", f"at most {MAX_SUBSCRIPTIONS} channels a socket")
        refusal = await self.authorize(sock.principal, frame.channel)
        if refusal is not None:
            sock.offer(
                error_frame(refusal, f"you may not subscribe to {frame.channel}", frame.channel)
            )
            return
        self.hub.unsubscribe(sock, frame.channel)  # a re-subscribe restarts from its `since`
        await self.hub.subscribe(sock, frame.channel, frame.since)
        users, reading = self.presence.summary(frame.channel)
        if reading:
            sock.offer(presence_frame(frame.channel, users, reading))

    async def _revalidate(self, sock: Socket) -> None:
        for channel in list(sock.subs):
            if await self.authorize(sock.principal, channel) is not None:
                self.hub.unsubscribe(sock, channel)
                await self.presence.set(channel, sock.id, None, "left")
                sock.offer(
                    error_frame("forbidden", f"you no longer have access to {channel}", channel)
                )

    async def _revalidate_loop(self, sock: Socket) -> None:
        while True:
            await asyncio.sleep(self.revalidate_every)
            try:
                await self._revalidate(sock)
            except Exception:
                log.exception("re-checking a socket's subscriptions failed")

    _tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
