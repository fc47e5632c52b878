"""Fan-out to sockets: frames written straight to a connection that keeps up, queued (in
order, bounded) only for one that fell behind; every socket checked again when what everyone
may read changed; hint listeners that hear every hint on the node.

The Socket tests use a connection that behaves as uvicorn's websockets-sansio protocol does
(a send writes at once while the transport is writable, and otherwise waits before writing
anything); the rest run a real uvicorn server with the `websockets` client, on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import websockets

from realtime.backends.memory import MemoryBus
from realtime.backends.postgres import PostgresBus
from realtime.endpoint import LiveEndpoint
from realtime.hub import CLOSE_ERROR, CLOSE_OVERFLOW, Hub, Socket
from tests.test_live import Live, key_headers, live, ws_url


class Connection:
    """A websocket connection as the server's ASGI send sees it."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.sent: list[str] = []
        self.closed: list[int] = []
        self.broken = False

    async def send_text(self, text: str) -> None:
        await self.writable.wait()
        if self.broken:
            raise OSError("connection reset")
        self.sent.append(text)

    async def close(self, code: int) -> None:
        await self.writable.wait()
        self.closed.append(code)


def socket_on(conn: Connection, queue_size: int = 8) -> Socket[str]:
    return Socket("someone", queue_size, conn.send_text, conn.close)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_frame_is_written_at_once_without_a_task() -> None:
    conn = Connection()
    sock = socket_on(conn)
    tasks = len(asyncio.all_tasks())
    for n in range(3):
        assert sock.offer(f"f{n}")
    assert conn.sent == ["f0", "f1", "f2"]  # before any await: no task switch
    assert sock._writer is None and sock._queue is None
    assert len(asyncio.all_tasks()) == tasks


async def test_a_socket_behind_queues_in_order_then_writes_directly_again() -> None:
    conn = Connection()
    sock = socket_on(conn, queue_size=16)
    sock.offer("a")
    conn.writable.clear()  # the peer stopped reading
    for text in "bcde":
        assert sock.offer(text)
    await settle()
    assert conn.sent == ["a"] and sock._writer is not None
    conn.writable.set()
    sock.offer("f")  # still behind: queued after the others, never written first
    await sock.flush(1.0)
    assert conn.sent == list("abcdef")
    assert idle(sock)  # caught up: no task, no queue
    sock.offer("g")
    assert conn.sent[-1] == "g"


def idle(sock: Any) -> bool:
    """No writer task and no queue (read through a function: mypy keeps what an earlier
    assert said about the attributes)."""
    return sock._writer is None and sock._queue is None


async def test_a_queue_that_overflows_closes_the_socket_with_4008() -> None:
    conn = Connection()
    sock = socket_on(conn, queue_size=4)
    conn.writable.clear()
    assert sock.offer("f0")
    await settle()  # the writer took it: it waits for the connection
    accepted = [sock.offer(f"f{n}") for n in range(1, 6)]
    assert accepted == [True] * 4 + [False]  # four queued behind it, then no more room
    assert sock.closed and not sock.offer("late")
    conn.writable.set()
    await sock.stop()
    assert conn.closed == [CLOSE_OVERFLOW]
    assert conn.sent in (["f0"], [])  # what was queued is dropped: it resumes by id


async def test_a_failed_write_closes_the_socket_with_1011() -> None:
    conn = Connection()
    sock = socket_on(conn)
    conn.broken = True
    assert not sock.offer("x")
    await sock.stop()
    assert conn.closed == [CLOSE_ERROR]


async def test_room_waits_for_the_reader_to_take_its_queue() -> None:
    conn = Connection()
    sock = socket_on(conn, queue_size=4)  # room below 2 queued
    conn.writable.clear()
    for n in range(4):
        sock.offer(f"f{n}")
    await settle()
    waiting = asyncio.ensure_future(sock.room())
    await settle()
    assert not waiting.done()
    conn.writable.set()
    await asyncio.wait_for(waiting, 1.0)
    await sock.flush(1.0)
    assert conn.sent == ["f0", "f1", "f2", "f3"]


async def test_hint_listeners_hear_every_hint_and_catch_ups_but_never_stop_fan_out() -> None:
    bus = MemoryBus()
    hub: Hub[str] = Hub(bus)
    heard: list[tuple[str | None, int]] = []

    def broken(channel: str | None, event_id: int) -> None:
        raise RuntimeError("a listener with a bug")

    hub.hint_listeners += [broken, lambda channel, event_id: heard.append((channel, event_id))]
    await bus.start(hub.on_hint, lambda topic, payload: None, hub.on_catch_up)
    conn = Connection()
    sock = socket_on(conn)
    await hub.subscribe(sock, "topic:1", None)
    await bus.append(None, "topic:2", "k", {}, 0.0)  # no socket here serves it
    await bus.append(None, "topic:1", "k", {}, 0.0)
    for _ in range(100):
        if len(conn.sent) == 2:
            break
        await asyncio.sleep(0.01)
    assert heard == [("topic:2", 1), ("topic:1", 1)]
    assert json.loads(conn.sent[1])["channel"] == "topic:1"  # fan-out went on
    hub.on_catch_up()  # the bus reconnected: anything may have changed
    assert heard[-1] == (None, 0)
    net = asyncio.ensure_future(hub.safety_net(0.01))  # re-reading the log is no catch-up
    await asyncio.sleep(0.05)
    net.cancel()
    assert heard.count((None, 0)) == 1
    await bus.close()


class SlowBus(MemoryBus):
    """Reading one channel's log waits until `release` is set: a query that takes a while."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow, self.release = slow, asyncio.Event()

    async def backlog(self, channel: str, since: int, limit: int = 1000) -> list[Any]:
        if channel == self.slow:
            await self.release.wait()
        return await super().backlog(channel, since, limit)


async def test_catch_up_delivers_a_channel_before_its_wake_up_and_waits_for_a_read() -> None:
    """Before a socket loses a channel, the endpoint catches the channel up: the events of the
    same commit (a topic moved) reach the socket first, even when their wake-up is late (the
    Redis bus publishes each on its own) or their read is slow."""
    bus = SlowBus("topic:1")
    bus.release.set()
    hub: Hub[str] = Hub(bus)
    await bus.start(hub.on_hint, lambda topic, payload: None, hub.on_catch_up)
    conn = Connection()
    await hub.subscribe(socket_on(conn), "topic:1", None)
    await hub.catch_up("topic:9")  # a channel nobody here reads: nothing to do
    # Appended, its wake-up not yet run (it comes on the loop's next turn):
    await bus.append(None, "topic:1", "topic.moved", {}, 0.0)
    await hub.catch_up("topic:1")
    assert [json.loads(f).get("kind") for f in conn.sent] == [None, "topic.moved"]
    await settle()  # the late wake-up delivers nothing twice
    assert len(conn.sent) == 2

    bus.release.clear()  # a read of the log that takes a while
    await bus.append(None, "topic:1", "topic.moved", {}, 0.0)
    await settle()
    waiting = asyncio.ensure_future(hub.catch_up("topic:1", at_most=5.0))
    await asyncio.sleep(0.05)
    assert not waiting.done() and len(conn.sent) == 2
    bus.release.set()
    await asyncio.wait_for(waiting, 1.0)
    assert len(conn.sent) == 3  # delivered before it returned

    bus.release.clear()
    await bus.append(None, "topic:1", "topic.moved", {}, 0.0)
    # A read that never ends is not waited on for ever: it returns with it unfinished.
    await asyncio.wait_for(hub.catch_up("topic:1", at_most=0.2), 2.0)
    assert len(conn.sent) == 3
    bus.release.set()
    await bus.close()


async def test_a_socket_that_loses_a_channel_first_gets_what_came_with_the_change() -> None:
    """The endpoint's re-check: the topic moved out of reach, the event saying so is on its
    channel's log but its wake-up is slow; the socket gets the event, then `forbidden`."""
    bus = SlowBus("topic:1")
    bus.release.set()
    allowed = {"topic:1"}

    async def authorize(principal: str, channel: str) -> str | None:
        return None if channel in allowed else "forbidden"

    async def refresh(principal: str) -> str | None:
        return principal

    async def nobody(websocket: Any) -> str | None:
        return None

    endpoint: LiveEndpoint[str] = LiveEndpoint(
        bus,
        nobody,
        authorize,
        lambda principal: None,
        refresh=refresh,
        account_of=lambda principal: (),
    )
    await endpoint.start()
    try:
        conn = Connection()
        sock = socket_on(conn)
        await endpoint.hub.subscribe(sock, "topic:1", None)
        bus.release.clear()  # reading topic:1's log now takes a while ...
        await bus.append(None, "topic:1", "topic.moved", {}, 0.0)
        allowed.clear()
        await settle()
        checking = asyncio.ensure_future(endpoint._revalidate(sock))
        await asyncio.sleep(0.05)
        bus.release.set()  # ... and then ends
        await asyncio.wait_for(checking, 2.0)
        await sock.flush(1.0)
        frames = [json.loads(f) for f in conn.sent]
        assert [f.get("kind") or f.get("code") for f in frames[1:]] == ["topic.moved", "forbidden"]
    finally:
        await endpoint.close()


# --- a real server -------------------------------------------------------------------------


async def test_frames_reach_a_fast_and_a_slow_reader_in_order_and_complete(
    server, arrange, db
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Fast and slow", "first")
    channel = f"topic:{written.topic_id}"
    endpoint = server.app.state.live.endpoint
    fast = Live(await websockets.connect(ws_url(server.base_url), max_size=None))
    await fast.subscribe(channel)
    # The slow reader stops reading for a while: a small receive buffer, a client that
    # buffers one message, and no recv() until every event is written.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    slow = Live(await websockets.connect(ws_url(server.base_url), sock=raw, max_queue=1))
    await slow.subscribe(channel)
    # More than the kernel's buffers hold (4 MB here), fewer frames than a queue holds (256):
    # the slow reader must fall behind, and must not be closed for it.
    count, pad = 220, "x" * 40_000
    got_fast: list[int] = []

    async def read(reader: Live, got: list[int]) -> None:
        while len(got) < count:
            frame = json.loads(await asyncio.wait_for(reader.ws.recv(), 30))
            if frame["type"] == "event":
                got.append(frame["data"]["n"])

    reading = asyncio.ensure_future(read(fast, got_fast))
    behind = False
    try:
        for n in range(count):
            async with db.transaction() as conn:
                await arrange.forum.events.append(
                    conn, channel, "test.big", {"n": n, "pad": pad}, 0.0
                )
            if n % 10 == 9:
                deadline = time.monotonic() + 30
                while len(got_fast) <= n - 10:
                    assert time.monotonic() < deadline and not reading.done()
                    await asyncio.sleep(0.005)
                behind = behind or any(s._writer is not None for s in list(endpoint.sockets))
        await asyncio.wait_for(reading, 30)
        assert got_fast == list(range(count))
        assert behind, "the slow reader never fell behind: the test proves nothing"
        got_slow: list[int] = []
        await read(slow, got_slow)  # now it reads, everything, in order
        assert got_slow == list(range(count))
        # Caught up: its writer task is gone, and the next event is written directly again.
        deadline = time.monotonic() + 10
        while any(s._writer is not None for s in list(endpoint.sockets)):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        async with db.transaction() as conn:
            await arrange.forum.events.append(conn, channel, "test.big", {"n": count}, 0.0)
        for reader in (fast, slow):
            frame = await reader.until(lambda f: f["type"] == "event")
            assert frame["data"]["n"] == count
    finally:
        reading.cancel()
        await fast.ws.close()
        await slow.ws.close()


async def test_readers_that_keep_up_are_written_to_without_a_queue_or_task(
    server, arrange, db, monkeypatch
) -> None:
    # The server's websocket protocol writes a frame without suspending while the connection
    # is writable (forum.app.SERVER_OPTIONS pins websockets-sansio, which does, and which
    # waits before writing, never after, when it is not): no frame needs a queue or a task.
    queued: list[int] = []
    write_queued = Socket._write_queued

    async def counted(sock: Socket[Any]) -> None:
        queued.append(sock.id)
        await write_queued(sock)

    monkeypatch.setattr(Socket, "_write_queued", counted)
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Keeping up", "first")
    channel = f"topic:{written.topic_id}"
    readers = [Live(await websockets.connect(ws_url(server.base_url))) for _ in range(20)]
    try:
        for reader in readers:
            await reader.subscribe(channel)
        for n in range(10):
            async with db.transaction() as conn:
                await arrange.forum.events.append(conn, channel, "test.small", {"n": n}, 0.0)
        for reader in readers:
            while len(reader.events(channel)) < 10:
                await reader.until(lambda f: f["type"] == "event")
            assert [e["data"]["n"] for e in reader.events(channel)] == list(range(10))
        assert queued == []
    finally:
        for reader in readers:
            await reader.ws.close()


async def test_when_a_group_turns_private_everyone_is_checked_again(server, arrange, db) -> None:
    member = await arrange.user()
    group = await arrange.group(members=(member,))
    written = await arrange.topic(group, member, "Soon private", "x")
    channel = f"topic:{written.topic_id}"
    async with (
        live(server.base_url) as anonymous,
        live(server.base_url, await key_headers(db, member)) as inside,
    ):
        for c in (anonymous, inside):
            assert (await c.subscribe(channel))["type"] == "subscribed"
        await db.execute(
            "UPDATE groups SET visibility = 'private' WHERE id = :id", {"id": group.id}
        )
        async with db.transaction() as conn:
            await arrange.forum.events.append(
                conn, "access", "access.changed", {"everyone": True, "group_id": group.id}, 0.0
            )
        frame = await anonymous.until(lambda f: f["type"] == "error", wait=5)
        assert frame["code"] == "forbidden" and frame["channel"] == channel
        await arrange.reply(written.topic_id, member, "for members now")
        frame = await inside.until(lambda f: f["type"] == "event", wait=10)
        assert frame["data"]["post_number"] == 2
        await anonymous.send({"type": "ping"})
        assert (await anonymous.until(lambda f: f["type"] in ("pong", "event")))["type"] == "pong"


async def test_hint_listeners_hear_channels_without_sockets(server, arrange, db) -> None:
    endpoint = server.app.state.live.endpoint
    heard: list[tuple[str | None, int]] = []  # appended on the server's own thread

    def listener(channel: str | None, event_id: int) -> None:
        heard.append((channel, event_id))

    endpoint.on_hint_listeners.append(listener)
    try:
        author = await arrange.user()
        group = await arrange.group()
        written = await arrange.topic(group, author, "Nobody watching", "x")
        await arrange.reply(written.topic_id, author, "still nobody")
        await until(lambda: (f"topic:{written.topic_id}", 2) in heard)
        bus = server.app.state.live.live.bus
        if isinstance(bus, PostgresBus):
            # The LISTEN connection lost: hints may have been missed, the listeners hear so.
            pid = bus.listener_pid
            assert await db.fetch_val("SELECT pg_terminate_backend(:pid)", {"pid": pid})
            await until(lambda: (None, 0) in heard)
    finally:
        endpoint.on_hint_listeners.remove(listener)


async def until(condition: Callable[[], Any], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.01)
