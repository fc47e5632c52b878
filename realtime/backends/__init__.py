"""Choosing a bus backend by URL, and what the backends share: callback delivery, broadcast
encoding, reconnect backoff.

How the app picks: `await open_bus(settings.bus_url or database_url, db)`.

- No bus URL: the database URL decides, so the default needs no extra service. A SQLite
  database gives SqliteBus (in-process wake-ups plus a ~100 ms poll of the log, so worker
  processes on one file see each other's events); PostgreSQL gives PostgresBus
  (LISTEN/NOTIFY on a dedicated connection). The URL must name the app's own database: the
  log is written in the app's transactions, and a listener elsewhere would hear nothing.
- `redis://` (or `rediss://`) as the bus URL gives RedisBus: wake-ups and broadcasts over
  Redis pub/sub, the log still in `db` (SQLite or PostgreSQL). Redis pub/sub ignores the
  database number, so two forums sharing one Redis need `?prefix=<name>` in the URL.
- `memory://` is for tests and the library's own use: the log lives in this process and
  appends take no transaction (conn None); the app must not run on it.

Presence across processes needs the postgres or redis backend: the sqlite and memory
backends broadcast within one process only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from realtime.bus import Bus, OnBroadcast, OnCatchUp, OnHint
from realtime.log import SqlDatabase

log = logging.getLogger("realtime.bus")

# PostgreSQL caps a NOTIFY payload at 8,000 bytes; every backend keeps the same lower limit so
# code tested on one backend cannot start failing on another.
MAX_BROADCAST_BYTES = 7000


@dataclass(frozen=True, slots=True)
class Callbacks:
    """The node's callbacks given to `Bus.start`, each call isolated: a consumer that raises is
    logged, and never stops a listener loop or a poller, nor undoes a committed append."""

    on_hint: OnHint
    on_broadcast: OnBroadcast
    on_catch_up: OnCatchUp

    def hint(self, channel: str, event_id: int) -> None:
        try:
            self.on_hint(channel, event_id)
        except Exception:
            log.exception("on_hint(%r, %d) failed", channel, event_id)

    def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        try:
            self.on_broadcast(topic, payload)
        except Exception:
            log.exception("on_broadcast(%r) failed", topic)

    def catch_up(self) -> None:
        try:
            self.on_catch_up()
        except Exception:
            log.exception("on_catch_up() failed")


def encode_broadcast(topic: str, payload: dict[str, Any]) -> str:
    """The wire text of a broadcast; ValueError past MAX_BROADCAST_BYTES (never truncated)."""
    text = json.dumps({"topic": topic, "payload": payload}, separators=(",", ":"))
    if len(text.encode()) > MAX_BROADCAST_BYTES:
        raise ValueError(
            f"a broadcast is at most {MAX_BROADCAST_BYTES} bytes of JSON; this one is"
            f" {len(text.encode())}: send an id and keep the data in the log"
        )
    return text


def decode_broadcast(text: str) -> tuple[str, dict[str, Any]]:
    message = json.loads(text)
    return str(message["topic"]), dict(message["payload"])


def decode_hint(text: str) -> tuple[str, int]:
    """A hint travels as "<channel> <id>"; the id is last, so a channel may hold spaces."""
    channel, _, event_id = text.rpartition(" ")
    return channel, int(event_id)


def backoff_delay(attempt: int, base: float = 0.1, cap: float = 30.0) -> float:
    """Seconds to wait before reconnect attempt `attempt` (0 first): exponential, capped, with
    half of it random, so nodes that lost the same server do not all return at once."""
    ceiling = min(cap, base * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def spawn(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """Start a backend's background task (listener, poller). Such a task only ends when
    cancelled; if a bug ends it sooner, say so loudly, since the node stops hearing hints."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(_report_end)
    return task


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error(
            "%s stopped: this node hears no more hints", task.get_name(), exc_info=task.exception()
        )


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a backend's background task and wait until its cleanup has run."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the caller itself is being cancelled: that must go through
    except Exception:
        pass  # already reported by _report_end when it happened


# --- open_bus: scheme -> factory ------------------------------------------------------------
# Backend modules are imported by their factory, so a node on SQLite never imports asyncpg's
# listener code or redis.


def _needs_db(db: SqlDatabase | None, scheme: str) -> SqlDatabase:
    if db is None:
        raise ValueError(f"the {scheme or 'sqlite'} bus keeps its log in the database: pass it")
    return db


async def _memory(url: str, db: SqlDatabase | None) -> Bus:
    from realtime.backends.memory import MemoryBus

    return MemoryBus()


async def _sqlite(url: str, db: SqlDatabase | None) -> Bus:
    from realtime.backends.sqlite import SqliteBus

    return SqliteBus(_needs_db(db, "sqlite"))


async def _postgres(url: str, db: SqlDatabase | None) -> Bus:
    from realtime.backends.postgres import PostgresBus

    return PostgresBus(_needs_db(db, "postgresql"), url)


async def _redis(url: str, db: SqlDatabase | None) -> Bus:
    from realtime.backends.redis import RedisBus

    return RedisBus(_needs_db(db, "redis"), url)


BusFactory = Callable[[str, SqlDatabase | None], Awaitable[Bus]]

BACKENDS: dict[str, BusFactory] = {
    "memory": _memory,
    "": _sqlite,  # no URL at all: the embedded default
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
    "redis": _redis,
    "rediss": _redis,
}


async def open_bus(url: str, db: SqlDatabase | None) -> Bus:
    """The bus a URL names, not yet started; an unknown scheme is a ValueError, never a default.

    `db` is the app's database (the log lives there); only memory:// may go without one. A
    backend whose log dialect does not match `db` raises ValueError too.
    """
    scheme = url.split(":", 1)[0].lower()
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(BACKENDS) if s)
        # The URL itself is not echoed: it may carry a password.
        raise ValueError(f"unknown bus scheme {scheme!r}: use one of {known}")
    return await factory(url, db)
