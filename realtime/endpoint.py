"""The websocket endpoint: authenticate, subscribe (authorised by the app), replay, then live.

The app passes in how to authenticate a socket, how to read its principal again, and whether
a principal may read a channel; this module knows nothing else about the app. Dead peers are
noticed by the server's websocket pings (uvicorn: every 20 s, 20 s to answer), well within a
minute. Frame size is capped by the server itself (uvicorn's `ws_max_size`, set to
protocol.MAX_FRAME_BYTES by the app), so an oversized frame is refused before it is buffered.

Rights change while sockets are open. The app publishes `revalidate_kind` events, whose data
names an `account`, on `revalidate_channel`, which every node serves whatever its sockets
watch; each node then reads every open socket of that account again (`refresh`) and checks
each of its channels (`authorize`): a socket whose principal is gone (logged out, suspended)
is closed with 4003, a channel no longer allowed ends with a `forbidden` error frame. A sweep
does the same for every socket once a minute, for what expires without an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime.bus import Bus, Event
from realtime.hub import Hub, P, Present, RightsChanged, Socket
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

# The socket's principal, or None: refused (closed with 1008).
Authenticate = Callable[[WebSocket], Awaitable[P | None]]
# None: allowed; otherwise the error code to send ("forbidden", "not_found").
Authorize = Callable[[P, str], Awaitable[str | None]]
# The principal read again now, or None when it no longer exists (session ended).
Refresh = Callable[[P], Awaitable[P | None]]
# The accounts whose access changes concern a principal, the one it acts for first (its
# socket limit): an admin's API key acting as a member is both. Empty for anonymous readers.
AccountOf = Callable[[P], tuple[str, ...]]
UsernameOf = Callable[[P], str | None]

CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013  # too many sockets from one account or address
CLOSE_REVOKED = 4003  # the session ended or the account was suspended
BAD_FRAMES_ALLOWED = 5  # within BAD_FRAME_WINDOW seconds, then the socket is closed
BAD_FRAME_WINDOW = 30.0
MAX_SUBSCRIPTIONS = 50


@dataclass(frozen=True)
class Limits:
    """Pace and size limits of one node's endpoint."""

    sockets_per_account: int = 20
    # Anonymous sockets only (signed-in ones are held per account): a hospital or a care
    # home may put hundreds of people behind one address.
    sockets_per_address: int = 200
    subscribes_burst: float = 60.0  # subscribe frames at once ...
    subscribes_per_second: float = 2.0  # ... and after that
    presence_burst: float = 10.0
    presence_per_second: float = 1.0


class Bucket:
    """A token bucket: `burst` at once, refilled at `rate` per second."""

    def __init__(self, burst: float, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class LiveEndpoint(Generic[P]):
    """The `/live` websocket route of one node, with the hub that fans events out to its
    sockets and the presence table they share, both made here and started by `start()`
    (which also starts the bus's delivery to them). The app owns the bus: it opens it before
    and closes it after the endpoint.

    The app's callbacks decide, for its principal type P: who a socket is (`authenticate`),
    which channels it may read (`authorize`), who it is now (`refresh`), which accounts'
    access changes concern it (`account_of`), its name in presence (`username_of`) and how it
    sees each event (`present`)."""

    def __init__(
        self,
        bus: Bus,
        authenticate: Authenticate[P],
        authorize: Authorize[P],
        username_of: UsernameOf[P],
        *,
        refresh: Refresh[P],
        account_of: AccountOf[P],
        present: Present[P] | None = None,
        queue_size: int = 256,
        limits: Limits | None = None,
        revalidate_kind: str = "access.changed",
        revalidate_channel: str = "access",
        revalidate_every: float = 60.0,
    ) -> None:
        self.bus = bus
        self.hub = Hub(bus, present, queue_size=queue_size, on_event=self._on_event)
        self.presence = Presence(bus, self.on_presence_change)
        self.authenticate = authenticate
        self.authorize = authorize
        self.username_of = username_of
        self.refresh = refresh
        self.account_of = account_of
        self.limits = limits or Limits()
        self.revalidate_kind = revalidate_kind
        self.revalidate_channel = revalidate_channel
        self.revalidate_every = revalidate_every
        self.sockets: set[Socket[P]] = set()
        self._accounts: dict[str, set[Socket[P]]] = {}
        self._addresses: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._safety_net: asyncio.Task[None] | None = None

    # --- wiring for the app ------------------------------------------------------------

    async def start(self) -> None:
        """Start the bus's delivery to this node, presence, the hub's safety net, hearing
        access changes from every node, and sweeping every socket now and then."""
        await self.bus.start(self.hub.on_hint, self.presence.on_broadcast, self.hub.on_catch_up)
        await self.presence.start()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._keep_and_sweep())
        self._safety_net = loop.create_task(self.hub.safety_net())

    async def close(self) -> None:
        tasks = [t for t in (self._sweeper, self._safety_net, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.presence.close()

    def on_presence_change(self, channel: str, users: list[dict[str, str]], reading: int) -> None:
        frame = presence_frame(channel, users, reading)
        for sock in self.hub.sockets_on(channel):
            sock.offer(frame)

    def _on_event(self, event: Event) -> None:
        if event.kind != self.revalidate_kind or event.channel != self.revalidate_channel:
            return
        account = event.data.get("account")
        for sock in list(self._accounts.get(str(account), ())):
            self._spawn(self._revalidate(sock))

    # --- one socket ----------------------------------------------------------------------

    async def __call__(self, websocket: WebSocket) -> None:
        principal = await self.authenticate(websocket)
        if principal is None:
            await websocket.close(CLOSE_POLICY)
            return
        accounts = self.account_of(principal)
        address = websocket.client.host if websocket.client else ""
        await websocket.accept()
        if self._too_many(accounts[0] if accounts else None, address):
            await websocket.close(CLOSE_TRY_LATER, "too many live connections; close some tabs")
            return

        async def close(code: int) -> None:
            with contextlib.suppress(Exception):  # the peer may already be gone
                await websocket.close(code)

        sock: Socket[P] = Socket(principal, self.hub.queue_size, close)
        self._register(sock, accounts, address)
        writer = asyncio.get_running_loop().create_task(sock.write_loop(websocket.send_text))
        try:
            await self._read_loop(websocket, sock)
        except WebSocketDisconnect:
            pass
        finally:
            sock.closed = True
            self._unregister(sock, accounts, address)
            self.hub.remove(sock)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            await self.presence.leave_all(sock.id)

    def _too_many(self, account: str | None, address: str) -> bool:
        if account is not None:
            return len(self._accounts.get(account, ())) >= self.limits.sockets_per_account
        return self._addresses.get(address, 0) >= self.limits.sockets_per_address

    def _register(self, sock: Socket[P], accounts: tuple[str, ...], address: str) -> None:
        self.sockets.add(sock)
        for account in accounts:
            self._accounts.setdefault(account, set()).add(sock)
        if not accounts:
            self._addresses[address] = self._addresses.get(address, 0) + 1

    def _unregister(self, sock: Socket[P], accounts: tuple[str, ...], address: str) -> None:
        self.sockets.discard(sock)
        for account in accounts:
            mine = self._accounts.get(account)
            if mine is not None:
                mine.discard(sock)
                if not mine:
                    del self._accounts[account]
        if accounts:
            return
        left = self._addresses.get(address, 1) - 1
        if left > 0:
            self._addresses[address] = left
        else:
            self._addresses.pop(address, None)

    async def _read_loop(self, websocket: WebSocket, sock: Socket[P]) -> None:
        bad: deque[float] = deque()
        buckets = {
            Subscribe: Bucket(self.limits.subscribes_burst, self.limits.subscribes_per_second),
            PresenceUpdate: Bucket(self.limits.presence_burst, self.limits.presence_per_second),
        }
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
                frame = parse_frame(text)
                bucket = buckets.get(type(frame))
                if bucket is not None and not bucket.take():
                    raise ProtocolError("rate_limited", "too many frames of this type; slow down")
                await self._handle(sock, frame)
            except ProtocolError as error:
                sock.offer(error_frame(error.code, error.message))
                now = time.monotonic()
                bad.append(now)
                while bad and bad[0] < now - BAD_FRAME_WINDOW:
                    bad.popleft()
                if len(bad) > BAD_FRAMES_ALLOWED:
                    await sock.flush(1.0)  # the error frames say why, then the close
                    sock.shut(CLOSE_POLICY)
                    return
            except Exception:
                # The app or the database failed on a good frame: say so, keep the socket.
                log.exception("a live frame could not be handled")
                sock.offer(error_frame("unavailable", "the server could not do that now; retry"))

    async def _handle(self, sock: Socket[P], frame: Any) -> None:
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

    async def _subscribe(self, sock: Socket[P], frame: Subscribe) -> None:
        if frame.channel not in sock.subs and len(sock.subs) >= MAX_SUBSCRIPTIONS:
            raise ProtocolError("bad_request", f"at most {MAX_SUBSCRIPTIONS} channels a socket")
        while True:
            generation = sock.generation
            try:
                refusal = await self.authorize(sock.principal, frame.channel)
            except Exception:
                log.exception("authorising a subscription failed")
                refusal = "unavailable"
            if refusal is not None:
                message = (
                    "the server could not check that channel now; retry"
                    if refusal == "unavailable"
                    else f"you may not subscribe to {frame.channel}"
                )
                sock.offer(error_frame(refusal, message, frame.channel))
                return
            self.hub.unsubscribe(sock, frame.channel)  # a re-subscribe restarts from `since`
            try:
                await self.hub.subscribe(sock, frame.channel, frame.since, generation)
            except RightsChanged:
                continue  # checked again meanwhile: authorise with the rights as they are now
            except Exception:
                log.exception("subscribing failed")
                message = "the server could not read that channel now; retry"
                sock.offer(error_frame("unavailable", message, frame.channel))
                return
            break
        users, reading = self.presence.summary(frame.channel)
        if reading:
            sock.offer(presence_frame(frame.channel, users, reading))

    # --- rights that change while the socket is open ------------------------------------

    async def _revalidate(self, sock: Socket[P]) -> None:
        if sock.closed:
            return
        sock.generation += 1  # a subscribe authorised before now is authorised again
        fresh = await self.refresh(sock.principal)
        sock.generation += 1  # ... and one authorised while the principal was read
        if fresh is None:
            # Logged out, suspended, key revoked: nothing more reaches this socket.
            for channel in list(sock.subs):
                self.hub.unsubscribe(sock, channel)
            sock.shut(CLOSE_REVOKED)
            return
        sock.principal = fresh
        for channel in list(sock.subs):
            if await self.authorize(sock.principal, channel) is not None:
                self.hub.unsubscribe(sock, channel)
                await self.presence.set(channel, sock.id, None, "left")
                sock.offer(
                    error_frame("forbidden", f"you no longer have access to {channel}", channel)
                )

    async def _keep_and_sweep(self) -> None:
        """Serve the access channel on this node (again after a failed try), then re-check
        every socket every `revalidate_every` seconds: one sweep per node, not a timer per
        socket."""
        delay = 1.0
        while True:
            try:
                await self.hub.keep(self.revalidate_channel)
                break
            except Exception:
                log.exception("cannot follow %s yet; trying again", self.revalidate_channel)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        while True:
            await asyncio.sleep(self.revalidate_every)
            for sock in list(self.sockets):
                try:
                    await self._revalidate(sock)
                except Exception:
                    log.exception("re-checking a socket's subscriptions failed")
                # SQLite reads answer without yielding: let the loop serve others between.
                await asyncio.sleep(0)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def isolated() -> None:
            try:
                await work
            except Exception:
                log.exception("re-checking a socket's subscriptions failed")

        task = asyncio.get_running_loop().create_task(isolated())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
