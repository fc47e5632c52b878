"""Live sockets by channel in this process, and fan-out from the log to them.

Each channel this node serves reads the log once per wake-up and builds each frame once; the
fan-out is a plain loop that writes each frame straight to each socket's connection. A socket
whose connection is not writable (a slow peer) queues its frames in a bounded queue, sent in
order by a writer task of its own while it is behind, so a slow socket never slows the others:
when its queue overflows it is closed with 4008 and resumes from the backlog when it
reconnects. A replay (a subscribe with `since`) is read from the log a page at a time, at the
pace the reader takes it, so a reader that missed thousands of events still catches up.

Hint listeners (`Hub.hint_listeners`, also `LiveEndpoint.on_hint_listeners`): callables
`(channel, event_id)` told of every hint the bus delivers to this node, on any channel,
whether or not a socket here serves it (an app's per-node cache of pages, say), and
`(None, 0)` when the bus reconnected and hints may have been lost meanwhile (anything may
have changed). They run on the event loop inside the bus's delivery, so they must be cheap
and must not block; one that raises is logged and the others, and the fan-out, go on. A
hint may also be lost without a reconnect (a Redis message dropped): the hub re-reads the
channels it serves every couple of seconds, but a listener that keeps things for channels
nobody here watches needs an expiry of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from realtime.bus import Bus, Event, TooOld
from realtime.protocol import event_frame, resync_frame, subscribed_frame

log = logging.getLogger("realtime.hub")

CLOSE_OVERFLOW = 4008
CLOSE_ERROR = 1011  # writing to the connection failed
CLOSE_WAIT_SECONDS = 1.0  # for a close frame to go out before the handler returns
REPLAY_PAGE = 200  # events read from the log at a time while replaying
# A replay waits while the reader has this much of its queue unsent, so live events of its
# other channels always find room; a reader that takes nothing for this long is closed.
REPLAY_STALL_SECONDS = 60.0
_ids = itertools.count(1)


class ChannelUnavailable(Exception):
    """The channel's head could not be read (the database is down); subscribing may be tried
    again later."""


class SocketGone(Exception):
    """The socket closed while a replay waited for it."""


class RightsChanged(Exception):
    """The socket's rights were being checked again while it subscribed: authorise anew."""


# The principal a socket acts for: whatever the app's authenticate callback returns.
P = TypeVar("P")

# The event as this principal may see it: the event itself, a copy shaped for them (data
# only they may have, such as the controls their rights give), or None: not for them at all.
# Called for every socket an event reaches, so it must be cheap; an app that shapes returns
# the same object for principals that see the same thing, and the frame text is built once
# per distinct object.
Present = Callable[[P, Event], Event | None]
OnEvent = Callable[[Event], None]
# Told of every hint on this node: (channel, event id), or (None, 0) after a reconnect of the
# bus (hints may have been lost: anything may have changed).
HintListener = Callable[[str | None, int], None]


@dataclass(slots=True)
class Subscription:
    channel: str
    last_id: int
    replaying: bool = False  # live events are skipped: the replay reads them from the log


class Socket(Generic[P]):
    """One connected client: its principal, its subscriptions and its outgoing frames.

    A frame is written straight to the connection (`send`) when nothing of this socket's is
    queued or being sent: no task switch, no queue, no allocation per frame. Only a socket that
    fell behind (its connection stopped being writable: a slow peer) queues frames, and only
    then has a writer task, which ends once the queue is empty again. Order is always kept.

    The direct write runs the send coroutine one step (`coro.send(None)`). It relies on the
    server's send writing without suspending while the transport is writable, and suspending
    only *before* writing anything when it is not: uvicorn's websockets-sansio and wsproto
    protocols (the app pins websockets-sansio). A send that would suspend is abandoned (closed,
    nothing was sent) and the frame is queued instead."""

    __slots__ = (
        "_close",
        "_closer",
        "_drained",
        "_high_water",
        "_limit",
        "_queue",
        "_send",
        "_writer",
        "closed",
        "generation",
        "id",
        "principal",
        "subs",
    )

    def __init__(
        self,
        principal: P,
        queue_size: int,
        send: Callable[[str], Coroutine[Any, Any, None]],
        close: Callable[[int], Coroutine[Any, Any, None]],
    ) -> None:
        self.id = next(_ids)
        self.principal = principal
        self.subs: dict[str, Subscription] = {}
        self.closed = False
        # Bumped whenever the socket's rights are checked again (endpoint._revalidate): a
        # subscribe authorised before that must be authorised again before it registers.
        self.generation = 0
        self._send = send
        self._close = close
        self._limit = queue_size
        self._high_water = max(1, queue_size // 2)
        # Made when the socket falls behind, dropped when it has caught up: an idle socket
        # holds neither a queue nor a task.
        self._queue: deque[str] | None = None  # frames waiting behind the one being sent
        self._writer: asyncio.Task[None] | None = None  # set while anything is queued or sent
        self._drained: asyncio.Event | None = None  # made for a replay waiting for room
        self._closer: asyncio.Task[None] | None = None  # sending the close frame

    def offer(self, text: str) -> bool:
        """Send a frame without waiting: written now if the socket is not behind, queued if
        it is; on overflow of the queue the socket is closed (4008) instead."""
        if self.closed:
            return False
        if self._writer is None:
            coro = self._send(text)
            try:
                coro.send(None)
            except StopIteration:
                return True  # written
            except Exception as error:
                log.debug("writing to a live socket failed: %r", error)
                self.shut(CLOSE_ERROR)
                return False
            # It would wait for the connection to become writable, before writing anything.
            coro.close()
            self._queue = deque((text,))
            self._writer = asyncio.get_running_loop().create_task(self._write_queued())
            return True
        queue = self._queue
        assert queue is not None
        if len(queue) >= self._limit:
            self.shut(CLOSE_OVERFLOW)
            return False
        queue.append(text)
        return True

    def shut(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        if self._queue is not None:
            self._queue.clear()  # never sent now: the client resumes from its last id
        if self._drained is not None:
            self._drained.set()  # a replay waiting for room learns the socket is gone
        task = self._closer = asyncio.get_running_loop().create_task(self._closing(code))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _closing(self, code: int) -> None:
        with contextlib.suppress(Exception):  # the peer may already be gone
            await self._close(code)

    async def flush(self, seconds: float) -> None:
        """Wait (at most `seconds`) until every queued frame is sent: before closing for a
        reason the client should read (the error frames that explain it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (writer := self._writer) is not None:
            left = deadline - loop.time()
            if left <= 0:
                return
            await asyncio.wait((writer,), timeout=left)

    async def room(self) -> None:
        """Wait until the reader has taken enough of its queue that more may follow (replays
        go at the reader's pace). SocketGone if it closes; TimeoutError if it takes nothing."""
        while self._queue is not None and len(self._queue) >= self._high_water:
            if self.closed:
                raise SocketGone
            if self._drained is None:
                self._drained = asyncio.Event()
            self._drained.clear()
            await asyncio.wait_for(self._drained.wait(), REPLAY_STALL_SECONDS)
        if self.closed:
            raise SocketGone

    async def stop(self) -> None:
        """The connection is over (the endpoint's handler is returning): nothing more is sent,
        but a close already begun gets a moment to go out, so the client reads its code."""
        self.closed = True
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        closer = self._closer
        if closer is not None and not closer.done():
            await asyncio.wait((closer,), timeout=CLOSE_WAIT_SECONDS)

    async def _write_queued(self) -> None:
        """The writer of a socket that fell behind: sends its queue in order, then ends."""
        queue = self._queue
        assert queue is not None
        try:
            while queue and not self.closed:
                await self._send(queue.popleft())
                if self._drained is not None and len(queue) < self._high_water:
                    self._drained.set()
        except Exception as error:
            log.debug("writing to a live socket failed: %r", error)
            self.shut(CLOSE_ERROR)
        finally:
            # No await since the queue was seen empty: the next frame is written directly.
            self._writer = None
            self._queue = None
            if self._drained is not None:
                self._drained.set()


_background: set[asyncio.Task[None]] = set()


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


@dataclass
class ChannelState(Generic[P]):
    sockets: set[Socket[P]] = field(default_factory=set)
    delivered: int | None = None  # last id read from the log and fanned out on this node
    dirty: bool = False
    draining: bool = False
    drained: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))  # not draining
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failed: bool = False  # reading the head failed: waiters give up, the next one retries
    joining: int = 0  # subscribers between creating the state and adding their socket
    kept: bool = False  # served with no sockets too (the node listens to it itself)


class Hub(Generic[P]):
    """Fans each channel's events out to this node's sockets, in order, once each.

    `present`: the event as each principal may see it (None: everyone sees it whole).
    `on_event`: told of every event of a served channel (the endpoint hears access changes
    this way)."""

    def __init__(
        self,
        bus: Bus,
        present: Present[P] | None = None,
        queue_size: int = 256,
        on_event: OnEvent | None = None,
    ) -> None:
        self.bus = bus
        self.present = present
        self.queue_size = queue_size
        self.channels: dict[str, ChannelState[P]] = {}
        self.on_event = on_event
        self.hint_listeners: list[HintListener] = []

    # --- wake-ups from the bus ---------------------------------------------------------

    def on_hint(self, channel: str, event_id: int) -> None:
        if self.hint_listeners:
            self._tell_listeners(channel, event_id)
        state = self.channels.get(channel)
        if state is None:
            return
        if state.delivered is not None and event_id <= state.delivered:
            return
        state.dirty = True
        self._schedule_drain(channel, state)

    def on_catch_up(self) -> None:
        """The bus reconnected: hints may have been lost. Tell the listeners, and re-read
        every served channel's log."""
        if self.hint_listeners:
            self._tell_listeners(None, 0)
        self._recheck()

    def _tell_listeners(self, channel: str | None, event_id: int) -> None:
        for listener in list(self.hint_listeners):
            try:
                listener(channel, event_id)
            except Exception:
                log.exception("a hint listener failed on %r %d", channel, event_id)

    def _recheck(self) -> None:
        for channel, state in self.channels.items():
            state.dirty = True
            self._schedule_drain(channel, state)

    def _schedule_drain(self, channel: str, state: ChannelState[P]) -> None:
        if state.draining or state.delivered is None:
            return
        state.draining = True
        state.drained.clear()
        task = asyncio.get_running_loop().create_task(self._drain(channel, state))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _drain(self, channel: str, state: ChannelState[P]) -> None:
        try:
            while state.dirty and state.delivered is not None:
                state.dirty = False
                events = await self.bus.backlog(channel, state.delivered)
                for event in events:
                    self._fan_out(state, event)
                    state.delivered = event.id
                if len(events) >= 1000:
                    state.dirty = True
        except TooOld:
            # This node fell further behind than the log keeps: every reader must reload.
            state.delivered = await self.bus.head(channel)
            for sock in list(state.sockets):
                sock.offer(resync_frame(channel))
        except Exception:
            log.exception("reading the log of a channel failed; the next wake-up retries")
            state.dirty = True
        finally:
            state.draining = False
            state.drained.set()

    async def catch_up(self, channel: str, at_most: float = 1.0) -> None:
        """Deliver what `channel`'s log holds beyond what this node has fanned out, without
        waiting for its wake-up (at most `at_most` seconds). Before a socket is told it may no
        longer read a channel, the events published with that change (a topic moved) reach
        it first, whatever order the bus's wake-ups arrive in."""
        state = self.channels.get(channel)
        if state is None or state.delivered is None:
            return
        state.dirty = True
        self._schedule_drain(channel, state)  # or, if one is running, it reads once more
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.drained.wait(), at_most)

    def _fan_out(self, state: ChannelState[P], event: Event) -> None:
        # A plain loop that enqueues: no awaiting per socket, one frame text per way of
        # seeing the event (one for all, where the app does not shape it).
        frames: dict[int, tuple[Event, str]] = {}
        for sock in list(state.sockets):
            sub = sock.subs.get(event.channel)
            if sub is None:
                continue
            if sub.replaying:
                continue  # the replay reads it from the log, in order, at the reader's pace
            self._deliver(sock, sub, event, frames)
        if self.on_event is not None:
            self.on_event(event)

    def _deliver(
        self,
        sock: Socket[P],
        sub: Subscription,
        event: Event,
        frames: dict[int, tuple[Event, str]],
    ) -> None:
        if event.id <= sub.last_id:
            return  # already sent during replay: no duplicate
        sub.last_id = event.id
        try:
            shown = event if self.present is None else self.present(sock.principal, event)
        except Exception:
            # Fail closed, and keep the channel flowing for everyone else: an event the app
            # cannot present (a bug, stored data it no longer reads) is not sent at all.
            log.exception("presenting an event on %s failed; not sent", event.channel)
            return
        if shown is None:
            return
        # Keyed by identity, the shaped event kept alive beside its frame for the loop.
        made = frames.get(id(shown))
        if made is None:
            made = frames[id(shown)] = (shown, event_frame(shown))
        sock.offer(made[1])

    # --- sockets -----------------------------------------------------------------------

    async def _channel_state(self, channel: str) -> ChannelState[P]:
        state = self.channels.get(channel)
        if state is None:
            # Register before reading the head: a hint that lands meanwhile marks it dirty,
            # and anything committed after the head read arrives by hint (listen first).
            state = self.channels[channel] = ChannelState[P]()
            try:
                state.delivered = await self.bus.head(channel)
            except BaseException:
                # A state that never becomes ready would wedge the channel on this node:
                # forget it, release whoever waits, and let the next subscriber try again.
                if self.channels.get(channel) is state:
                    del self.channels[channel]
                state.failed = True
                state.ready.set()
                raise
            state.ready.set()
            if state.dirty:
                self._schedule_drain(channel, state)
        state.joining += 1
        try:
            await state.ready.wait()  # another subscriber may still be reading the head
        finally:
            state.joining -= 1
        if state.failed:
            raise ChannelUnavailable(channel)
        return state

    async def keep(self, channel: str) -> None:
        """Serve `channel` on this node with no socket on it, for `on_event` alone (the app's
        own channel of access changes, which every node must hear)."""
        state = await self._channel_state(channel)
        state.kept = True

    async def subscribe(
        self, sock: Socket[P], channel: str, since: int | None, generation: int | None = None
    ) -> None:
        """Replay after `since` (if given), then live, with no gap and no duplicate.

        `generation`: the socket's generation when the subscribe was authorised; if its rights
        were checked again since (while the channel's head was read), RightsChanged, and the
        caller authorises again, so no channel slips past a revocation unseen."""
        state = await self._channel_state(channel)
        assert state.delivered is not None
        if generation is not None and generation != sock.generation:
            self._forget_if_unused(channel, state)
            raise RightsChanged(channel)
        if since is None:
            sock.subs[channel] = Subscription(channel, state.delivered)
            state.sockets.add(sock)
            sock.offer(subscribed_frame(channel, state.delivered))
            return
        sub = Subscription(channel, since, replaying=True)
        sock.subs[channel] = sub
        state.sockets.add(sock)  # listen first; while replaying, live events are skipped
        try:
            await self._replay(sock, sub, state)
        except TooOld:
            self.unsubscribe(sock, channel)
            sock.offer(resync_frame(channel))
            return
        except SocketGone:
            self.unsubscribe(sock, channel)
            return
        except TimeoutError:
            self.unsubscribe(sock, channel)
            sock.shut(CLOSE_OVERFLOW)  # took nothing for a minute: resume on reconnect
            return
        except BaseException:
            self.unsubscribe(sock, channel)
            raise
        sock.offer(subscribed_frame(channel, max(sub.last_id, state.delivered or 0)))

    async def _replay(self, sock: Socket[P], sub: Subscription, state: ChannelState[P]) -> None:
        """Send the log after sub.last_id a page at a time, waiting for the reader to take
        each, until caught up with what this node has fanned out; then go live.

        Live events are not buffered meanwhile: a later page reads them from the log. The
        switch to live happens with no await between the check and the flag, so the next
        fan-out (ids above `state.delivered`) goes to this socket: no gap, no duplicate."""
        channel = sub.channel
        while True:
            events = await self.bus.backlog(channel, sub.last_id, REPLAY_PAGE)
            for event in events:
                await sock.room()
                if sock.subs.get(channel) is not sub:
                    raise SocketGone  # unsubscribed or re-subscribed meanwhile
                self._deliver(sock, sub, event, {})
            if not events and sub.last_id >= (state.delivered or 0):
                sub.replaying = False
                return

    def unsubscribe(self, sock: Socket[P], channel: str) -> None:
        if sock.subs.pop(channel, None) is None:
            return  # never subscribed: must not drop a state others are still joining
        state = self.channels.get(channel)
        if state is None:
            return
        state.sockets.discard(sock)
        self._forget_if_unused(channel, state)

    def _forget_if_unused(self, channel: str, state: ChannelState[P]) -> None:
        busy = state.sockets or state.draining or state.joining or state.kept
        if not busy and self.channels.get(channel) is state:
            del self.channels[channel]

    def remove(self, sock: Socket[P]) -> None:
        for channel in list(sock.subs):
            self.unsubscribe(sock, channel)

    async def safety_net(self, interval: float = 2.0) -> None:
        """Re-read the served channels now and then: a wake-up lost between a commit and its
        publish (a node killed at that moment, a dropped Redis message) costs a delay, never
        an event. Cheap: a caught-up channel is one head lookup."""
        while True:
            await asyncio.sleep(interval)
            self._recheck()  # not a catch-up: the hint listeners are not told

    def sockets_on(self, channel: str) -> list[Socket[P]]:
        state = self.channels.get(channel)
        return list(state.sockets) if state else []
