"""Presence across nodes: one heartbeat per node per interval however many sockets it holds,
entries that expire per node, and messages lost on the way healed by a snapshot.

Most tests run several nodes' `Presence` over an in-process network that delivers every
broadcast to every node (as the postgres and redis buses do), counts them, and can lose them;
the last ones run over the real network backends (PostgreSQL NOTIFY, Redis pub/sub)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from realtime.backends import MAX_BROADCAST_BYTES, decode_broadcast, encode_broadcast
from realtime.backends.memory import MemoryBus
from realtime.presence import TOPIC, Presence
from tests.realtime.conftest import NETWORK_KINDS, Cluster


class Net:
    """Every broadcast of any node reaches every node, this one included; each is recorded
    (payload and size) and `lose(payload)` may drop it on the way."""

    def __init__(self) -> None:
        self.nodes: list[Presence] = []
        self.sent: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.lose: Callable[[dict[str, Any]], bool] = lambda payload: False


class NetBus(MemoryBus):
    def __init__(self, net: Net) -> None:
        super().__init__()
        self.net = net

    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        text = encode_broadcast(topic, payload)  # the size limit every backend keeps
        self.net.sent.append(payload)
        self.net.sizes.append(len(text.encode()))
        if self.net.lose(payload):
            return
        loop = asyncio.get_running_loop()
        for node in list(self.net.nodes):
            loop.call_soon(node.on_broadcast, *decode_broadcast(text))


class Seen:
    """The latest summary on_change gave for each channel."""

    def __init__(self) -> None:
        self.summaries: dict[str, tuple[list[dict[str, str]], int]] = {}
        self.calls = 0

    def __call__(self, channel: str, users: list[dict[str, str]], reading: int) -> None:
        self.summaries[channel] = (users, reading)
        self.calls += 1

    def reading(self, channel: str) -> int:
        return self.summaries.get(channel, ([], 0))[1]


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> float:
    """Wait until `condition()`; return how long that took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "never happened"
        await asyncio.sleep(0.005)
    return time.monotonic() - start


@pytest_asyncio.fixture
async def net() -> AsyncIterator[Net]:
    made = Net()
    yield made
    for node in made.nodes:
        await node.close()


async def node_on(net: Net, ttl: float = 5.0, heartbeat: float = 0.1) -> tuple[Presence, Seen]:
    seen = Seen()
    presence = Presence(NetBus(net), seen, ttl=ttl, heartbeat=heartbeat)
    net.nodes.append(presence)
    await presence.start()
    return presence, seen


def crash(net: Net, node: Presence) -> None:
    """The node stops without a word: its tasks end, and nothing it sends arrives."""
    assert node._task is not None
    node._task.cancel()
    net.nodes.remove(node)
    before = net.lose
    net.lose = lambda payload: payload["node"] == node.node or before(payload)


async def test_one_heartbeat_per_node_per_interval_however_many_sockets(net: Net) -> None:
    heartbeat = 0.1
    a, _ = await node_on(net, heartbeat=heartbeat)
    b, _ = await node_on(net, heartbeat=heartbeat)
    c, seen_c = await node_on(net, heartbeat=heartbeat)
    for conn in range(2000):
        await a.set(f"topic:{conn % 20}", conn, f"user{conn}", "viewing")
    for conn in range(2000, 3000):
        await b.set(f"topic:{conn % 20}", conn, None, "viewing")
    await until(lambda: sum(seen_c.reading(f"topic:{n}") for n in range(20)) == 3000)
    # The burst went out in a few messages of many changes each, each under the bus's limit.
    changes = [p for p in net.sent if p["op"] == "set"]
    assert len(changes) < 30
    assert max(net.sizes) <= MAX_BROADCAST_BYTES

    net.sent.clear()
    intervals = 10
    await asyncio.sleep(heartbeat * intervals)
    by_node: dict[str, list[str]] = {}
    for payload in net.sent:
        by_node.setdefault(payload["node"], []).append(payload["op"])
    assert set(by_node) == {a.node, b.node, c.node}
    for ops in by_node.values():
        assert set(ops) == {"beat"}  # nothing per socket, nothing asked again
        assert intervals // 2 <= len(ops) <= intervals + 1  # fewer only on a busy machine
    assert max(net.sizes[-3:]) < 200  # a heartbeat is small
    # ... and it keeps every node's entries alive everywhere.
    assert sum(seen_c.reading(f"topic:{n}") for n in range(20)) == 3000
    assert c.summary("topic:1")[1] == 150


async def test_changes_are_announced_as_they_happen(net: Net) -> None:
    a, _ = await node_on(net, heartbeat=10.0)
    _, seen_b = await node_on(net, heartbeat=10.0)
    await a.set("topic:1", 1, "ana", "viewing")
    await until(
        lambda: seen_b.summaries.get("topic:1") == ([{"username": "ana", "state": "viewing"}], 1)
    )
    await a.set("topic:1", 1, "ana", "replying")
    await until(
        lambda: seen_b.summaries["topic:1"][0] == [{"username": "ana", "state": "replying"}]
    )
    await a.set("topic:1", 1, None, "left")
    await until(lambda: seen_b.reading("topic:1") == 0)
    await a.set("topic:2", 7, "ana", "viewing")
    await a.set("topic:3", 7, "ana", "viewing")
    await until(lambda: seen_b.reading("topic:2") == 1 and seen_b.reading("topic:3") == 1)
    await a.leave_all(7)  # the socket closed: every channel it was on
    await until(lambda: seen_b.reading("topic:2") == 0 and seen_b.reading("topic:3") == 0)


async def test_a_node_that_stops_drops_out_within_ttl(net: Net) -> None:
    ttl = 0.6
    a, _ = await node_on(net, ttl=ttl, heartbeat=0.15)
    b, seen_b = await node_on(net, ttl=ttl, heartbeat=0.15)
    for conn in range(50):
        await a.set("topic:1", conn, None, "viewing")
    await b.set("topic:1", 99, "ben", "viewing")
    await until(lambda: seen_b.reading("topic:1") == 51)
    await asyncio.sleep(ttl * 1.5)  # beats keep it there past ttl
    assert seen_b.reading("topic:1") == 51
    crash(net, a)
    took = await until(lambda: seen_b.reading("topic:1") == 1, seconds=ttl * 3)
    assert took <= ttl + 0.2  # the margin: the event loop's own delays on a busy machine
    assert b.summary("topic:1") == ([{"username": "ben", "state": "viewing"}], 1)


async def test_a_node_that_closes_drops_out_at_once(net: Net) -> None:
    a, _ = await node_on(net, ttl=30.0, heartbeat=10.0)
    _, seen_b = await node_on(net, ttl=30.0, heartbeat=10.0)
    for conn in range(5):
        await a.set("topic:1", conn, None, "viewing")
    await until(lambda: seen_b.reading("topic:1") == 5)
    await a.close()
    net.nodes.remove(a)
    assert await until(lambda: seen_b.reading("topic:1") == 0) < 1.0


async def test_a_lost_left_heals_at_the_next_heartbeat(net: Net) -> None:
    heartbeat = 0.2
    a, _ = await node_on(net, ttl=60.0, heartbeat=heartbeat)
    _, seen_b = await node_on(net, ttl=60.0, heartbeat=heartbeat)
    await a.set("topic:1", 1, "ana", "viewing")
    await a.set("topic:1", 2, "amy", "viewing")
    await until(lambda: seen_b.reading("topic:1") == 2)
    lost: list[dict[str, Any]] = []

    def lose_the_next_change(payload: dict[str, Any]) -> bool:
        if payload["op"] == "set" and not lost:
            lost.append(payload)
            return True
        return False

    net.lose = lose_the_next_change
    await a.set("topic:1", 2, None, "left")
    await asyncio.sleep(0.05)
    assert lost and seen_b.reading("topic:1") == 2  # b has not heard
    # The heartbeat's count no longer matches: b asks a for its entries, far within the ttl.
    took = await until(lambda: seen_b.reading("topic:1") == 1, seconds=heartbeat * 5)
    assert took < heartbeat * 3
    assert seen_b.summaries["topic:1"] == ([{"username": "ana", "state": "viewing"}], 1)
    assert any(p["op"] == "want" and p["of"] == a.node for p in net.sent)


async def test_a_lost_change_seen_as_a_gap_heals_before_any_heartbeat(net: Net) -> None:
    a, _ = await node_on(net, ttl=60.0, heartbeat=30.0)
    _, seen_b = await node_on(net, ttl=60.0, heartbeat=30.0)
    await a.set("topic:1", 1, "ana", "viewing")
    await until(lambda: seen_b.reading("topic:1") == 1)
    net.lose = lambda payload: payload["op"] == "set" and payload["entries"][0][1] == 1
    await a.set("topic:1", 1, None, "left")  # lost
    await asyncio.sleep(0.05)
    net.lose = lambda payload: False
    await a.set("topic:2", 5, "amy", "viewing")  # arrives with a number skipped
    await until(lambda: seen_b.reading("topic:1") == 0 and seen_b.reading("topic:2") == 1)


async def test_a_node_that_starts_late_gets_every_entry_in_parts(net: Net) -> None:
    a, _ = await node_on(net, heartbeat=30.0)
    long_name = "n" * 60
    for conn in range(400):
        await a.set(f"topic:{conn % 7}", conn, f"{long_name}{conn}", "replying")
    await asyncio.sleep(0.05)
    net.sent.clear()
    late, seen_late = await node_on(net, heartbeat=30.0)  # long before any heartbeat
    await until(lambda: sum(seen_late.reading(f"topic:{n}") for n in range(7)) == 400)
    parts = [p for p in net.sent if p["op"] == "snap" and p["node"] == a.node]
    assert len(parts) >= 4 and {p["parts"] for p in parts} == {len(parts)}
    assert max(net.sizes) <= MAX_BROADCAST_BYTES
    assert late.summary("topic:3") == a.summary("topic:3")


async def test_a_lost_part_of_a_snapshot_is_asked_for_again(net: Net) -> None:
    heartbeat = 0.2
    a, _ = await node_on(net, heartbeat=heartbeat)
    for conn in range(300):
        await a.set("topic:1", conn, "x" * 60, "viewing")
    await asyncio.sleep(0.05)
    lost: list[int] = []

    def lose_one_part(payload: dict[str, Any]) -> bool:
        if payload["op"] == "snap" and payload["part"] == 1 and not lost:
            lost.append(1)
            return True
        return False

    net.lose = lose_one_part
    _, seen_b = await node_on(net, heartbeat=heartbeat)
    await until(lambda: bool(lost))
    await asyncio.sleep(0.05)
    assert seen_b.reading("topic:1") < 300  # the first part only, or nothing
    await until(lambda: seen_b.reading("topic:1") == 300, seconds=heartbeat * 6)


async def test_a_malformed_message_is_ignored(net: Net) -> None:
    a, _ = await node_on(net, heartbeat=30.0)
    await a.set("topic:1", 1, "ana", "viewing")
    for payload in (
        {},
        {"node": "x", "op": "set", "seq": 1, "entries": "nope"},
        {"node": "x", "op": "set", "seq": "one", "entries": []},
        {"node": "x", "op": "snap", "seq": 1, "snap": 1, "part": 0, "parts": 1, "entries": [[1]]},
        {"node": "x", "op": "beat"},
    ):
        a.on_broadcast(TOPIC, payload)
    assert a.summary("topic:1") == ([{"username": "ana", "state": "viewing"}], 1)


# --- over the real network backends --------------------------------------------------------


@pytest.mark.parametrize("kind", NETWORK_KINDS)
async def test_presence_across_real_nodes(cluster: Cluster) -> None:
    """Over PostgreSQL NOTIFY (8,000-byte payloads) and Redis: changes, a late node's
    snapshot in parts, one heartbeat per node, and a node that stops dropping out."""
    made: list[Presence] = []

    async def presence_node(ttl: float, heartbeat: float) -> tuple[Presence, Seen]:
        node = await cluster.node(start=False)
        seen = Seen()
        presence = Presence(node.bus, seen, ttl=ttl, heartbeat=heartbeat)
        await node.bus.start(lambda c, i: None, presence.on_broadcast, lambda: None)
        await presence.start()
        made.append(presence)
        return presence, seen

    try:
        a, _ = await presence_node(ttl=1.5, heartbeat=0.3)
        for conn in range(300):
            await a.set(f"topic:{conn % 3}", conn, "u" * 50 + str(conn), "viewing")
        _, seen_b = await presence_node(ttl=1.5, heartbeat=0.3)
        await until(lambda: sum(seen_b.reading(f"topic:{n}") for n in range(3)) == 300, 10)
        await a.set("topic:0", 0, None, "left")
        await until(lambda: seen_b.reading("topic:0") == 99)
        await asyncio.sleep(2.0)  # past the ttl: the heartbeats keep it
        assert seen_b.reading("topic:0") == 99
        assert a._task is not None
        a._task.cancel()  # a stops beating (as if it hung), without a goodbye
        took = await until(lambda: seen_b.reading("topic:0") == 0, 10)
        assert took <= 1.5 + 0.5
    finally:
        for presence in made:
            await presence.close()
