"""Sliding-window counters kept in this process (login attempts).

Per process on purpose for now: a node restart forgets them, and with N nodes an attacker gets
N times the allowance. Posting, flagging and editing limits are shared through the database
(forum/pace.py); moving login attempts there too is the next step.
"""

from __future__ import annotations

import math
import time
from collections import deque


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._clock = time.monotonic

    def _window(self, key: str, window: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        cutoff = self._clock() - window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        return hits

    def wait_seconds(self, key: str, limit: int, window: float) -> int:
        """0 if another hit is allowed now, else whole seconds until one is."""
        hits = self._window(key, window)
        if len(hits) < limit:
            return 0
        return max(1, math.ceil(hits[0] + window - self._clock()))

    def hit(self, key: str, window: float) -> None:
        self._window(key, window).append(self._clock())
        if len(self._hits) > 100_000:  # bound memory under a spray of distinct keys
            self._hits = {k: v for k, v in self._hits.items() if v}

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
