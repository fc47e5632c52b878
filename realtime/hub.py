"""Live sockets by channel in this process, and fan-out from the log to them.

Each channel this node serves reads the log once per wake-up and builds each frame once; each
socket has a bounded queue and one writer task, so a slow socket never slows the others: when
its queue overflows it is closed with 4008 and resumes from the backlog when it reconnects.
A replay (a subscribe with `since`) is read from the log a page at a time, at the pace the
reader takes it, so a reader that missed thousands of events still catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from realtime.bus import Bus, Event, TooOld
from realtime.protocol import event_frame, resync_frame, subscribed_frame

log = logging.getLogger("realtime.hub")

CLOSE_OVERFLOW = 4008
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


@dataclass
class Subscription:
    channel: str
    last_id: int
    replaying: bool = False  # live events are skipped: the replay reads them from the log


class Socket(Generic[P]):
    """One connected client: its principal, its subscriptions and its outgoing queue."""

    def __init__(
        self, principal: P, queue_size: int, close: Callable[[int], Coroutine[Any, Any, None]]
    ) -> None:
        self.id = next(_ids)
        self.principal = principal
        self.subs: dict[str, Subscription] = {}
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(queue_size)
        self.closed = False
        # Bumped whenever the socket's rights are checked again (endpoint._revalidate): a
        # subscribe authorised before that must be authorised again before it registers.
        self.generation = 0
        self._close = close
        self._high_water = max(1, queue_size // 2)
        self._drained = asyncio.Event()

    def offer(self, text: str) -> bool:
        """Queue a frame without waiting; on overflow close the socket (4008) instead."""
        if self.closed:
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.shut(CLOSE_OVERFLOW)
            return False
        return True

    def shut(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        task = asyncio.get_running_loop().create_task(self._close(code))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def flush(self, seconds: float) -> None:
        """Wait (at most `seconds`) until every queued frame is sent: before closing for a
        reason the client should read (the error frames that explain it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), seconds)

    async def room(self) -> None:
        """Wait until the reader has taken enough of its queue that more may follow (replays
        go at the reader's pace). SocketGone if it closes; TimeoutError if it takes nothing."""
        while self.queue.qsize() >= self._high_water:
            if self.closed:
                raise SocketGone
            self._drained.clear()
            await asyncio.wait_for(self._drained.wait(), REPLAY_STALL_SECONDS)
        if self.closed:
            raise SocketGone

    async def write_loop(self, send_text: Callable[[str], Awaitable[None]]) -> None:
        """The socket's one writer: sends queued frames in order until closed."""
        try:
            while True:
                text = await self.queue.get()
                if text is None or self.closed:
                    return
                await send_text(text)
                self.queue.task_done()
                if self.queue.qsize() < self._high_water:
                    self._drained.set()
        finally:
            self.closed = True
            self._drained.set()  # a replay waiting for room learns the socket is gone


_background: set[asyncio.Task[None]] = set()


@dataclass
class ChannelState(Generic[P]):
    sockets: set[Socket[P]] = field(default_factory=set)
    delivered: int | None = None  # last id read from the log and fanned out on this node
    dirty: bool = False
    draining: bool = False
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

    # --- wake-ups from the bus ---------------------------------------------------------

    def on_hint(self, channel: str, event_id: int) -> None:
        state = self.channels.get(channel)
        if state is None:
            return
        if state.delivered is not None and event_id <= state.delivered:
            return
        state.dirty = True
        self._schedule_drain(channel, state)

    def on_catch_up(self) -> None:
        for channel, state in self.channels.items():
            state.dirty = True
            self._schedule_drain(channel, state)

    def _schedule_drain(self, channel: str, state: ChannelState[P]) -> None:
        if state.draining or state.delivered is None:
            return
        state.draining = True
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
            self.on_catch_up()

    def sockets_on(self, channel: str) -> list[Socket[P]]:
        state = self.channels.get(channel)
        return list(state.sockets) if state else []
