"""The websocket endpoint: authenticate, subscribe (authorised by the app), replay, then live.

The app passes in how to authenticate a socket, how to read its principal again, and whether
a principal may read a channel; this module knows nothing else about the app. Dead peers are
noticed by the server's websocket pings (uvicorn's, set by the app: every 30 s, 20 s to
answer), within a minute. Frame size is capped by the server itself (uvicorn's `ws_max_size`, set to
protocol.MAX_FRAME_BYTES by the app), so an oversized frame is refused before it is buffered.

Rights change while sockets are open. The app publishes `revalidate_kind` events, whose data
names an `account`, on `revalidate_channel`, which every node serves whatever its sockets
watch; each node then reads every open socket of that account again (`refresh`) and checks
each of its channels (`authorize`): a socket whose principal is gone (logged out, suspended)
is closed with 4003, a channel no longer allowed ends with a `forbidden` error frame. An event
whose data has `"everyone": true` (a group made private, a topic moved between groups: what
anonymous readers may see changed) has every socket of the node checked again, one after
another, yielding between them. Before a channel ends for a socket, the node delivers what
that channel's log holds (waiting up to a second), so the events published with the change
(a topic moved) reach the socket before the `forbidden`, whatever order the bus's wake-ups
came in.

A sweep checks the sockets of signed-in principals (those `account_of` names an account for)
again every `revalidate_every` seconds, for what expires without an event (a session, a
suspension that ends): one socket at a time, spread evenly over the interval, so a node with
many sockets does a little all the time rather than a burst. A socket opened during a round
waits for the next one (it was authorised when it subscribed), so a socket is checked at
most about two intervals after it subscribed or was last checked. Sockets without an account
(anonymous readers) are not swept: nothing of theirs expires, and what they may read changes
only when the app's data does. The contract: an app MUST publish an `"everyone": true`
event for every change of what a reader without an account may read (a group made private or
public, a new public group, a topic moved between groups), or such sockets keep what they had
(and what `authorize` noted on their principal, such as the groups a shared channel shows
them) until they subscribe again.

Presence frames are paced per channel: the first change of a channel quiet for
`Limits.presence_every` seconds is sent at once (a reader arriving or starting a reply shows
without delay), and the changes that follow within that window are folded into one frame with
the latest summary, sent when the window ends (which opens the next one). So a channel costs
at most one presence frame per socket per window however many readers join it, instead of one
per reader joining (N readers joining: N^2/2 frames). One timer per busy channel, none per
socket; changes of other nodes' sockets are paced alike.

Hint listeners: `on_hint_listeners.append(cb)` has `cb(channel, event_id)` called for every
hint the bus delivers to this node, on any channel (with or without sockets here), and
`cb(None, 0)` when the bus reconnected and hints may have been lost; see realtime/hub.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime.bus import Bus, Event
from realtime.hub import HintListener, Hub, P, Present, RightsChanged, Socket
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
    # At most one presence frame per channel per this many seconds, the latest summary (the
    # first change of a quiet channel goes at once). 0: every change at once.
    presence_every: float = 1.0


class Bucket:
    """A token bucket: `burst` at once, refilled at `rate` per second."""

    __slots__ = ("at", "burst", "rate", "tokens")

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


Summary = tuple[list[dict[str, str]], int]  # the named users and how many are reading


class _Window:
    """A channel's presence frame went out less than `presence_every` ago: what changed since
    is held (the latest summary only) until the timer ends the window."""

    __slots__ = ("handle", "held")

    def __init__(self, handle: asyncio.TimerHandle) -> None:
        self.handle = handle
        self.held: Summary | None = None


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
        self._everyone: asyncio.Task[None] | None = None  # checking every socket again
        self._everyone_again = False  # another "everyone" event came meanwhile
        self._presence_windows: dict[str, _Window] = {}  # channels whose frame went out lately

    @property
    def on_hint_listeners(self) -> list[HintListener]:
        """Callables told of every hint on this node (`cb(channel, event_id)`), and of a
        reconnect of the bus (`cb(None, 0)`): append to it. Cheap, non-blocking; one that
        raises is logged and never stops the fan-out."""
        return self.hub.hint_listeners

    # --- wiring for the app ------------------------------------------------------------

    async def start(self) -> None:
        """Start the bus's delivery to this node, presence, the hub's safety net, hearing
        access changes from every node, and sweeping signed-in sockets now and then."""
        await self.bus.start(self.hub.on_hint, self.presence.on_broadcast, self.hub.on_catch_up)
        await self.presence.start()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._keep_and_sweep())
        self._safety_net = loop.create_task(self.hub.safety_net())

    async def close(self) -> None:
        tasks = [
            t
            for t in (self._sweeper, self._safety_net, self._everyone, *self._tasks)
            if t is not None
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for window in self._presence_windows.values():
            window.handle.cancel()
        self._presence_windows.clear()
        await self.presence.close()

    def on_presence_change(self, channel: str, users: list[dict[str, str]], reading: int) -> None:
        """A channel's summary changed (a socket of this node or of another): told to its
        sockets here at once if the channel was quiet, else when its window ends."""
        window = self._presence_windows.get(channel)
        if window is not None:
            window.held = (users, reading)  # only the latest goes, when the window ends
            return
        self._send_presence(channel, (users, reading))

    def _send_presence(self, channel: str, summary: Summary) -> None:
        sockets = self.hub.sockets_on(channel)
        if not sockets:
            return  # nobody here to tell (and no window: the next change goes at once)
        frame = presence_frame(channel, *summary)
        for sock in sockets:
            sock.offer(frame)
        every = self.limits.presence_every
        if every > 0:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(every, self._presence_window_ends, channel)
            self._presence_windows[channel] = _Window(handle)

    def _presence_window_ends(self, channel: str) -> None:
        window = self._presence_windows.pop(channel, None)
        if window is None or window.held is None:
            return  # quiet for a whole window: the next change goes at once
        # Sent even when it is back to what the last frame said: a socket that subscribed
        # meanwhile was given the summary as it was then.
        self._send_presence(channel, window.held)  # ... and opens the next window

    def _on_event(self, event: Event) -> None:
        if event.kind != self.revalidate_kind or event.channel != self.revalidate_channel:
            return
        if event.data.get("everyone") is True:
            self._revalidate_everyone()
            return  # every socket is checked, that account's among them
        account = event.data.get("account")
        for sock in list(self._accounts.get(str(account), ())):
            self._spawn(self._revalidate(sock))

    def _revalidate_everyone(self) -> None:
        if self._everyone is not None:
            # Sockets already checked in this round were checked before this event: go round
            # once more when it ends (however many events came meanwhile).
            self._everyone_again = True
            return
        self._everyone = asyncio.get_running_loop().create_task(self._check_everyone())

    async def _check_everyone(self) -> None:
        try:
            again = True
            while again:
                self._everyone_again = False
                await self._check_all()
                again = self._everyone_again
        finally:
            self._everyone = None

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

        sock: Socket[P] = Socket(
            principal, self.hub.queue_size, websocket.send_text, websocket.close
        )
        self._register(sock, accounts, address)
        try:
            await self._read_loop(websocket, sock)
        except WebSocketDisconnect:
            pass
        finally:
            sock.closed = True
            self._unregister(sock, accounts, address)
            self.hub.remove(sock)
            try:
                await sock.stop()
            finally:  # expiry is per node now: a socket's entries must not outlive it
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
        # Made on first use: most sockets subscribe a few times, never send a bad frame, and
        # many never say they are here; thousands of idle sockets each holding them add up.
        bad: deque[float] | None = None
        subscribes: Bucket | None = None
        presences: Bucket | None = None
        limits = self.limits
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
                bucket = None
                if isinstance(frame, Subscribe):
                    if subscribes is None:
                        subscribes = Bucket(limits.subscribes_burst, limits.subscribes_per_second)
                    bucket = subscribes
                elif isinstance(frame, PresenceUpdate):
                    if presences is None:
                        presences = Bucket(limits.presence_burst, limits.presence_per_second)
                    bucket = presences
                if bucket is not None and not bucket.take():
                    raise ProtocolError("rate_limited", "too many frames of this type; slow down")
                await self._handle(sock, frame)
            except ProtocolError as error:
                sock.offer(error_frame(error.code, error.message))
                now = time.monotonic()
                if bad is None:
                    bad = deque()
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
                await self.hub.catch_up(channel)  # what came with the change reaches it first
                self.hub.unsubscribe(sock, channel)
                await self.presence.set(channel, sock.id, None, "left")
                sock.offer(
                    error_frame("forbidden", f"you no longer have access to {channel}", channel)
                )

    async def _keep_and_sweep(self) -> None:
        """Serve the access channel on this node (again after a failed try), then re-check
        every signed-in socket every `revalidate_every` seconds, spread over the interval: one
        sweep per node, not a timer per socket."""
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
            await self._sweep()

    async def _sweep(self) -> None:
        """One round, about `revalidate_every` seconds long: each socket with an account open
        when it began, checked again one at a time at even steps (later if checks take
        longer). Sockets without an account are left to the "everyone" events."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        due = list({sock for socks in self._accounts.values() for sock in socks})
        if not due:
            await asyncio.sleep(self.revalidate_every)
            return
        step = self.revalidate_every / len(due)
        for n, sock in enumerate(due, 1):
            # Never less than a yield: SQLite reads answer without one.
            await asyncio.sleep(max(0.0, start + n * step - loop.time()))
            try:
                await self._revalidate(sock)
            except Exception:
                log.exception("re-checking a socket's subscriptions failed")

    async def _check_all(self) -> None:
        """Check every open socket again, one at a time."""
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
