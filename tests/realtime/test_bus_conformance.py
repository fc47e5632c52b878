"""The Bus contract (realtime/bus.py), one suite run against every backend.

Each test takes `cluster` and runs once per kind (memory, sqlite, postgres, redis over a
PostgreSQL log, redis over a SQLite log); tests about transactions, other nodes or lost
connections narrow `kind` to the backends that have them. Warnings are errors here, so an
unclosed connection or a never-awaited coroutine fails the test that left it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import random
import statistics
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from forum.db import open_database
from realtime.backends import MAX_BROADCAST_BYTES, open_bus
from realtime.backends.memory import MemoryBus
from realtime.backends.postgres import PostgresBus
from realtime.backends.redis import RedisBus
from realtime.backends.sqlite import SqliteBus
from realtime.bus import TooOld
from tests.realtime.conftest import (
    DATABASE_KINDS,
    NETWORK_KINDS,
    REDIS_URL,
    Cluster,
    Node,
)

pytestmark = pytest.mark.filterwarnings("error")

# Longer than the SQLite poll interval (0.1 s): a hint that was going to arrive has by then.
SETTLE = 0.3


class Rollback(Exception):
    pass


async def append(
    node: Node, channel: str, data: dict[str, Any] | None = None, now: float | None = None
) -> int:
    """Append as the app's actions do: inside a transaction of the node's own database."""
    data = {} if data is None else data
    now = time.time() if now is None else now
    if node.db is None:
        return await node.bus.append(None, channel, "note", data, now)
    async with node.db.transaction() as conn:
        return await node.bus.append(conn, channel, "note", data, now)


async def ids(node: Node, channel: str, since: int = 0, limit: int = 1000) -> list[int]:
    return [event.id for event in await node.bus.backlog(channel, since, limit)]


# --- ids ------------------------------------------------------------------------------------


async def test_ids_start_at_one_and_are_gapless_per_channel(cluster: Cluster) -> None:
    node = await cluster.node()
    a, b = cluster.channel("a"), cluster.channel("b")
    got_a, got_b = [], []
    for _ in range(4):
        got_a.append(await append(node, a))
        got_a.append(await append(node, a))
        got_b.append(await append(node, b))
    assert got_a == [1, 2, 3, 4, 5, 6, 7, 8]
    assert got_b == [1, 2, 3, 4]  # independent of the other channel
    assert await node.bus.head(a) == 8
    assert await node.bus.head(b) == 4
    assert await node.bus.head(cluster.channel("never")) == 0


def has_hints(node: Any, channel: str, ids: set[int]) -> bool:
    return bool(node.seen.hinted(channel) >= ids)


def has_broadcasts(node: Any) -> bool:
    return bool(node.seen.broadcasts)


def has_first_hint(node: Any, channel: str, event_id: int) -> bool:
    return (channel, event_id) in node.seen.first_hint_at


@pytest.mark.parametrize("kind", DATABASE_KINDS)
async def test_append_without_a_transaction_commits_on_its_own(cluster: Cluster) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    assert await node.bus.append(None, channel, "note", {"n": 1}, time.time()) == 1
    assert await append(node, channel) == 2
    await node.seen.until(lambda: node.seen.hinted(channel) >= {1, 2})


async def test_concurrent_appends_stay_gapless_and_are_all_hinted(cluster: Cluster) -> None:
    first = await cluster.node()
    # Two nodes writing at once where the backend has more than one process.
    nodes = [first, await cluster.node()] if cluster.kind in DATABASE_KINDS else [first]
    channels = [cluster.channel("a"), cluster.channel("b")]
    writers, appends_each = 40, 5

    async def writer(w: int) -> list[tuple[str, int, dict[str, int]]]:
        made = []
        for k in range(appends_each):
            channel, data = channels[(w + k) % 2], {"w": w, "k": k}
            made.append((channel, await append(nodes[w % len(nodes)], channel, data), data))
        return made

    async with asyncio.timeout(60):  # a lock-up (say, a pool exhausted by writers) fails
        rows_by_writer = await asyncio.gather(*map(writer, range(writers)))
    made = [row for rows in rows_by_writer for row in rows]

    for channel in channels:
        mine = {event_id: data for c, event_id, data in made if c == channel}
        assert len(mine) == sum(1 for c, _, _ in made if c == channel)  # no id given twice
        assert sorted(mine) == list(range(1, len(mine) + 1))  # and none skipped
        events = await first.bus.backlog(channel, 0)
        assert [(e.id, e.data) for e in events] == sorted(mine.items())
        for node in nodes:
            await node.seen.until(functools.partial(has_hints, node, channel, set(mine)))


@pytest.mark.parametrize("kind", DATABASE_KINDS)
async def test_a_rolled_back_append_leaves_no_event_no_id_and_no_hint(cluster: Cluster) -> None:
    node = await cluster.node()
    assert node.db is not None
    channel = cluster.channel()
    assert await append(node, channel) == 1
    with pytest.raises(Rollback):
        async with node.db.transaction() as conn:
            assert await node.bus.append(conn, channel, "note", {"doomed": True}, time.time()) == 2
            raise Rollback
    await node.seen.until(lambda: 1 in node.seen.hinted(channel))
    await asyncio.sleep(SETTLE)
    assert node.seen.hinted(channel) == {1}
    assert await node.bus.head(channel) == 1
    assert await ids(node, channel) == [1]

    assert await append(node, channel, {"kept": True}) == 2  # the id was not consumed
    await node.seen.until(lambda: 2 in node.seen.hinted(channel))
    assert [e.data for e in await node.bus.backlog(channel, 1)] == [{"kept": True}]


async def test_appending_many_is_appending_each_in_turn(cluster: Cluster) -> None:
    node = await cluster.node()
    a, b, c = cluster.channel("a"), cluster.channel("b"), cluster.channel("c")
    assert await append(node, b) == 1
    one, two, now = {"post": 7, "text": "é"}, {"post": 8}, time.time()

    async def append_many(entries: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
        if node.db is None:
            return await node.bus.append_many(None, entries, now)
        async with node.db.transaction() as conn:
            return await node.bus.append_many(conn, entries, now)

    # One event on three channels, then two events (one channel twice: a second statement).
    assert await append_many([(a, "one", one), (b, "one", one), (c, "one", one)]) == [1, 2, 1]
    assert await append_many([(c, "two", two), (a, "two", two), (c, "one", one)]) == [2, 2, 3]
    for channel, expected in ((a, [1, 2]), (b, [1, 2]), (c, [1, 2, 3])):
        assert await ids(node, channel) == expected
        await node.seen.until(functools.partial(has_hints, node, channel, set(expected)))
    events = await node.bus.backlog(c, 0)
    assert [(e.kind, e.data) for e in events] == [("one", one), ("two", two), ("one", one)]
    assert events[0].created_at == pytest.approx(now)
    if node.db is not None:
        with pytest.raises(Rollback):
            async with node.db.transaction() as conn:
                await node.bus.append_many(conn, [(a, "doomed", one), (b, "doomed", one)], now)
                raise Rollback
        assert (await node.bus.head(a), await node.bus.head(b)) == (2, 2)  # nothing consumed
        assert await append_many([(a, "three", one)]) == [3]


# --- reading --------------------------------------------------------------------------------


async def test_backlog_returns_exactly_the_events_after_since_in_order(cluster: Cluster) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    now = time.time()
    for n in range(1, 11):
        await append(node, channel, {"n": n, "text": "ü ✓ <b>", "nested": {"list": [n]}}, now + n)

    events = await node.bus.backlog(channel, 3)
    assert [e.id for e in events] == list(range(4, 11))
    fourth = events[0]
    assert (fourth.channel, fourth.kind, fourth.created_at) == (channel, "note", now + 4)
    assert fourth.data == {"n": 4, "text": "ü ✓ <b>", "nested": {"list": [4]}}
    assert await ids(node, channel, 0) == list(range(1, 11))
    assert await ids(node, channel, 9) == [10]
    assert await node.bus.backlog(channel, 10) == []  # caught up
    assert await node.bus.backlog(cluster.channel("empty"), 0) == []


async def test_backlog_respects_limit(cluster: Cluster) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    for _ in range(6):
        await append(node, channel)
    assert await ids(node, channel, 0, limit=2) == [1, 2]
    assert await ids(node, channel, 2, limit=3) == [3, 4, 5]
    assert await ids(node, channel, 5, limit=3) == [6]


async def test_since_beyond_the_head_is_too_old(cluster: Cluster) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    await append(node, channel)
    await append(node, channel)
    with pytest.raises(TooOld):
        await node.bus.backlog(channel, 3)
    with pytest.raises(TooOld):  # a log that was reset under a client
        await node.bus.backlog(cluster.channel("empty"), 5)


# Trim tests append with made-up creation times, each test further in the past than the one
# before, so one test's trim never reaches another's events, whatever the order they run in.
_fake_epochs = itertools.count()


async def test_trim_deletes_old_events_keeps_heads_and_backlog_says_too_old(
    cluster: Cluster,
) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    base = 1_000_000.0 - 1000.0 * next(_fake_epochs)
    for n in range(10):
        await append(node, channel, {"n": n}, now=base + n)  # ids 1..10

    assert await node.bus.trim(base + 5) == 5  # ids 1..5
    for since in (0, 1, 4):
        with pytest.raises(TooOld):
            await node.bus.backlog(channel, since)
    assert await ids(node, channel, 5) == [6, 7, 8, 9, 10]
    assert await node.bus.head(channel) == 10

    assert await append(node, channel, now=base + 20) == 11  # heads are kept: no restart
    assert await node.bus.trim(base + 100) == 6  # all of them
    assert await node.bus.head(channel) == 11
    assert await node.bus.backlog(channel, 11) == []
    with pytest.raises(TooOld):
        await node.bus.backlog(channel, 10)
    with pytest.raises(TooOld):
        await node.bus.backlog(channel, 12)


# --- other nodes ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DATABASE_KINDS)
async def test_hints_reach_a_second_node_on_the_same_backend(cluster: Cluster) -> None:
    one, two = await cluster.node(), await cluster.node()
    channel = cluster.channel()
    assert await append(one, channel) == 1
    assert await append(two, channel) == 2
    for node in (one, two):
        await node.seen.until(functools.partial(has_hints, node, channel, {1, 2}))


async def test_a_broadcast_reaches_this_node(cluster: Cluster) -> None:
    node = await cluster.node()
    payload = {"channel": cluster.channel(), "users": [{"username": "ana", "state": "ü"}]}
    await node.bus.broadcast("presence", payload)
    await node.seen.until(lambda: bool(node.seen.broadcasts))
    assert node.seen.broadcasts == [("presence", payload)]


@pytest.mark.parametrize("kind", NETWORK_KINDS)
async def test_a_broadcast_reaches_every_node(cluster: Cluster) -> None:
    one, two = await cluster.node(), await cluster.node()
    await one.bus.broadcast("presence", {"n": 1})
    for node in (one, two):
        await node.seen.until(functools.partial(has_broadcasts, node))
        assert node.seen.broadcasts == [("presence", {"n": 1})]


async def test_an_oversized_broadcast_is_refused(cluster: Cluster) -> None:
    node = await cluster.node()
    with pytest.raises(ValueError, match="at most"):
        await node.bus.broadcast("presence", {"blob": "x" * MAX_BROADCAST_BYTES})
    await asyncio.sleep(SETTLE)
    assert node.seen.broadcasts == []


async def _kill_postgres_listener(node: Node) -> None:
    assert isinstance(node.bus, PostgresBus) and node.db is not None
    pid = node.bus.listener_pid
    assert pid is not None
    assert await node.db.fetch_val("SELECT pg_terminate_backend(:pid)", {"pid": pid})


async def _kill_redis_listener(node: Node) -> None:
    assert isinstance(node.bus, RedisBus)
    admin = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        clients = await admin.client_list()
        (client,) = [c for c in clients if c["name"] == node.bus.listener_name]
        assert await admin.client_kill_filter(_id=client["id"]) == 1
    finally:
        await admin.aclose()


KILL_LISTENER: dict[str, Callable[[Node], Awaitable[None]]] = {
    "postgres": _kill_postgres_listener,
    "redis+postgres": _kill_redis_listener,
    "redis+sqlite": _kill_redis_listener,
}


@pytest.mark.parametrize("kind", list(KILL_LISTENER))
async def test_catch_up_after_the_listener_connection_is_killed(cluster: Cluster) -> None:
    node = await cluster.node()
    channel = cluster.channel()
    assert await append(node, channel) == 1
    await node.seen.until(lambda: 1 in node.seen.hinted(channel))

    await KILL_LISTENER[cluster.kind](node)
    await node.seen.until(lambda: node.seen.catch_ups == 1, seconds=10)

    assert await append(node, channel) == 2  # hints resume on the new connection
    await node.seen.until(lambda: 2 in node.seen.hinted(channel))
    await node.bus.broadcast("presence", {"back": True})
    await node.seen.until(lambda: ("presence", {"back": True}) in node.seen.broadcasts)


# --- lifecycle --------------------------------------------------------------------------------


async def test_close_stops_cleanly(cluster: Cluster) -> None:
    before = asyncio.all_tasks()
    node = await cluster.node()
    channel = cluster.channel()
    await append(node, channel)
    await node.bus.broadcast("presence", {})
    await node.seen.until(lambda: 1 in node.seen.hinted(channel) and bool(node.seen.broadcasts))

    await node.bus.close()
    await node.bus.close()  # twice is harmless (the fixture closes it again)
    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()

    await append(node, channel)  # the log still works; this node just hears nothing more
    await asyncio.sleep(SETTLE)
    assert node.seen.hinted(channel) == {1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught] == []


# --- latency ----------------------------------------------------------------------------------


async def test_hint_latency(cluster: Cluster) -> None:
    """Commit -> hint, on the appending node and on another; printed (pytest -s) for the docs."""
    node = await cluster.node()
    other = await cluster.node() if cluster.kind in DATABASE_KINDS else None
    channel = cluster.channel()
    committed: dict[int, float] = {}
    for n in range(200):
        if node.db is None:
            event_id = await node.bus.append(None, channel, "note", {"n": n}, time.time())
            committed[event_id] = time.perf_counter()
        else:
            async with node.db.transaction() as conn:
                event_id = await node.bus.append(conn, channel, "note", {"n": n}, time.time())
                committed[event_id] = time.perf_counter()  # just before COMMIT is sent
        await node.seen.until(functools.partial(has_first_hint, node, channel, event_id))
        # Irregular spacing, so commits fall at every phase of the SQLite poll.
        await asyncio.sleep(random.uniform(0, 0.004))
    same = statistics.median(
        node.seen.first_hint_at[(channel, e)] - t for e, t in committed.items()
    )
    line = f"hint latency [{cluster.kind}]: same node median {same * 1000:.2f} ms"
    assert same < 0.05
    if other is not None:
        await other.seen.until(lambda: other.seen.hinted(channel) >= set(committed), seconds=10)
        cross = statistics.median(
            other.seen.first_hint_at[(channel, e)] - t for e, t in committed.items()
        )
        line += f", other node median {cross * 1000:.2f} ms"
        assert cross < 0.5
    print(line)


# --- choosing a backend -----------------------------------------------------------------------


class _PostgresShaped:
    dialect = "postgresql"


async def test_open_bus_chooses_by_scheme(tmp_path: Any) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        assert isinstance(await open_bus("memory://", None), MemoryBus)
        assert isinstance(await open_bus("", db), SqliteBus)
        assert isinstance(await open_bus(db.url, db), SqliteBus)
        for url in ("postgresql://127.0.0.1/forum", "postgres://127.0.0.1/forum"):
            assert isinstance(await open_bus(url, _PostgresShaped()), PostgresBus)  # type: ignore[arg-type]
        bus = await open_bus(f"{REDIS_URL}?prefix=forum7", db)
        assert isinstance(bus, RedisBus)
        assert (bus.events_channel, bus.broadcast_channel) == ("forum7:events", "forum7:broadcast")
        await bus.close()
    finally:
        await db.close()


async def test_open_bus_refuses_unknown_schemes_and_mismatched_databases(tmp_path: Any) -> None:
    db = await open_database(f"sqlite:///{tmp_path / 'bus.db'}")
    try:
        for url in ("mysql://h/db", "kafka://h", "nonsense"):
            with pytest.raises(ValueError, match="unknown bus scheme"):
                await open_bus(url, db)
        with pytest.raises(ValueError, match="PostgreSQL"):
            await open_bus("postgresql://127.0.0.1/forum", db)  # the log is in SQLite
        with pytest.raises(ValueError, match="pass it"):
            await open_bus("sqlite:///forum.db", None)
    finally:
        await db.close()


async def test_the_memory_bus_takes_no_transaction() -> None:
    with pytest.raises(ValueError, match="append\\(None"):
        await MemoryBus().append(object(), "c", "note", {}, time.time())  # type: ignore[arg-type]
