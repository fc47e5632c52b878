"""Rate limits: sliding windows shared by every process (logins, sign-ups), counted in the
database's `rate_events`, and per-process ones for work that costs this process alone
(composer previews).

Keys are hashed before they are kept, so a 200 KB login name costs what a short one does;
the in-process table is bounded too, so a spray of distinct keys cannot grow memory.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict, deque

from forum.db import Connection


def limit_key(kind: str, value: str) -> str:
    """`kind` plus a digest of `value` (a login name, an address): a fixed size whatever
    was sent, and no personal data kept in the clear."""
    return f"{kind}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


# --- shared: counted in the database ----------------------------------------------------------


async def shared_wait(conn: Connection, key: str, limit: int, window: float, now: float) -> int:
    """0 if another hit of `key` is allowed now, else whole seconds until one is."""
    if limit <= 0:
        return 0
    rows = await conn.fetch_all(
        "SELECT created_at FROM rate_events WHERE key = :k AND created_at > :since"
        " ORDER BY created_at DESC LIMIT :most",
        {"k": key, "since": now - window, "most": limit},
    )
    if len(rows) < limit:
        return 0
    return max(1, math.ceil(float(rows[-1]["created_at"]) + window - now))


# Transaction-scoped advisory locks on PostgreSQL, one per key: "rate" in ASCII in the high
# 32 bits keeps them apart from the pace and migration locks.
_PG_LOCK_PREFIX = 0x72617465 << 32


async def shared_take(
    conn: Connection,
    checks: list[tuple[str, int]],
    record: list[str],
    window: float,
    now: float,
) -> int:
    """Inside a transaction: if any (key, limit) in `checks` is reached, the seconds to wait;
    else count this attempt under every key in `record` and return 0. Checked and counted
    under one lock per key, so a hundred attempts sent at once cannot all pass the check
    before any of them is counted (SQLite's write lock serialises them already)."""
    if conn.dialect == "postgresql":
        for key in sorted({k for k, _ in checks} | set(record)):
            lock = _PG_LOCK_PREFIX + int(hashlib.sha256(key.encode()).hexdigest()[:7], 16)
            await conn.execute("SELECT pg_advisory_xact_lock(:k)", {"k": lock})
    wait = max([await shared_wait(conn, key, limit, window, now) for key, limit in checks] + [0])
    if wait:
        return wait
    for key in record:
        await shared_hit(conn, key, now)
    return 0


async def shared_forget(conn: Connection, key: str, at: float) -> None:
    """Take back the hit counted at `at` (an attempt that turned out well)."""
    await conn.execute(
        "DELETE FROM rate_events WHERE key = :k AND created_at = :at", {"k": key, "at": at}
    )


async def shared_hit(conn: Connection, key: str, now: float) -> None:
    await conn.execute(
        "INSERT INTO rate_events (key, created_at) VALUES (:k, :now)", {"k": key, "now": now}
    )


async def shared_reset(conn: Connection, key: str) -> None:
    await conn.execute("DELETE FROM rate_events WHERE key = :k", {"k": key})


async def trim_rate_events(conn: Connection, older_than: float) -> None:
    """Forget hits older than every window (the longest is a day)."""
    await conn.execute("DELETE FROM rate_events WHERE created_at < :t", {"t": older_than})


# --- per process ------------------------------------------------------------------------------


class RateLimiter:
    """Sliding-window counters in this process. At most `max_keys` keys (the least recently
    used go first) and at most `limit` hits each."""

    def __init__(self, max_keys: int = 50_000) -> None:
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._max_keys = max_keys
        self._clock = time.monotonic

    def _window(self, key: str, window: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            if len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        cutoff = self._clock() - window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    def take(self, key: str, limit: int, window: float) -> int:
        """Count a hit of `key` and return 0, or (at the limit) count nothing and return the
        whole seconds until one is allowed. A limit of 0 is off, as for the shared limits."""
        if limit <= 0:
            return 0
        hits = self._window(key, window)
        if len(hits) >= limit:
            return max(1, math.ceil(hits[-limit] + window - self._clock()))
        hits.append(self._clock())
        return 0
