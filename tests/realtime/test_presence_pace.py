"""What idle readers cost a node: presence frames paced per channel (readers joining a channel
cost O(readers) frames, not O(readers^2)), and the periodic sweep re-checking only signed-in
sockets, spread over its interval, while an "everyone" event still re-checks every socket.

The first tests run the forum's real server; the others run the endpoint alone, over the
memory bus, in a small Starlette app served by uvicorn in the test's own event loop, with
callbacks that count what they are asked."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from forum.app import SERVER_OPTIONS
from realtime.backends.memory import MemoryBus
from realtime.endpoint import Limits, LiveEndpoint
from realtime.presence import TOPIC
from tests.conftest import free_port
from tests.test_live import Live, live, ws_url


def presences(reader: Live, channel: str) -> list[dict[str, Any]]:
    return [f for f in reader.frames if f["type"] == "presence" and f["channel"] == channel]


async def drain(reader: Live, seconds: float) -> None:
    """Read whatever comes for `seconds`."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            await reader.next(wait=left)
        except TimeoutError:
            return


# --- the forum's server (presence_every: 1 s) ----------------------------------------------


async def test_readers_joining_at_once_get_a_few_presence_frames_each(server, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Everyone joins", "x")
    channel = f"topic:{written.topic_id}"
    count = 50
    readers = [Live(await websockets.connect(ws_url(server.base_url))) for _ in range(count)]

    async def join(reader: Live) -> None:
        assert (await reader.subscribe(channel))["type"] == "subscribed"
        await reader.send({"type": "presence", "channel": channel, "state": "viewing"})

    try:
        await asyncio.gather(*(join(r) for r in readers))
        await asyncio.gather(
            *(
                r.until(lambda f: f["type"] == "presence" and f["reading"] == count, wait=10)
                for r in readers
            )
        )
        await asyncio.gather(*(drain(r, 1.5) for r in readers))  # a window more: nothing late
        got = [presences(r, channel) for r in readers]
        # Unpaced, the k-th reader to join would hear of every later one: 1,225 frames in all.
        assert all(frames[-1]["reading"] == count for frames in got)
        assert max(len(frames) for frames in got) <= 5
        assert sum(len(frames) for frames in got) <= 3 * count
    finally:
        for reader in readers:
            await reader.ws.close()


async def test_a_reader_joining_a_quiet_topic_is_shown_at_once(server, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Quiet", "x")
    channel = f"topic:{written.topic_id}"
    async with live(server.base_url) as first, live(server.base_url) as second:
        await first.subscribe(channel)
        await first.send({"type": "presence", "channel": channel, "state": "viewing"})
        await first.until(lambda f: f["type"] == "presence" and f["reading"] == 1)
        await drain(first, 1.2)  # the window its own arrival opened ends: the topic is quiet
        joined = time.monotonic()
        await second.subscribe(channel)
        await second.send({"type": "presence", "channel": channel, "state": "viewing"})
        await first.until(lambda f: f["type"] == "presence" and f["reading"] == 2, wait=5)
        assert time.monotonic() - joined < 1.0
        # The newcomer was told of the other when it subscribed, and of itself since.
        frame = await second.until(lambda f: f["type"] == "presence" and f["reading"] == 2)
        assert presences(second, channel)[0]["reading"] == 1
        assert frame["reading"] == 2


# --- the endpoint alone, over the memory bus -----------------------------------------------


@dataclass
class App:
    """The callbacks of a tiny app: `?user=name` signs in (no name: anonymous), every channel
    is allowed, and every `authorize` call is recorded (principal, channel, when)."""

    asked: list[tuple[str, str, float]] = field(default_factory=list)

    async def authenticate(self, websocket: WebSocket) -> str:
        return websocket.query_params.get("user", "")

    async def authorize(self, principal: str, channel: str) -> str | None:
        self.asked.append((principal, channel, time.monotonic()))
        return None

    async def refresh(self, principal: str) -> str:
        return principal

    def times(self, principal: str) -> list[float]:
        return [at for who, _, at in self.asked if who == principal]


@dataclass
class Served:
    app: App
    endpoint: LiveEndpoint[str]
    bus: MemoryBus
    url: str


@asynccontextmanager
async def served(**options: Any) -> AsyncIterator[Served]:
    app, bus = App(), MemoryBus()
    endpoint = LiveEndpoint[str](
        bus,
        app.authenticate,
        app.authorize,
        lambda principal: principal or None,
        refresh=app.refresh,
        account_of=lambda principal: (principal,) if principal else (),
        **options,
    )
    await endpoint.start()
    port = free_port()
    config = uvicorn.Config(
        Starlette(routes=[WebSocketRoute("/live", endpoint.__call__)]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        **SERVER_OPTIONS,
    )
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.01)
        yield Served(app, endpoint, bus, f"ws://127.0.0.1:{port}/live")
    finally:
        server.should_exit = True
        await serving
        await endpoint.close()
        await bus.close()


@asynccontextmanager
async def reader(url: str, user: str = "") -> AsyncIterator[Live]:
    async with websockets.connect(f"{url}?user={user}", open_timeout=10) as ws:
        yield Live(ws)


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.01)


async def test_changes_on_another_node_are_paced_alike() -> None:
    every = 0.5
    async with served(limits=Limits(presence_every=every)) as s:
        channel = "topic:1"
        async with reader(s.url) as a, reader(s.url) as b:
            for r in (a, b):
                await r.subscribe(channel)
            # Another node's readers arrive, one message each, as fast as the bus brings them.
            for n in range(1, 31):
                entry = [channel, n, f"u{n}", "viewing"]
                s.endpoint.presence.on_broadcast(
                    TOPIC, {"node": "elsewhere", "op": "set", "seq": n, "entries": [entry]}
                )
                await asyncio.sleep(0.005)
            for r in (a, b):
                await r.until(lambda f: f["type"] == "presence" and f["reading"] == 30)
                await drain(r, every * 1.5)
                frames = presences(r, channel)
                assert frames[0]["reading"] == 1  # the first change went at once
                assert frames[-1]["reading"] == 30 and len(frames[-1]["users"]) == 30
                assert len(frames) <= 3
            assert channel not in s.endpoint._presence_windows  # quiet again: no timer
        # Every socket of the channel left: a change there opens no window and sends nothing.
        await until(lambda: not s.endpoint.hub.sockets_on(channel))
        s.endpoint.presence.on_broadcast(
            TOPIC, {"node": "elsewhere", "op": "set", "seq": 31, "entries": [[channel, 1]]}
        )
        assert s.endpoint.presence.summary(channel)[1] == 29
        assert channel not in s.endpoint._presence_windows


async def test_a_socket_that_subscribes_within_a_window_gets_its_end() -> None:
    every = 1.0
    async with served(limits=Limits(presence_every=every)) as s:
        channel = "topic:1"

        def elsewhere(seq: int, *entry: Any) -> None:
            payload = {"node": "elsewhere", "op": "set", "seq": seq, "entries": [[channel, *entry]]}
            s.endpoint.presence.on_broadcast(TOPIC, payload)

        async with reader(s.url, "ana") as a:
            await a.subscribe(channel)
            await a.send({"type": "presence", "channel": channel, "state": "viewing"})
            await a.until(lambda f: f["type"] == "presence" and f["reading"] == 1)
            elsewhere(1, 1, "zed", "viewing")  # held: the window the first frame opened
            await a.until(lambda f: f["type"] == "presence" and f["reading"] == 2)
            began = time.monotonic()  # the next window began with that frame
            elsewhere(2, 1)  # zed leaves ...
            async with reader(s.url) as late:
                await late.subscribe(channel)
                told = await late.until(lambda f: f["type"] == "presence")
                assert told["reading"] == 1  # ... told: one reading
                elsewhere(3, 1, "zed", "viewing")  # ... and is back: as the last frame said
                assert time.monotonic() - began < every  # all within the window
                frame = await late.until(lambda f: f["type"] == "presence", wait=every * 2)
                assert frame["reading"] == 2


async def test_the_sweep_checks_signed_in_sockets_only_spread_over_its_interval() -> None:
    every = 0.6
    async with (
        served(revalidate_every=every) as s,
        reader(s.url) as anonymous,
        reader(s.url, "ana") as ana,
        reader(s.url, "ben") as ben,
        reader(s.url, "cy") as cy,
    ):
        for r in (anonymous, ana, ben, cy):
            assert (await r.subscribe("topic:1"))["type"] == "subscribed"
        s.app.asked.clear()
        await asyncio.sleep(every * 3.5)
        assert s.app.times("") == []  # anonymous: never swept
        for name in ("ana", "ben", "cy"):
            assert 2 <= len(s.app.times(name)) <= 5
        # Spread over the interval (a step of every/3 apart), not a burst per interval.
        times = sorted(at for _, _, at in s.app.asked)
        gaps = sorted(b - a for a, b in itertools.pairwise(times))
        assert gaps[len(gaps) // 2] >= every / 3 * 0.5

        # What anonymous readers may read changed: every socket is checked at once.
        s.app.asked.clear()
        await s.bus.append(None, "access", "access.changed", {"everyone": True}, 0.0)
        await until(lambda: len(s.app.times("")) == 1, seconds=every / 2)
        await until(lambda: all(s.app.times(n) for n in ("ana", "ben", "cy")), every / 2)
        await anonymous.send({"type": "ping"})
        assert (await anonymous.until(lambda f: f["type"] == "pong"))["type"] == "pong"
