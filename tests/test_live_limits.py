"""The live channel under pressure: frames too large refused by the server before they are
buffered, sockets limited per account and per address, presence and subscribe floods slowed
then closed, a reader far behind replayed at its own pace, and a channel whose head could not
be read tried again rather than wedged. SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from realtime.bus import Bus
from tests.conftest import unique
from tests.test_live import key_headers, live, ws_url


async def closed_code(c: Any, wait: float = 10) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await c.until(lambda f: False, wait=wait)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_a_frame_over_64_kb_is_refused_by_the_server_before_it_is_buffered(
    server,
) -> None:
    async with live(server.base_url, max_size=None) as c:
        await c.ws.send('{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
        assert await closed_code(c) == 1009  # message too big
    async with live(server.base_url, max_size=None) as c:  # the server is none the worse
        await c.send('{"type": "ping", "pad": "' + "x" * 60_000 + '"}')
        assert (await c.next())["type"] == "pong"


async def test_one_account_may_open_only_so_many_sockets(fresh) -> None:
    made = await fresh(live_sockets_per_account=3)
    member = await made.arrange.user()
    headers = await key_headers(made.db, member)
    url = ws_url(made.server.base_url)
    open_ = [await websockets.connect(url, additional_headers=headers) for _ in range(3)]
    try:
        extra = await websockets.connect(url, additional_headers=headers)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(extra.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        await open_.pop().close()
        await asyncio.sleep(0.2)
        again = await websockets.connect(url, additional_headers=headers)
        await again.send('{"type": "ping"}')
        assert json.loads(await asyncio.wait_for(again.recv(), 10))["type"] == "pong"
        open_.append(again)
    finally:
        for ws in open_:
            await ws.close()


async def test_one_address_may_open_only_so_many_sockets(fresh) -> None:
    made = await fresh(live_sockets_per_address=4)
    url = ws_url(made.server.base_url)
    open_ = [await websockets.connect(url) for _ in range(4)]
    try:
        extra = await websockets.connect(url)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(extra.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    finally:
        for ws in open_:
            await ws.close()


async def test_a_presence_flood_is_slowed_then_closed_and_readers_barely_notice(
    server, arrange, db
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, unique("Flood"), "x")
    channel = f"topic:{written.topic_id}"
    async with (
        live(server.base_url) as reader,
        live(server.base_url, await key_headers(db, author)) as flood,
    ):
        await reader.subscribe(channel)
        await flood.subscribe(channel)
        states = ["viewing", "replying"]
        with pytest.raises(ConnectionClosed) as closed:
            for n in range(5000):
                await flood.send({"type": "presence", "channel": channel, "state": states[n % 2]})
            await flood.until(lambda f: False, wait=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        limited = [f for f in flood.frames if f.get("code") == "rate_limited"]
        assert limited
        await asyncio.sleep(0.5)
        with pytest.raises(TimeoutError):
            await reader.until(lambda f: False, wait=0.5)
        presence = [f for f in reader.frames if f["type"] == "presence"]
        assert len(presence) <= 30  # the burst (each echoed once by the bus), not thousands


async def test_a_subscribe_flood_is_slowed(server, arrange) -> None:
    async with live(server.base_url) as c:
        for _ in range(200):
            await c.send({"type": "subscribe", "channel": "latest"})
        with pytest.raises(ConnectionClosed):
            await c.until(lambda f: False, wait=10)
        assert any(f.get("code") == "rate_limited" for f in c.frames)
        assert sum(f["type"] == "subscribed" for f in c.frames) <= 70


async def test_a_reader_far_behind_catches_up_at_its_own_pace(fresh) -> None:
    made = await fresh(live_queue_size=16)
    author = await made.arrange.user()
    group = await made.arrange.group()
    written = await made.arrange.topic(group, author, "Busy", "first")
    for n in range(300):
        await made.arrange.reply(written.topic_id, author, f"reply {n}")
    channel = f"topic:{written.topic_id}"
    async with live(made.server.base_url) as c:
        await c.send({"type": "subscribe", "channel": channel, "since": 1})
        subscribed = await c.until(lambda f: f["type"] in ("subscribed", "resync"), wait=30)
        assert subscribed["type"] == "subscribed" and subscribed["last_id"] == 301
        ids = [e["id"] for e in c.events(channel)]
        assert ids == list(range(2, 302))  # all 300, in order, once, never closed 4008
        await made.arrange.reply(written.topic_id, author, "and one more")
        frame = await c.until(lambda f: f["type"] == "event")
        assert frame["id"] == 302


async def test_a_channel_whose_head_could_not_be_read_is_not_wedged(
    server, arrange, monkeypatch: pytest.MonkeyPatch
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, unique("Wedge"), "x")
    channel = f"topic:{written.topic_id}"
    bus: Bus = server.app.state.live.live.bus
    real_head = bus.head
    failures = {"left": 1}

    async def flaky_head(name: str) -> int:
        if name == channel and failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("the database restarted")
        return await real_head(name)

    monkeypatch.setattr(bus, "head", flaky_head)
    async with live(server.base_url) as c:
        refused = await c.subscribe(channel)
        assert refused["type"] == "error" and refused["code"] == "unavailable"
        assert (await c.subscribe(channel))["type"] == "subscribed"
        await arrange.reply(written.topic_id, author, "after the fault")
        frame = await c.until(lambda f: f["type"] == "event", wait=10)
        assert "after the fault" in frame["data"]["html"]
