"""Fixtures for the bus conformance suite: one cluster of bus nodes per test, per backend.

`kind` names the backend (and, for Redis, the database holding the log). The databases are
made once per session, lazily, each migrated by forum.db like the app's; every test works in
channels of its own (`cluster.channel(...)`) and on Redis under a prefix of its own, so tests
neither see each other's events nor depend on their order.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from forum.db import Database, migrate, open_database
from realtime.backends import open_bus
from realtime.bus import Bus
from tests.conftest import create_pg_database, drop_pg_database, unavailable

REDIS_URL = os.environ.get("FORUM_TEST_REDIS", "redis://127.0.0.1:6379/0")

# kind -> (the dialect of the database holding the log, None for memory; wake-ups over Redis?)
STANDS_ON: dict[str, tuple[str | None, bool]] = {
    "memory": (None, False),
    "sqlite": ("sqlite", False),
    "postgres": ("postgresql", False),
    "redis+postgres": ("postgresql", True),
    "redis+sqlite": ("sqlite", True),
}
KINDS = list(STANDS_ON)
DATABASE_KINDS = [k for k, (dialect, _) in STANDS_ON.items() if dialect is not None]
# Broadcasts reach other nodes only over a network backend (see realtime/backends/__init__.py).
NETWORK_KINDS = ["postgres", "redis+postgres", "redis+sqlite"]


class Recorder:
    """A node's callbacks: everything the bus delivered, with arrival times, awaitable."""

    def __init__(self) -> None:
        self.hints: list[tuple[str, int]] = []
        self.first_hint_at: dict[tuple[str, int], float] = {}
        self.broadcasts: list[tuple[str, dict[str, Any]]] = []
        self.catch_ups = 0
        self._changed = asyncio.Event()

    def on_hint(self, channel: str, event_id: int) -> None:
        self.first_hint_at.setdefault((channel, event_id), time.perf_counter())
        self.hints.append((channel, event_id))
        self._changed.set()

    def on_broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        self.broadcasts.append((topic, payload))
        self._changed.set()

    def on_catch_up(self) -> None:
        self.catch_ups += 1
        self._changed.set()

    def hinted(self, channel: str) -> set[int]:
        return {event_id for c, event_id in self.hints if c == channel}

    async def until(self, condition: Callable[[], bool], seconds: float = 5.0) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Node:
    """One bus, as one app process would hold it, with its own database connections."""

    bus: Bus
    db: Database | None
    seen: Recorder


@dataclass
class Backing:
    """What a kind of backend stands on; made once per session."""

    database_url: str | None  # None: the memory bus keeps its own log
    redis_url: str | None = None


class Backings:
    """Databases made on first use: a SQLite file, a fresh migrated PostgreSQL database."""

    def __init__(self, tmp: Any) -> None:
        self._tmp = tmp
        self._made: dict[str, str] = {}
        self.pg_urls: list[str] = []
        self._lock = asyncio.Lock()

    async def _database(self, dialect: str) -> str:
        async with self._lock:
            if dialect not in self._made:
                if dialect == "sqlite":
                    url = f"sqlite:///{self._tmp.mktemp('bus') / 'log.db'}"
                else:
                    url = await create_pg_database()
                    self.pg_urls.append(url)
                db = await open_database(url)
                try:
                    await migrate(db)
                finally:
                    await db.close()
                self._made[dialect] = url
            return self._made[dialect]

    async def _redis(self) -> str:
        client = Redis.from_url(REDIS_URL)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            unavailable(f"Redis at {REDIS_URL} ({error})")
        finally:
            await client.aclose()
        return REDIS_URL

    async def get(self, kind: str) -> Backing:
        dialect, over_redis = STANDS_ON[kind]
        database_url = None if dialect is None else await self._database(dialect)
        return Backing(database_url, await self._redis() if over_redis else None)


@dataclass
class Cluster:
    """Nodes sharing one backend, like app processes behind a load balancer."""

    kind: str
    backing: Backing
    name: str = field(default_factory=lambda: f"t{secrets.token_hex(4)}")
    nodes: list[Node] = field(default_factory=list)

    def channel(self, label: str = "c") -> str:
        return f"{self.name}:{label}"

    @property
    def bus_url(self) -> str:
        if self.backing.redis_url is not None:
            # Our own pub/sub channels, so parallel runs on one Redis do not cross.
            return f"{self.backing.redis_url}?prefix={self.name}"
        return self.backing.database_url or "memory://"

    async def node(self, start: bool = True) -> Node:
        url = self.backing.database_url
        db = None if url is None else await open_database(url)
        bus = await open_bus(self.bus_url, db)
        node = Node(bus, db, Recorder())
        self.nodes.append(node)
        if start:
            await bus.start(node.seen.on_hint, node.seen.on_broadcast, node.seen.on_catch_up)
        return node

    async def close(self) -> None:
        for node in self.nodes:
            await node.bus.close()
            if node.db is not None:
                await node.db.close()


@pytest_asyncio.fixture(scope="session")
async def backings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backings]:
    made = Backings(tmp_path_factory)
    yield made
    for url in made.pg_urls:
        await drop_pg_database(url)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """The backend under test; a test narrows it with @pytest.mark.parametrize("kind", ...)."""
    return str(request.param)


@pytest_asyncio.fixture
async def cluster(kind: str, backings: Backings) -> AsyncIterator[Cluster]:
    made = Cluster(kind, await backings.get(kind))
    yield made
    await made.close()
