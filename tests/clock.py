"""A clock tests move: the wall clock plus an offset that only grows, so a test that needs a
pace window or a slow mode to pass moves time on instead of sleeping, and a shared server's
other tests only ever see time going forward."""

from __future__ import annotations

import time


class MovableClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.offset += seconds
