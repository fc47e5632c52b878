"""Live threads over a real uvicorn and the `websockets` client: delivery, resume, resync,
authorisation, bad frames, slow clients, presence, and fan-out across server processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from forum.actions.accounts import do_create_api_key
from forum.actions.drafts import PostEdit
from forum.actions.edits import do_edit_post
from tests.conftest import ServerThread, forum_over, forum_serve, settings_for

REDIS_URL = os.environ.get("FORUM_TEST_REDIS", "redis://127.0.0.1:6379/0")


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/live"


class Live:
    """A websocket client that reads frames into a list and waits for conditions."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def next(self, wait: float = 5) -> dict[str, Any]:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), wait))
        self.frames.append(frame)
        return dict(frame)

    async def until(self, test: Any, wait: float = 5) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while True:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            if test(frame):
                return frame

    async def subscribe(self, channel: str, since: int | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": channel}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.until(
            lambda f: f["type"] in ("subscribed", "error", "resync") and f.get("channel") == channel
        )

    def events(self, channel: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "event" and f["channel"] == channel]


@asynccontextmanager
async def live(
    base: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[Live]:
    async with websockets.connect(
        ws_url(base), additional_headers=headers or {}, open_timeout=10, **kwargs
    ) as ws:
        yield Live(ws)


async def key_headers(db: Any, user: Any) -> dict[str, str]:
    return {
        "Api-Key": await do_create_api_key(forum_over(db), user.username),
        "Api-Username": user.username,
    }


async def test_a_reply_reaches_every_open_page_of_the_topic(server, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Live one", "first")
    async with live(server.base_url) as a, live(server.base_url) as b:
        for c in (a, b):
            assert (await c.subscribe(f"topic:{written.topic_id}"))["type"] == "subscribed"
        reply = await arrange.reply(written.topic_id, author, "Hello, *live* readers")
        for c in (a, b):
            # How fast is measured by bench/fanout.py; here only that it arrives, complete.
            frame = await c.until(lambda f: f["type"] == "event", wait=10)
            assert frame["kind"] == "post.created"
            assert frame["data"]["post_number"] == reply.post_number == 2
            assert frame["data"]["username"] == author.username
            assert (
                "<em>live</em>" in frame["data"]["html"] and 'id="post-2"' in frame["data"]["html"]
            )


async def test_resume_after_a_disconnect_misses_nothing(server, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Resume", "first")
    channel = f"topic:{written.topic_id}"
    async with live(server.base_url) as c:
        subscribed = await c.subscribe(channel)
        last_id = subscribed["last_id"]
        assert last_id == 1
    for n in range(7):  # written while the reader is away
        await arrange.reply(written.topic_id, author, f"missed {n}")
    async with live(server.base_url) as c:
        subscribed = await c.subscribe(channel, since=last_id)
        replayed = c.events(channel)
        assert [e["id"] for e in replayed] == [2, 3, 4, 5, 6, 7, 8]
        assert [e["data"]["post_number"] for e in replayed] == [2, 3, 4, 5, 6, 7, 8]
        assert subscribed["last_id"] == 8
        await arrange.reply(written.topic_id, author, "live again")
        frame = await c.until(lambda f: f["type"] == "event")
        assert frame["id"] == 9  # no gap and no duplicate between replay and live
        assert len(c.events(channel)) == 8


async def test_a_since_older_than_the_log_keeps_asks_for_resync(server, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Old", "first")
    for _ in range(3):
        await arrange.reply(written.topic_id, author)
    channel = f"topic:{written.topic_id}"
    await db.execute("DELETE FROM events WHERE channel = :c AND id <= 2", {"c": channel})
    async with live(server.base_url) as c:
        assert (await c.subscribe(channel, since=1))["type"] == "resync"
        assert (await c.subscribe(channel, since=99))["type"] == "resync"  # beyond the head
        assert (await c.subscribe(channel, since=2))["type"] == "subscribed"
        assert [e["id"] for e in c.events(channel)] == [3, 4]


async def test_private_channels_are_refused_to_outsiders(server, arrange, db) -> None:
    member, outsider = await arrange.user(), await arrange.user()
    private = await arrange.group("private", members=(member,))
    written = await arrange.topic(private, member, "Private live", "secret")
    async with live(server.base_url, await key_headers(db, outsider)) as c:
        for channel in (
            f"topic:{written.topic_id}",
            f"group:{private.id}",
            f"user:{member.id}",
            "topic:999999",
        ):
            refused = await c.subscribe(channel)
            assert refused["type"] == "error" and refused["code"] == "forbidden", channel
    async with live(server.base_url) as anonymous:
        assert (await anonymous.subscribe(f"topic:{written.topic_id}"))["type"] == "error"
    async with live(server.base_url, await key_headers(db, member)) as c:
        assert (await c.subscribe(f"topic:{written.topic_id}"))["type"] == "subscribed"
        assert (await c.subscribe(f"user:{member.id}"))["type"] == "subscribed"


async def test_latest_shows_each_reader_only_groups_they_may_read(server, arrange, db) -> None:
    member, outsider = await arrange.user(), await arrange.user()
    private = await arrange.group("private", members=(member,))
    public = await arrange.group()
    async with (
        live(server.base_url, await key_headers(db, outsider)) as out,
        live(server.base_url, await key_headers(db, member)) as inside,
    ):
        for c in (out, inside):
            await c.subscribe("latest")
        hidden = await arrange.topic(private, member, "Private news", "x")
        shown = await arrange.topic(public, member, "Public news", "x")
        frame = await inside.until(lambda f: f.get("data", {}).get("topic_id") == shown.topic_id)
        assert frame["kind"] == "topic.created"
        assert any(
            f.get("data", {}).get("topic_id") == hidden.topic_id for f in inside.events("latest")
        )
        frame = await out.until(lambda f: f["type"] == "event")
        assert frame["data"]["topic_id"] == shown.topic_id  # the private one never came
        assert "Private news" not in json.dumps(out.frames)


async def test_leaving_a_private_group_ends_its_subscriptions(server, arrange, db, client) -> None:
    member = await arrange.user()
    private = await arrange.group("private", members=(member,))
    written = await arrange.topic(private, member, "Leaving", "x")
    browser = client()
    await browser.login(member)
    async with live(server.base_url, await key_headers(db, member)) as c:
        await c.subscribe(f"user:{member.id}")
        await c.subscribe(f"topic:{written.topic_id}")
        r = await browser.post_form(f"/g/{private.slug}/leave")
        assert r.status_code == 303
        frame = await c.until(lambda f: f["type"] == "error", wait=3)
        assert frame["code"] == "forbidden" and frame["channel"] == f"topic:{written.topic_id}"
        await c.send({"type": "ping"})
        assert (await c.until(lambda f: f["type"] in ("pong", "event")))["type"] == "pong"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "JSON object"),
        ('["a list"]', "JSON object"),
        ('{"type": "dance"}', "'type' must be"),
        ('{"type": "subscribe"}', "'channel' must be a string"),
        ('{"type": "subscribe", "channel": "topic:1", "since": "x"}', "'since'"),
        ('{"type": "subscribe", "channel": "Topic 1!"}', "is not a channel"),
        ('{"type": "presence", "channel": "topic:1", "state": "dancing"}', "'state'"),
        ('{"type": "presence", "channel": "topic:1", "state": "viewing"}', "subscribe to a"),
        ("[" * 60_000, "JSON object"),  # deeper than the parser recurses
        ('{"type": "subscribe", "channel": "topic:1", "since": ' + "9" * 5000 + "}", "JSON"),
        ('{"type": "subscribe", "channel": "topic:1", "since": 9223372036854775808}', "'since'"),
    ],
)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(server, frame, message) -> None:
    async with live(server.base_url, max_size=None) as c:
        await c.send(frame)
        error = await c.next()
        assert error["type"] == "error" and error["code"] == "bad_request"
        assert message in error["message"]
        await c.send({"type": "ping"})
        assert (await c.next())["type"] == "pong"


async def test_a_client_that_keeps_sending_bad_frames_is_closed(server) -> None:
    async with live(server.base_url) as c:
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(20):
                await c.send("nonsense")
                await c.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_wrong_api_key_is_refused(server) -> None:
    with pytest.raises(websockets.InvalidStatus):
        async with live(server.base_url, {"Api-Key": "nope", "Api-Username": "x"}):
            pass


@pytest.fixture
def small_queue_server(database_url: str):
    thread = ServerThread(settings_for(database_url, live_queue_size=16))
    thread.start()
    yield thread
    thread.stop()


async def test_a_slow_client_is_closed_and_never_slows_the_others(
    small_queue_server, arrange, db
) -> None:
    server = small_queue_server
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Slow", "first")
    channel = f"topic:{written.topic_id}"
    # A reader that never reads: a tiny receive buffer, and we never call recv().
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", server.port))
    slow = await websockets.connect(ws_url(server.base_url), sock=raw, max_queue=1)
    await slow.send(json.dumps({"type": "subscribe", "channel": channel}))
    readers = []
    try:
        for _ in range(50):
            reader = Live(await websockets.connect(ws_url(server.base_url), max_size=None))
            await reader.subscribe(channel)
            readers.append(reader)
        # Large events, so the slow reader's kernel buffers fill after a few megabytes and
        # its queue (16 frames here) overflows; everyone else must still get every one. They
        # are written in small steps, as a busy topic would, so that a reader that keeps up
        # never has more than a step's worth waiting.
        count, step, pad = 150, 5, "x" * 40_000
        seen: list[list[int]] = [[] for _ in readers]

        async def read_all(reader: Live, got: list[int]) -> None:
            while len(got) < count:
                frame = json.loads(await asyncio.wait_for(reader.ws.recv(), 30))
                if frame["type"] == "event":
                    got.append(frame["data"]["n"])

        reading = [
            asyncio.ensure_future(read_all(r, got)) for r, got in zip(readers, seen, strict=True)
        ]
        for start in range(0, count, step):
            for n in range(start, start + step):
                async with db.transaction() as conn:
                    await arrange.forum.events.append(
                        conn, channel, "test.big", {"n": n, "pad": pad}, 0.0
                    )
            deadline = time.monotonic() + 30
            while min(len(got) for got in seen) < start + step:
                assert time.monotonic() < deadline, "the readers stopped receiving"
                failed = [t for t in reading if t.done() and t.exception()]
                assert not failed, failed[0].exception()
                await asyncio.sleep(0.005)
        await asyncio.gather(*reading)
        assert all(got == list(range(count)) for got in seen)
        deadline = time.monotonic() + 15
        while slow.close_code is None and time.monotonic() < deadline:
            # Read what was buffered, so the close frame behind it can be seen.
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                await asyncio.wait_for(slow.recv(), 0.2)
        assert slow.close_code == 4008
    finally:
        await slow.close()
        for reader in readers:
            await reader.ws.close()


async def test_presence_shows_who_is_reading_and_replying(server, arrange, db) -> None:
    ana, ben = await arrange.user(), await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Presence", "x")
    channel = f"topic:{written.topic_id}"
    async with live(server.base_url, await key_headers(db, ana)) as a:
        await a.subscribe(channel)
        await a.send({"type": "presence", "channel": channel, "state": "viewing"})
        async with live(server.base_url, await key_headers(db, ben)) as b:
            await b.subscribe(channel)
            await b.send({"type": "presence", "channel": channel, "state": "replying"})
            frame = await a.until(lambda f: f["type"] == "presence" and f["reading"] == 2)
            assert {"username": ben.username, "state": "replying"} in frame["users"]
            assert {"username": ana.username, "state": "viewing"} in frame["users"]
        frame = await a.until(lambda f: f["type"] == "presence" and f["reading"] == 1)
        assert frame["users"] == [{"username": ana.username, "state": "viewing"}]


async def test_edits_arrive_in_place(server, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Edited live", "before")
    async with live(server.base_url) as c:
        await c.subscribe(f"topic:{written.topic_id}")
        await do_edit_post(arrange.forum, author, written.post_id, PostEdit("after **edit**", 1))
        frame = await c.until(lambda f: f["type"] == "event")
        assert frame["kind"] == "post.edited" and frame["data"]["version"] == 2
        assert "<strong>edit</strong>" in frame["data"]["html"]


# --- several server processes on one database ----------------------------------------------


@pytest.mark.parametrize("bus", ["database", "redis"])
async def test_a_post_on_one_node_reaches_a_reader_on_another(server, arrange, db, bus) -> None:
    if bus == "redis":
        try:
            import redis

            redis.Redis.from_url(REDIS_URL).ping()
        except Exception as error:
            from tests.conftest import unavailable

            unavailable(f"Redis at {REDIS_URL} ({error})")
    # Channels of its own on Redis: runs in parallel (pytest -n 2) share one Redis.
    bus_url = f"{REDIS_URL}?prefix=t{secrets.token_hex(4)}" if bus == "redis" else ""
    ana, ben = await arrange.user(), await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Across nodes", "x")
    channel = f"topic:{written.topic_id}"
    headers_ana, headers_ben = await key_headers(db, ana), await key_headers(db, ben)
    url = server.settings.database_url
    with forum_serve(url, bus_url) as node_a, forum_serve(url, bus_url) as node_b:
        async with live(node_b, headers_ben) as reader, live(node_a, headers_ana) as other:
            await reader.subscribe(channel)
            await other.subscribe(channel)
            # Presence crosses nodes too (the database bus on SQLite is one process only).
            await other.send({"type": "presence", "channel": channel, "state": "replying"})
            if not url.startswith("sqlite") or bus == "redis":
                frame = await reader.until(lambda f: f["type"] == "presence")
                assert {"username": ana.username, "state": "replying"} in frame["users"]
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{node_a}/posts.json",
                    headers=headers_ana,
                    json={"topic_id": written.topic_id, "raw": "from node A"},
                )
                assert r.status_code == 200
            frame = await reader.until(lambda f: f["type"] == "event", wait=10)
            assert frame["data"]["post_number"] == 2 and "from node A" in frame["data"]["html"]
        # node B's reader left: a node that dies loses nothing; reconnect elsewhere and resume.
        await arrange.reply(written.topic_id, ana, "while away")
        async with live(node_a, headers_ben) as again:
            await again.subscribe(channel, since=2)
            assert [e["data"]["post_number"] for e in again.events(channel)] == [3]


async def test_a_session_cookie_from_another_site_is_refused(server, client, arrange) -> None:
    user = await arrange.user()
    c = client()
    await c.login(user)
    cookie = f"forum_session={c.http.cookies.get('forum_session')}"
    host = server.base_url.removeprefix("http://")
    with pytest.raises(websockets.InvalidStatus):
        async with live(server.base_url, {"Cookie": cookie, "Origin": "https://evil.example"}):
            pass
    async with live(server.base_url, {"Cookie": cookie, "Origin": f"http://{host}"}) as ok:
        assert (await ok.subscribe(f"user:{user.id}"))["type"] == "subscribed"


async def test_readers_who_subscribe_at_once_all_get_events(server, arrange) -> None:
    # A reconnect storm after a deploy: many sockets join a channel nobody here serves yet.
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Storm", "first")
    channel = f"topic:{written.topic_id}"
    clients = [Live(await websockets.connect(ws_url(server.base_url))) for _ in range(30)]
    try:
        await asyncio.gather(*(c.subscribe(channel) for c in clients))
        await arrange.reply(written.topic_id, author, "to everyone")
        frames = await asyncio.gather(
            *(c.until(lambda f: f["type"] == "event", wait=10) for c in clients)
        )
        assert all(f["data"]["post_number"] == 2 for f in frames)
    finally:
        for c in clients:
            await c.ws.close()
